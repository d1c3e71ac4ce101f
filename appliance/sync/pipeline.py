"""One file of kb/ → its chunks in the index and its row in the manifest.

A changed document's new chunks are written before the old version's are removed, and the
manifest row is written last, so a crash at any point is repaired by the next reconcile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from appliance.config import Settings
from appliance.documents import (
    SUPPORTED_SUFFIXES,
    DocumentError,
    UnsupportedFormat,
    chunk_sections,
    read_document,
)
from appliance.index.edge import EdgeIndex, IndexedChunk
from appliance.index.embedder import Embedder
from appliance.sync import manifest as m

log = logging.getLogger("appliance.sync")

CHUNKER_VERSION = 1


def pipeline_version(settings: Settings) -> str:
    """Changes when a file indexed earlier would now be chunked or embedded differently."""
    e, r = settings.embedder, settings.retrieval
    return (
        f"emb:{e.model_dir}/{e.model_file}:{e.dim}:{e.pooling}:{e.normalize}"
        f"|chunk:v{CHUNKER_VERSION}:{r.chunk_words}/{r.chunk_overlap}"
    )


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int


def stat_file(path: Path) -> FileState | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return FileState(st.st_size, st.st_mtime_ns)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Pipeline:
    """Brings one kb/ path up to date in the index and the manifest."""

    def __init__(self, settings: Settings, manifest: m.Manifest, index: EdgeIndex, embedder):
        self.kb = settings.paths.kb
        self.settings = settings
        self.version = pipeline_version(settings)
        self.manifest = manifest
        self.index = index
        self.embedder: Embedder = embedder

    def is_current(self, rel: str, state: FileState | None) -> bool:
        """True when the manifest already describes this file as it is on disk."""
        entry = self.manifest.get(rel)
        if state is None:
            return entry is None
        return (
            entry is not None
            and entry.status in m.SETTLED
            and entry.size == state.size
            and entry.mtime_ns == state.mtime_ns
            and entry.version == self.version
        )

    def update(self, rel: str) -> m.Entry | None:
        """Index, re-index or forget `rel`; returns its new manifest entry (None if gone)."""
        path = self.kb / rel
        state = stat_file(path)
        if state is None or not path.is_file():
            self.forget(rel)
            return None
        entry = self._index_file(rel, path, state)
        self.manifest.put(entry)
        log.info(
            "indexed" if entry.status == m.INDEXED else "not indexed",
            extra={
                "event": "document",
                "path": rel,
                "status": entry.status,
                "chunks": entry.chunks,
                "error": entry.error,
            },
        )
        return entry

    def forget(self, rel: str) -> None:
        self.index.delete_document(rel)
        self.index.flush()
        if self.manifest.get(rel) is not None:
            self.manifest.remove(rel)
            log.info("removed", extra={"event": "document", "path": rel, "status": "removed"})

    def _index_file(self, rel: str, path: Path, state: FileState) -> m.Entry:
        def outcome(status: str, error: str = "", sha: str = "", chunks: int = 0) -> m.Entry:
            indexed_at = time.time() if status == m.INDEXED else None
            return m.Entry(
                rel,
                state.size,
                state.mtime_ns,
                sha,
                status,
                error,
                chunks,
                indexed_at,
                self.version,
            )

        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            self.index.delete_document(rel)
            supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
            return outcome(
                m.UNSUPPORTED,
                f"{path.suffix or 'no extension'}: only {supported} files are indexed",
            )
        limit_mb = self.settings.limits.max_file_mb
        if state.size > limit_mb * 1024 * 1024:
            self.index.delete_document(rel)
            return outcome(
                m.TOO_LARGE,
                f"{state.size / 2**20:.1f} MB is over limits.max_file_mb ({limit_mb:g} MB)",
            )
        sha = file_sha256(path)
        previous = self.manifest.get(rel)
        if (
            previous
            and previous.status == m.INDEXED
            and previous.sha256 == sha
            and previous.version == self.version
        ):
            return replace(previous, size=state.size, mtime_ns=state.mtime_ns)
        try:
            chunks = self._chunks(rel, path)
        except (DocumentError, UnsupportedFormat) as err:
            self.index.delete_document(rel)
            return outcome(m.FAILED, str(err), sha)
        except Exception as err:  # a reader bug must not stop the worker: report it
            log.exception("reader crashed on %s", rel)
            self.index.delete_document(rel)
            return outcome(m.FAILED, f"could not be read: {type(err).__name__}: {err}", sha)
        if not chunks:
            self.index.delete_document(rel)
            return outcome(
                m.FAILED, "no text could be extracted (a scanned PDF without a text layer?)", sha
            )
        self._write(rel, sha, chunks)
        return outcome(m.INDEXED, sha=sha, chunks=len(chunks))

    def _chunks(self, rel: str, path: Path):
        r = self.settings.retrieval
        return chunk_sections(read_document(path), rel, r.chunk_words, r.chunk_overlap)

    def _write(self, rel: str, sha: str, chunks) -> None:
        texts = [c.text for c in chunks]
        dense = self.embedder.embed_documents(texts)
        points = [
            IndexedChunk(
                rel,
                sha,
                c.index,
                c.page,
                c.heading,
                c.text,
                vec,
                self.embedder.sparse_document(c.text),
            )
            for c, vec in zip(chunks, dense, strict=True)
        ]
        self.index.upsert(points)
        self.index.delete_document(rel, keep_hash=sha)
        self.index.flush()


def relative(kb: Path, path: str | os.PathLike) -> str:
    return Path(path).resolve().relative_to(kb).as_posix()
