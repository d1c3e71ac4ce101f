"""Compare kb/, the manifest and the index; list every path that needs a visit.

A path needs one when it is new, changed (size, mtime), deleted, made by another pipeline
version, or when the index holds a different number of chunks for it than the manifest
says (a crash mid-update, an orphan): `Pipeline.update` then repairs it, without embedding
again what is already stored.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from appliance.sync import manifest as m
from appliance.sync.pipeline import UNREADABLE, FileState, Pipeline, manifest_key


def is_ignored(rel: str, patterns: tuple[str, ...]) -> bool:
    """True when any component of the kb-relative path matches an ignore pattern."""
    return any(fnmatch.fnmatch(part, pat) for part in rel.split("/") for pat in patterns)


def scan(kb: Path, ignore: tuple[str, ...]) -> dict[str, FileState]:
    """Every file under kb/ that is not ignored. Symlinked folders are not followed (no
    loops); a file that cannot even be stat'ed is listed as UNREADABLE."""
    found = {}
    for root, dirs, files in os.walk(kb):
        base = Path(root)
        dirs[:] = [d for d in dirs if not is_ignored(d, ignore)]
        for name in files:
            path = base / name
            rel = manifest_key(path.relative_to(kb).as_posix())
            if is_ignored(rel, ignore):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                if not path.is_symlink():
                    continue  # deleted while we looked
                found[rel] = UNREADABLE
            except OSError:
                found[rel] = UNREADABLE
            else:
                found[rel] = FileState(st.st_size, st.st_mtime_ns)
    return found


def stale_paths(pipeline: Pipeline, ignore: tuple[str, ...]) -> list[str]:
    """Files to (re)index first, then paths to forget: a renamed file's new name comes
    before its old one, so its stored vectors are still there to be reused."""
    on_disk = scan(pipeline.kb, ignore)
    entries = {e.path: e for e in pipeline.manifest.entries()}
    stored = pipeline.index.chunks_per_source()

    def needs_visit(rel: str, state: FileState) -> bool:
        entry = entries.get(rel)
        if not pipeline.describes(entry, state):
            return True
        if entry.status == m.INDEXED and pipeline.path(rel).is_symlink():
            pipeline.note_link(rel)  # indexed before this start: where it leads
            return bool(pipeline.outside(pipeline.path(rel)))  # its target may have moved
        expected = entry.chunks if entry.status == m.INDEXED else 0
        return stored.get(rel, 0) != expected

    todo = sorted(rel for rel, state in on_disk.items() if needs_visit(rel, state))
    todo += sorted((set(entries) | set(stored)) - set(on_disk))
    return todo
