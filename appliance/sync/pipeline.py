"""One file of kb/ → its chunks in the index and its row in the manifest.

The order of writes is what makes a crash harmless and an update gapless:
1. the new version's chunks are stored (searches still return the old version),
2. the manifest row names the new version, and the index publishes it,
3. the old version's chunks are removed.
A crash between any two steps leaves a state the next reconcile repairs (reconcile.py).
A chunk whose text was embedded before (a renamed, copied or partly edited file, or a
crashed attempt) reuses its stored vector instead of being embedded again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import threading
import time
from array import array
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path

from appliance.config import Settings
from appliance.documents import (
    SUPPORTED_SUFFIXES,
    Chunk,
    DocumentError,
    Section,
    chunk_sections,
    ocr,
)
from appliance.documents.isolated import (
    IsolatedReader,
    ReaderStopped,
    ReadLimits,
    ReadMemory,
    ReadTimeout,
    TooMuchText,
)
from appliance.documents.readers import SCANNED_SUFFIXES
from appliance.index.store import MULTILINGUAL, IndexedChunk, VectorStore
from appliance.models import sha256_of
from appliance.sync import manifest as m
from appliance.sync.ocr_pages import OcrPage, OcrPages

log = logging.getLogger("appliance.sync")

CHUNKER_VERSION = 5  # 2: chunks keep their line breaks; 3: sized in the embedder's tokens;
# 4: PDF pages cut at their outline's headings, under them; a ligature's letters kept together;
# running heads and feet left out; 5: a table row is never cut apart, nor a window begun in it
LANGUAGE_SAMPLE = 8  # a document's language is read from its first chunks
SPARSE_VERSION = 5  # 2: identifiers are terms of their own; 3: cut as the text's language;
# 4: Japanese cut apart from the Latin letters around it; 5: each chunk keeps its language


def embedding_version(settings: Settings) -> str:
    """Changes when the same text would be embedded to other vectors."""
    second = settings.multilingual_embedder
    return "+".join(
        f"emb:{e.model_dir}/{e.model_file}:{e.format}:{e.dim}:{e.pooling}:{e.normalize}"
        f":{e.max_tokens}"
        f":{e.document_prefix!r}"
        for e in [settings.embedder, *([second[0]] if second else [])]
    )


def pipeline_version(settings: Settings) -> str:
    """Changes when a file indexed earlier would now be chunked or embedded differently."""
    r = settings.retrieval
    return (
        f"{embedding_version(settings)}"
        f"|chunk:v{CHUNKER_VERSION}:{r.chunk_tokens}/{r.chunk_overlap_tokens}"
        f"|context:{r.embed_context}|sparse:v{SPARSE_VERSION}"
        f"|ocr:{settings.ocr.enabled and settings.ocr.languages}"
    )


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int


SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))
UNREADABLE = FileState(-1, -1)  # stat() itself failed: a symlink loop, no permission


def stat_file(path: Path) -> FileState | None:
    """None when the path is gone; UNREADABLE when it is there but cannot be looked at."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None if not path.is_symlink() else UNREADABLE
    except OSError:
        return UNREADABLE
    return FileState(st.st_size, st.st_mtime_ns)


def manifest_key(rel: str) -> str:
    """The name a kb/ path is known by in the manifest, the index and the logs. Linux file
    names are bytes; one that is not UTF-8 (copied from an old Windows share) reaches Python
    with surrogate escapes, which SQLite and JSON refuse, so its bad bytes are spelled `\\xe9`."""
    try:
        rel.encode()
    except UnicodeEncodeError:
        return rel.encode(errors="surrogateescape").decode(errors="backslashreplace")
    return rel


def kb_path(kb: Path, key: str) -> Path:
    """The file a manifest key names (the inverse of `manifest_key`)."""
    path = kb / key
    if "\\x" in key and not path.exists() and not path.is_symlink():
        raw = re.sub(r"\\x([89a-f][0-9a-f])", lambda m: chr(0xDC00 + int(m[1], 16)), key)
        return kb / raw
    return path


EMBED_BATCH = 32  # chunks embedded between progress reports and checks for a stop
# A file embedded this long (and at least as long as its reading took) makes way for smaller
# files waiting: a manual of 10,000 passages takes 15 minutes on 2 cores
SET_ASIDE_AFTER_S = 5.0
OCR_STEP_S = 15.0  # OCR of one file starts no new page after this; other files go next
# The codes of a file some scanned pages of which were not read: OCR cannot run here, or it
# failed on those pages (or they are past ocr.max_pages).
OCR_MISSING, OCR_PAGES_FAILED = "ocr_missing", "ocr_pages_failed"


class FileChanged(Exception):
    """The file changed (or went) while it was read or embedded: look again once it
    settles."""


class OcrUnderWay(Exception):
    """Some of the file's scanned pages are read (and kept), others wait: the file comes back
    after the other files waiting, and goes on where it stopped."""

    def __init__(self, rel: str, done: int, total: int):
        super().__init__(f"{rel}: {done} of {total} scanned pages read")
        self.done, self.total = done, total


class SetAside(Exception):
    """Smaller files are waiting: the file being embedded makes way for them, and goes on
    where it stopped when its turn comes again (the passages embedded so far are kept)."""

    def __init__(self, rel: str, vectors: list[tuple], done: int, total: int):
        super().__init__(f"{rel}: {done} of {total} passages embedded")
        self.vectors = vectors


class NotNow(Exception):
    """The file is gone, but not to be forgotten now: kb/ itself went (moved, unmounted;
    the worker pauses), or a file of its size has just arrived (it may be this one, moved:
    its vectors are reused before the old name is forgotten). It is back in the line."""


class Cancelled(Exception):
    """The worker is stopping: the file is left as it was, to be done after the restart."""


def read_limits(settings: Settings) -> ReadLimits:
    limits = settings.limits
    return ReadLimits(limits.read_timeout_s, limits.read_memory_mb, limits.max_file_chars)


class Skip(Exception):
    """A file that gets a status other than indexed, with the reason and its code."""

    def __init__(self, status: str, reason: str, code: str):
        super().__init__(reason)
        self.status = status
        self.code = code


class Pipeline:
    """Brings one kb/ path up to date in the index and the manifest. One caller at a time."""

    def __init__(
        self,
        settings: Settings,
        manifest: m.Manifest,
        index: VectorStore,
        embedder,
        reader: IsolatedReader | None = None,
    ):
        self.kb = settings.paths.kb
        self.settings = settings
        self.version = pipeline_version(settings)
        self.embedding = embedding_version(settings)
        self.manifest = manifest
        self.index = index
        self.embedder = embedder
        self.reader = reader or IsolatedReader(read_limits(settings))
        self._ocr_pages: OcrPages | None = None
        self._ocr_reading: set[str] = set()  # contents of scans partly read by OCR
        self.ocr_missing = ""  # why OCR cannot run here, if it cannot (see check_ocr)
        self.check_ocr()
        self.on_result: Callable[[str], None] = lambda status: None  # metrics hook
        # (path, chunks embedded, chunks to embed) while a file is being embedded
        self.on_progress: Callable[[str, int, int], None] = lambda rel, done, total: None
        # (path being embedded, its size) → whether a smaller file waits (SetAside)
        self.smaller_waiting: Callable[[str, int], bool] = lambda rel, size: False
        # (path gone) → whether it waits, back in line, for a file of its size just arrived
        self.held_for_arrival: Callable[[str], bool] = lambda rel: False
        # the vectors of files set aside, by path and text hash, packed as float32
        self._set_aside: dict[str, dict[str, tuple]] = {}
        self._links: dict[str, str] = {}  # an indexed link in kb/ → the kb/ file it leads to
        self._stop = threading.Event()
        for entry in manifest.entries():
            if entry.status == m.INDEXED:
                index.publish(entry.path, entry.sha256)

    def describes(self, entry: m.Entry | None, state: FileState) -> bool:
        """True when the manifest entry describes the file as it is on disk now (and it is
        not a scan left unread for want of OCR, which is here now)."""
        return (
            entry is not None
            and entry.status in m.SETTLED
            and (entry.size, entry.mtime_ns) == (state.size, state.mtime_ns)
            and entry.version == self.version
            and not self._ocr_arrived(entry)
        )

    def _ocr_arrived(self, entry: m.Entry) -> bool:
        """The file's scanned pages were left unread for want of OCR, which can run now."""
        return entry.code == OCR_MISSING and not self.ocr_missing

    def check_ocr(self) -> None:
        """Look again whether OCR can run (before each full sync: it may have been installed)."""
        o = self.settings.ocr
        self.ocr_missing = ocr.problem(o.languages) if o.enabled else ""

    def prune_ocr_pages(self) -> None:
        """Forget the OCR pages of contents no file in kb/ has any more (after a full sync)."""
        if self._ocr_pages is None and not self._ocr_pages_path().exists():
            return
        keep = {e.sha256 for e in self.manifest.entries() if e.sha256} | self._ocr_reading
        self.ocr_pages.keep_only(keep)

    def _ocr_pages_path(self) -> Path:
        return self.settings.paths.data / "ocr_pages.sqlite3"

    @property
    def ocr_pages(self) -> OcrPages:
        if self._ocr_pages is None:
            self._ocr_pages = OcrPages(self._ocr_pages_path())
        return self._ocr_pages

    def path(self, rel: str) -> Path:
        return kb_path(self.kb, rel)

    def is_quick(self, rel: str) -> bool:
        """True when updating `rel` needs no reading: it is gone, or it gets a status other
        than indexed from its name and size alone (unsupported, too large, empty, ...)."""
        path = self.path(rel)
        state = stat_file(path)
        if state is None:
            return True
        try:
            self._check_indexable(rel, path, state)
        except Skip:
            return True
        except OSError:
            return True
        return False

    def stop(self) -> None:
        """Abandon the file being read or embedded (it raises Cancelled) and stop reading."""
        self._stop.set()
        self.reader.stop()

    def close(self) -> None:
        self.reader.close()
        if self._ocr_pages is not None:
            self._ocr_pages.close()

    def update(self, rel: str) -> m.Entry | None:
        """Index, re-index or forget `rel`; returns its new manifest entry (None if gone).
        Raises FileChanged when the file changed while it was read, Cancelled on stop()."""
        path = self.path(rel)
        state = stat_file(path)
        if state is None:
            # Gone since the worker looked: kb/ itself went, or the file was moved just now.
            if not os.path.isdir(self.kb) or self.held_for_arrival(rel):
                raise NotNow(rel)
            self.forget(rel)
            return None
        self.note_link(rel)
        previous = self.manifest.get(rel)
        try:
            entry = self._index(rel, path, state, previous)
        except (OcrUnderWay, SetAside):
            self.manifest.mark_pending(rel, state.size, state.mtime_ns)  # listed while read
            raise
        except Skip as skip:
            self._set_aside.pop(rel, None)
            self._unpublish(rel)
            entry = m.Entry(
                rel,
                state.size,
                state.mtime_ns,
                "",
                skip.status,
                str(skip),
                0,
                None,
                self.version,
                skip.code,
            )
            self.manifest.put(entry)
        self.on_result(entry.status)
        log.info(
            entry.status,
            extra={
                "event": "document",
                "path": rel,
                "status": entry.status,
                "chunks": entry.chunks,
                "error": entry.error,
            },
        )
        return entry

    def note_link(self, rel: str) -> None:
        """Remember where `rel` leads when it is a link to another file of kb/: a change to
        that file is reported under the file's name only, and the link is read again too."""
        path = self.path(rel)
        real = Path(os.path.realpath(path)) if path.is_symlink() else None
        kb = Path(os.path.realpath(self.kb))
        if real is not None and real.is_relative_to(kb):
            self._links[rel] = manifest_key(real.relative_to(kb).as_posix())
        else:
            self._links.pop(rel, None)

    def links_to(self, rels: Collection[str]) -> list[str]:
        """The links in kb/ that lead to any of `rels` (called from the watcher's thread)."""
        return [link for link, target in list(self._links.items()) if target in rels]

    def forget(self, rel: str) -> None:
        """The file is gone: its chunks first, then its manifest row."""
        self._links.pop(rel, None)
        self._set_aside.pop(rel, None)
        self._unpublish(rel)
        if self.manifest.get(rel) is not None:
            self.manifest.remove(rel)
            self.on_result("removed")
            log.info("removed", extra={"event": "document", "path": rel, "status": "removed"})

    def _unpublish(self, rel: str) -> None:
        self.index.delete_document(rel)
        self.index.flush()
        self.index.publish(rel, None)

    def _index(self, rel: str, path: Path, state: FileState, previous: m.Entry | None):
        self._check_indexable(rel, path, state)
        try:
            sha = sha256_of(path)
        except OSError as err:
            reason = f"{rel} could not be opened: {err.strerror or err}"
            raise Skip(m.FAILED, reason, "cannot_open") from None
        if (
            previous
            and previous.status == m.INDEXED
            and (previous.sha256, previous.version) == (sha, self.version)
            and self.index.count(rel) == previous.chunks
            and not self._ocr_arrived(previous)
        ):
            return self._keep(previous, state)  # touched, not changed
        started = time.monotonic()
        sections, notes, code = self._read(rel, path, sha)
        read_s = time.monotonic() - started
        if stat_file(path) != state:  # still being written: what was read is not the file
            raise FileChanged(rel)
        chunks = self._chunk(rel, sections)
        if not chunks:
            if notes:
                raise Skip(m.FAILED, notes, code)
            raise Skip(m.FAILED, self._no_text(path), "no_text")
        points = self._embed(rel, state, sha, chunks, read_s)
        self.index.upsert(points)
        self.index.flush()  # durable before the manifest names this version
        entry = m.Entry(
            rel,
            state.size,
            state.mtime_ns,
            sha,
            m.INDEXED,
            notes,
            len(chunks),
            time.time(),
            self.version,
            code,
        )
        self.manifest.put(entry)
        self.index.publish(rel, sha)
        # Not flushed: if this delete is lost, reconcile sees the extra chunks and removes them.
        # The other versions, and this one's chunks past its end: the same file chunked
        # before into more pieces (a smaller chunk_tokens) left them under the same version.
        self.index.delete_document(rel, keep_hash=sha, keep_chunks=len(chunks))
        return entry

    def _keep(self, previous: m.Entry, state: FileState) -> m.Entry:
        entry = replace(previous, size=state.size, mtime_ns=state.mtime_ns)
        self.manifest.put(entry)
        return entry

    def outside(self, path: Path) -> str:
        """Why the file `path` really is must not be read ("" when it may): a link, or a
        folder on its way, that leads out of kb/ (and the folders in watcher.allow_outside),
        into /proc, /sys or /dev, or into another folder of kb/ (_across_folders)."""
        real = Path(os.path.realpath(path))
        if any(real.is_relative_to(root) for root in SYSTEM_ROOTS):
            return f"{path.name} is a link to a system file (/proc, /sys, /dev): never read"
        kb = Path(os.path.realpath(self.kb))
        if real.is_relative_to(kb):
            return _across_folders(path.relative_to(self.kb), real.relative_to(kb))
        roots = map(Path, self.settings.watcher.allow_outside)
        if any(real.is_relative_to(os.path.realpath(root)) for root in roots):
            return ""
        return (
            f"{path.name} is a link to a file outside kb/: not read, so that a link in a shared "
            "folder cannot expose other files (an operator can allow a folder: "
            "watcher.allow_outside)"
        )

    def _check_indexable(self, rel: str, path: Path, state: FileState) -> None:
        if manifest_key(str(path)) != str(path):
            raise Skip(
                m.FAILED,
                f"the file name '{Path(rel).name}' is not valid UTF-8 (bad bytes shown as \\xNN); "
                "rename it",
                "bad_name",
            )
        reason = self.outside(path)
        if reason:
            raise Skip(m.FAILED, reason, "link_outside")
        if state == UNREADABLE:
            raise Skip(
                m.FAILED,
                f"{path.name} cannot be opened (a broken or looping symlink, or no permission)",
                "cannot_open",
            )
        if not stat.S_ISREG(path.stat().st_mode):
            raise Skip(m.UNSUPPORTED, f"{path.name} is not a regular file", "not_a_file")
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            kind = path.suffix.lower() or "a file without an extension"
            reason = f"{kind} is not a supported format (supported: {supported})"
            raise Skip(m.UNSUPPORTED, reason, "unsupported_format")
        limit_mb = self.settings.limits.max_file_mb
        if state.size > limit_mb * 1024 * 1024:
            raise Skip(
                m.TOO_LARGE,
                f"{state.size / 2**20:.1f} MB is over limits.max_file_mb ({limit_mb:g} MB)",
                "too_large",
            )
        if state.size == 0:
            raise Skip(m.FAILED, f"{path.name} is empty (0 bytes)", "empty_file")

    def _read(self, rel: str, path: Path, sha: str) -> tuple[list[Section], str, str]:
        """The file's sections, and a note on what of it could not be read with its code ("",
        "" for none). Scanned pages are read by OCR a step at a time (OcrUnderWay until all
        are)."""
        o = self.settings.ocr
        job = None
        if o.enabled and path.suffix.lower() in SCANNED_SUFFIXES:
            options = ocr.OcrOptions(o.languages, o.page_timeout_s, o.max_pages, o.dpi)
            known = self.ocr_pages.pages(sha, o.languages)
            job = ocr.OcrJob(options, frozenset(known), OCR_STEP_S)
        try:
            sections = self.reader.read(path, job)
        except ReaderStopped:
            raise Cancelled(rel) from None
        except TooMuchText as err:
            raise Skip(m.TOO_LARGE, str(err), "too_much_text") from None
        except ReadTimeout as err:
            raise Skip(m.FAILED, str(err), "read_timeout") from None
        except ReadMemory as err:
            raise Skip(m.FAILED, str(err), "read_memory") from None
        except DocumentError as err:
            raise Skip(m.FAILED, str(err), "unreadable") from None
        if job is None:
            return sections, "", ""
        return self._with_ocr_pages(rel, sha, sections, job)

    def _with_ocr_pages(
        self, rel: str, sha: str, sections: list[Section], job: ocr.OcrJob
    ) -> tuple[list[Section], str, str]:
        """Keep the pages OCR read in this step; once none is pending, the file's text-layer
        sections with every page OCR read, in page order, and what OCR could not read."""
        languages = job.options.languages
        read = [OcrPage(s.page, s.text, "") for s in sections if s.ocr]
        failed = [OcrPage(page, "", reason) for page, reason in job.failed.items()]
        self.ocr_pages.keep(sha, languages, read + failed)
        total = job.pages - len(job.beyond)
        if job.pending:
            self._ocr_reading.add(sha)
            raise OcrUnderWay(rel, total - len(job.pending), total)
        self._ocr_reading.discard(sha)
        pages = self.ocr_pages.pages(sha, languages)
        scanned = [Section(p.text, p.page, "", ocr=True) for p in pages.values() if p.text]
        sections = [s for s in sections if not s.ocr] + scanned
        failed = sorted(p.page for p in pages.values() if p.failed)
        notes = [f"page {page}: {pages[page].failed}" for page in failed]
        if job.beyond:
            notes.append(
                f"pages {job.beyond[0]}–{job.beyond[-1]} were not read: only the first "
                f"{job.options.max_pages} scanned pages of a file are (ocr.max_pages)"
            )
        code = OCR_PAGES_FAILED if notes else ""
        if job.missing:
            unread = "1 scanned page was" if job.pages == 1 else f"{job.pages} scanned pages were"
            notes.append(f"{unread} not read. {job.missing}")
            code = OCR_MISSING
        return sorted(sections, key=lambda s: s.page or 0), "; ".join(notes), code

    def _no_text(self, path: Path) -> str:
        if path.suffix.lower() != ".pdf":
            return f"no text could be extracted from {path.name}"
        if not self.settings.ocr.enabled:
            return (
                f"no text could be extracted from {path.name} (a scanned PDF? OCR is off: "
                "ocr.enabled)"
            )
        return f"no text was found in {path.name}, in its text layer or by OCR"

    def _chunk(self, rel: str, sections: list[Section]) -> list[Chunk]:
        r = self.settings.retrieval
        try:
            return chunk_sections(
                sections, rel, r.chunk_tokens, r.chunk_overlap_tokens, self.embedder.count_tokens
            )
        except Exception as err:  # a chunker bug must not stop the worker: report it
            log.exception("chunking failed on %s", rel)
            reason = f"{rel} could not be split into passages: {err}"
            raise Skip(m.FAILED, reason, "split_failed") from None

    def _embed(self, rel, state, sha, chunks, read_s=0.0) -> list[IndexedChunk]:
        title = _title(chunks)
        texts = [self._embedded_text(title, c) for c in chunks]
        text_hashes = [self._text_hash(t) for t in texts]
        wanted = set(text_hashes)
        kept = {h: v for h, v in self._set_aside.pop(rel, {}).items() if h in wanted}
        known = {h: _unpacked(v) for h, v in kept.items()} | self._stored_vectors(text_hashes)
        missing = {h: t for t, h in zip(texts, text_hashes, strict=True) if h not in known}
        try:
            fresh = self._embed_missing(rel, list(missing.values()), state, read_s, len(kept))
        except SetAside as aside:
            done = zip(missing, map(_packed, aside.vectors), strict=False)
            self._set_aside[rel] = kept | dict(done)
            raise
        known |= zip(missing, fresh, strict=True)
        language = self.embedder.language_of("\n".join(c.text for c in chunks[:LANGUAGE_SAMPLE]))
        modified = state.mtime_ns / 1e9
        indexed = []
        for c, t, h in zip(chunks, texts, text_hashes, strict=True):
            dense, multilingual = known[h]
            own = self.embedder.language_of(t, language)  # a chunk too short to tell: its file's
            sparse = self.embedder.sparse_document(t, own)
            indexed.append(
                IndexedChunk(
                    rel,
                    title or Path(rel).stem,
                    modified,
                    sha,
                    h,
                    c.index,
                    c.page,
                    c.heading,
                    c.text,
                    dense,
                    sparse,
                    c.ocr,
                    multilingual,
                    own or "",
                )
            )
        return indexed

    def _stored_vectors(self, text_hashes: list[str]) -> dict[str, tuple]:
        """The dense vectors (the embedder's, the multilingual one's or None) the index
        already holds for these texts, so a renamed, copied or partly edited document is not
        embedded again."""
        dense = self.index.dense_vectors(text_hashes)
        if not self.embedder.multilingual_dim:
            return {h: (v, None) for h, v in dense.items()}
        second = self.index.dense_vectors(text_hashes, MULTILINGUAL)
        return {h: (v, second[h]) for h, v in dense.items() if h in second}

    def _embed_missing(
        self, rel: str, texts: list[str], state: FileState, read_s: float, carried: int = 0
    ) -> list[tuple]:
        """Embed in batches, reporting progress, stopping early on stop(), giving up when
        the file is deleted or changed meanwhile (a big file takes minutes: its deletion is
        seen at once, its new content read once it settles), and making way for smaller
        files waiting (SetAside, after SET_ASIDE_AFTER_S and no sooner than its reading
        took, so that reading it again costs at most half the time; its progress counts the
        `carried` passages embedded before): each text's dense vector and its multilingual
        one (None without a multilingual embedder)."""
        vectors: list[tuple] = []
        started = time.monotonic()
        for start in range(0, len(texts), EMBED_BATCH):
            self.on_progress(rel, carried + start, carried + len(texts))
            if self._stop.is_set():
                raise Cancelled(rel)
            if start and stat_file(self.path(rel)) != state:
                raise FileChanged(rel)
            embedding_s = time.monotonic() - started
            if (
                start
                and embedding_s >= max(SET_ASIDE_AFTER_S, read_s)
                and self.smaller_waiting(rel, state.size)
            ):
                raise SetAside(rel, vectors, carried + start, carried + len(texts))
            batch = texts[start : start + EMBED_BATCH]
            dense = self.embedder.embed_documents(batch)
            second = self.embedder.embed_multilingual_documents(batch) or [None] * len(batch)
            vectors += zip(dense, second, strict=True)
        self.on_progress(rel, carried + len(texts), carried + len(texts))
        return vectors

    def _embedded_text(self, title: str, c: Chunk) -> str:
        """The chunk as the embedder sees it: with `retrieval.embed_context`, prefixed by the
        document title and heading path, which a passage often does not repeat."""
        if not self.settings.retrieval.embed_context:
            return c.text
        context = (
            c.heading
            if c.heading.startswith(title)
            else " > ".join(filter(None, [title, c.heading]))
        )
        return f"{context}\n{c.text}" if context else c.text

    def _text_hash(self, text: str) -> str:
        """The key of a stored vector: the embedder and the words of the text embedded
        (whitespace aside, as the embedder's tokenizer sees it). A chunk whose words did not
        change reuses its vector, whatever else changed in the chunking."""
        words = " ".join(text.split())
        return hashlib.sha256(f"{self.embedding}\0{words}".encode()).hexdigest()[:32]


def _across_folders(link: Path, target: Path) -> str:
    """Why the link `link` (kb-relative) may not be read as the file `target` in kb/, or "".
    Users see kb/'s top level and the folders granted to them (users.py), by where a file is
    listed: a link is read only where whoever sees it may see its target: at the top level,
    in the link's own folder or in one below it (below a folder, not kb/'s top level)."""
    top, here, there = Path("."), link.parent, target.parent
    if there in (top, here) or (here != top and there.is_relative_to(here)):
        return ""
    return (
        f"{link.name} is a link to {target}, in another folder of kb/: not read, so that a "
        "link cannot show a folder's files to users who may not see that folder (link within "
        "the folder, or put a copy here)"
    )


def _packed(vectors: tuple) -> tuple:
    """A text's vectors as float32 arrays: a quarter of a list of floats' memory."""
    return tuple(None if v is None else array("f", v) for v in vectors)


def _unpacked(vectors: tuple) -> tuple:
    return tuple(None if v is None else v.tolist() for v in vectors)


def _title(chunks: list[Chunk]) -> str:
    """The document's own title: its first top-level heading. Not the file name, so that a
    renamed file embeds to the same vectors (and is not embedded again)."""
    first = next((c.heading for c in chunks if c.heading), "")
    return first.split(" > ")[0]
