"""The knowledge base as the page shows it: documents and their status, a cited passage with
its neighbours, the original files (from kb/ only), uploads into kb/: each only as far as
the caller may read (users.py)."""

from __future__ import annotations

import errno
import os
import shutil
import unicodedata
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Blueprint, abort, jsonify, request, send_from_directory

from appliance.documents import SUPPORTED_SUFFIXES
from appliance.documents.text_decoding import sample_encoding
from appliance.errors import BadQuestion
from appliance.sync.manifest import INDEXED, PENDING, Entry, summary
from appliance.sync.reconcile import is_ignored
from appliance.users import Caller
from appliance.web.errors import Forbidden, ready_parts, runtime
from appliance.web.identity import caller, denied

if TYPE_CHECKING:
    from appliance.app import Parts

library = Blueprint("library", __name__)
UPLOAD_FOLDER = "uploads"
MAX_CHUNK = 10**7


@library.get("/api/documents")
def documents():
    """The files of kb/ the caller may read, with their status, totals and indexing state."""
    parts = runtime().parts
    who = caller()
    entries = [e for e in parts.manifest.entries() if who.may_read(e.path)]
    counted = totals(parts, who, entries)
    return jsonify(
        documents=[
            {
                "path": e.path,
                "status": e.status,
                "chunks": e.chunks,
                "error": e.error,
                "code": e.code,
                "size": e.size,
                "indexed_at": e.indexed_at,
            }
            for e in entries
        ],
        totals=counted,
        summary=summary(counted),
        chunks=sum(e.chunks for e in entries if e.status == INDEXED),
        indexing=indexing(parts, who, counted),
    )


def totals(parts: Parts, who: Caller, entries: list[Entry] | None = None) -> dict[str, int]:
    """Files per status, of those `who` may read only: no count says what else exists."""
    if who.folders is None:
        return parts.manifest.totals()
    if entries is None:
        entries = [e for e in parts.manifest.entries() if who.may_read(e.path)]
    return dict(Counter(e.status for e in entries))


def indexing(parts: Parts, who: Caller, counted: dict[str, int]) -> dict:
    """What the sync worker is doing, as far as `who` may know: a restricted caller sees
    only their own files waiting (`counted`: their totals), and the file being read only
    when it is theirs."""
    worker = parts.worker
    current = worker.current if worker.current and who.may_read(worker.current["path"]) else None
    if who.folders is None:
        done, total = worker.scan_progress
        return {"done": done, "total": total, "waiting": worker.pending(), "current": current}
    waiting = counted.get(PENDING, 0)
    return {"done": 0, "total": 0, "waiting": waiting, "current": current}


@library.get("/api/passage")
def passage():
    """A passage and its neighbours (`around` on each side), for the page's source panel."""
    source = request.args.get("source", "")
    chunk = request.args.get("chunk", type=int)
    around = min(request.args.get("around", 1, type=int), 5)
    if not source or chunk is None or not 0 <= chunk < MAX_CHUNK:
        raise BadQuestion(f"give source (a kb/ path) and chunk (a number from 0 to {MAX_CHUNK})")
    parts = ready_parts()
    wanted = range(max(0, chunk - around), chunk + around + 1)
    found = parts.index.passages(source, list(wanted)) if _readable(source) else []
    if not any(p.chunk == chunk for p in found):
        abort(404, description=f"{source} has no passage {chunk} (re-indexed since?)")
    return jsonify(
        source=source,
        chunk=chunk,
        file_url=f"/files/{source}",
        passages=[
            {
                "chunk": p.chunk,
                "page": p.page,
                "heading": p.heading,
                "text": p.text,
                "ocr": p.ocr,
                "cited": p.chunk == chunk,
            }
            for p in found
        ],
    )


@library.get("/files/<path:rel>")
def original(rel: str):
    """An indexed original from kb/. Only files the manifest lists as indexed are served,
    so hidden, ignored and other paths stay private; send_from_directory refuses any path
    outside kb/. Served sandboxed: an HTML document cannot run scripts in our origin."""
    parts = runtime().parts
    entry = parts.manifest.get(rel)
    kb = parts.settings.paths.kb.resolve()
    if (
        not _readable(rel)
        or entry is None
        or entry.status != INDEXED
        or not (kb / rel).resolve().is_relative_to(kb)  # a symlink out of kb/
    ):
        abort(404, description=f"{rel} is not an indexed document")
    response = send_from_directory(parts.settings.paths.kb, rel)
    if response.mimetype in PLAIN_TEXT:  # as it was read, not as UTF-8 (a GBK .txt)
        response.content_type = f"{response.mimetype}; charset={_charset(kb / rel)}"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


PLAIN_TEXT = frozenset({"text/plain", "text/markdown", "text/csv"})
# Python's codec names as browsers know them (WHATWG labels)
_WEB_CHARSETS = {
    "utf-8-sig": "utf-8",
    "cp1252": "windows-1252",
    "latin-1": "iso-8859-1",
    "cp932": "shift_jis",
}


def _charset(path: Path) -> str:
    encoding, _ = sample_encoding(path)
    return _WEB_CHARSETS.get(encoding, encoding)


@library.post("/api/upload")
def upload():
    """Files dropped on the page go to kb/uploads/, where the watcher picks them up."""
    parts = runtime().parts
    settings = parts.settings
    if not settings.server.uploads:
        raise Forbidden("uploads are disabled (server.uploads: false)", "uploads_off")
    if not caller().may_enter(UPLOAD_FOLDER):
        denied("upload into a folder not granted", f"{UPLOAD_FOLDER}/")
        raise Forbidden(
            f"uploads go to kb/{UPLOAD_FOLDER}/, which you are not granted "
            f"(appliance users grant NAME {UPLOAD_FOLDER})",
            "upload_not_granted",
        )
    if unavailable := parts.worker.kb_unavailable():
        raise KbUnavailable(f"uploads wait until kb/ is back: {unavailable}", "kb_unavailable")
    request.max_content_length = int(settings.server.max_upload_mb * 1024 * 1024)
    folder = settings.paths.kb / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    _check_room(folder, request.content_length or 0, settings.limits.min_free_mb)
    files = request.files.getlist("file")
    if not files:
        raise BadQuestion('send the files as multipart/form-data fields named "file"')
    names = [upload_name(item.filename or "", settings.watcher.ignore) for item in files]
    for name in names:
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise UploadRefused(
                f"{name!r} would never be searchable: {Path(name).suffix or 'no extension'} "
                f"files are not indexed (indexed: {', '.join(sorted(SUPPORTED_SUFFIXES))})",
                "unsupported_type",
                name,
            )
    saved = [
        f"{UPLOAD_FOLDER}/{_write(folder, name, item.stream)}"
        for name, item in zip(names, files, strict=True)
    ]
    return jsonify(saved=saved), 201


def _readable(path: str) -> bool:
    """Whether the caller may read this kb/ file; a refusal is logged, and the caller is
    told only what they would be told of a file that does not exist."""
    if caller().may_read(path):
        return True
    denied("a file outside the granted folders", path)
    return False


MAX_NAME_BYTES = 200  # of 255 a Linux name may have: room for " (2)" and ".<name>.part"
_NOT_IN_NAMES = set('/\\<>:"|?*')


def upload_name(given: str, ignore: tuple[str, ...]) -> str:
    """The name an upload is saved under: the browser's name without any folder part,
    control or reserved characters, in any script (年假.txt stays 年假.txt), cut to fit."""
    name = unicodedata.normalize("NFC", given).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in _NOT_IN_NAMES)
    name = name.strip().lstrip(".").strip()
    stem, suffix = os.path.splitext(name)
    if len(suffix.encode()) > 16:  # not a real extension
        stem, suffix = name, ""
    while len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    name = stem.rstrip() + suffix
    if not stem.strip():
        raise UploadRefused(
            f"{given[:100]!r} is not a usable file name", "name_unusable", given[:100]
        )
    if is_ignored(name, ignore):
        raise UploadRefused(
            f"{name!r} matches watcher.ignore (temporary and hidden files are never "
            "indexed); rename it",
            "name_ignored",
            name,
        )
    return name


class UploadRefused(BadQuestion):
    """An upload refused for one of its files, which the page names in its message."""

    def __init__(self, message: str, code: str, name: str):
        super().__init__(message, code)
        self.name = name


def _check_room(folder: Path, incoming: int, min_free_mb: float) -> None:
    free = shutil.disk_usage(folder).free
    if free - incoming < min_free_mb * 2**20:
        raise InsufficientStorage(
            f"not enough free space in kb/ for this upload ({free / 2**20:.0f} MB free, "
            f"{min_free_mb:,.0f} MB are kept free: limits.min_free_mb)",
            "no_room",
        )


class InsufficientStorage(BadQuestion):
    status = 507


class KbUnavailable(BadQuestion):
    status = 503


def _write(folder: Path, name: str, stream) -> str:
    """Write beside the target under an ignored name of its own, then give it its name: the
    watcher never sees a half-written upload. An existing file of the same name is kept (the
    new one is renamed), also when two uploads of one name arrive at once."""
    partial = folder / f".{name}.{uuid.uuid4().hex[:8]}.part"
    try:
        with partial.open("xb") as out:
            while block := stream.read(1 << 20):
                out.write(block)
    except OSError as err:
        partial.unlink(missing_ok=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("kb/ ran out of space during the upload", "no_room") from None
        raise
    try:
        return _name_it(partial, folder, name)
    finally:
        partial.unlink(missing_ok=True)


def _name_it(partial: Path, folder: Path, name: str) -> str:
    """Give the written file `name`, or "name (n)" if that is taken: a hard link, which
    fails rather than replace a file made meanwhile (a rename would replace it)."""
    stem, suffix = os.path.splitext(name)
    target, n = folder / name, 1
    while True:
        try:
            os.link(partial, target)
            return target.name
        except FileExistsError:
            target, n = folder / f"{stem} ({n}){suffix}", n + 1
        except OSError:  # a file system without hard links: taken names checked, then moved
            while target.exists():
                target, n = folder / f"{stem} ({n}){suffix}", n + 1
            os.replace(partial, target)
            return target.name
