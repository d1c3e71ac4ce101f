"""Scan kb/ and list every path whose index entry is missing, stale or orphaned."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from appliance.sync.pipeline import FileState, Pipeline


def is_ignored(rel: str, patterns: tuple[str, ...]) -> bool:
    """True when any component of the kb-relative path matches an ignore pattern."""
    return any(fnmatch.fnmatch(part, pat) for part in rel.split("/") for pat in patterns)


def scan(kb: Path, ignore: tuple[str, ...]) -> dict[str, FileState]:
    found = {}
    for root, dirs, files in os.walk(kb):
        base = Path(root)
        dirs[:] = [d for d in dirs if not is_ignored(d, ignore)]
        for name in files:
            path = base / name
            rel = path.relative_to(kb).as_posix()
            if is_ignored(rel, ignore):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            found[rel] = FileState(st.st_size, st.st_mtime_ns)
    return found


def stale_paths(pipeline: Pipeline, ignore: tuple[str, ...]) -> list[str]:
    """New, changed, deleted and orphaned paths: everything `pipeline.update` must visit."""
    on_disk = scan(pipeline.kb, ignore)
    known = {e.path for e in pipeline.manifest.entries()}
    indexed = set(pipeline.index.chunks_per_source())
    todo = [rel for rel, state in on_disk.items() if not pipeline.is_current(rel, state)]
    todo += sorted((known | indexed) - set(on_disk))
    return todo
