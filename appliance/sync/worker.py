"""The background worker: the only writer of the index, fed by the watcher and by scans.

Paths wait in a queue until their size and mtime have stayed the same for `settle_s`, so a
file still being copied is not read half-way, and a burst of events for one file is coalesced.
A scan sends what it finds through the same check. Cheap verdicts come first (deleted,
unsupported, too large, empty files), then files to read, smallest first: one big file never
holds up the small ones copied with it. A file that changes while it is read goes back to
wait until it settles. A scan is read by OCR a few pages at a time (seconds a page), going
to the back of the line after each step, so a long scan does not hold up the files after it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from appliance.config import WatcherSettings
from appliance.sync import manifest as m
from appliance.sync.pipeline import (
    Cancelled,
    FileChanged,
    FileState,
    NotNow,
    OcrUnderWay,
    Pipeline,
    SetAside,
    stat_file,
)
from appliance.sync.reconcile import is_ignored, stale_paths

log = logging.getLogger("appliance.sync")


class SyncWorker:
    def __init__(self, pipeline: Pipeline, settings: WatcherSettings):
        self.pipeline = pipeline
        self.settings = settings
        self._waiting: dict[str, tuple[float, FileState | None]] = {}
        self._rescan = threading.Event()
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.startup_done = threading.Event()
        # the start-up sync's quick part is done (deleted files removed, cheap verdicts): what
        # the index holds can be served while the files to read are indexed
        self.serving = threading.Event()
        self.last_error = ""
        self.paused = ""  # why ingestion is paused, if it is
        self._paused_by = ""  # "kb" or "data"
        self.kept = ""  # why the last scan kept indexed files it did not find, if it did
        self._kept_paths: dict[str, int] = {}  # the indexed files kept then, and their sizes
        self._taken_existing: set[str] = set()  # taken from the line while they existed
        self.failing = ""  # the error of the last step, until a step succeeds
        self.min_free_mb = pipeline.settings.limits.min_free_mb
        self.scan_progress = (0, 0)  # (files done, files to do) of the running full sync
        # the file being embedded (path, done, total chunks) or read by OCR (stage "ocr", pages)
        self.current: dict | None = None
        self.ocr_under_way: dict[str, tuple[int, int]] = {}  # path → (pages read, pages)
        pipeline.on_progress = self._embedding
        pipeline.smaller_waiting = self._smaller_waiting
        pipeline.held_for_arrival = self._held_for_arrival
        self.health_checks: list[Callable[[], None]] = []

    # -- called from other threads -------------------------------------------------------------
    def submit(self, *rels: str) -> None:
        """A hint that these paths may have changed; they are looked at once they have
        settled, together (a move's old and new name: the new one first, so that its
        stored vectors are still there to be reused)."""
        due = time.monotonic() + self.settings.settle_s
        seen = {}
        rels += tuple(self.pipeline.links_to(rels))  # a file changed: the links to it too
        for rel in rels:
            if is_ignored(rel, self.settings.ignore):
                continue
            path = self.pipeline.path(rel)
            seen[rel] = state = stat_file(path)
            if state is not None and not self.paused and path.is_file():
                self.pipeline.manifest.mark_pending(rel, state.size, state.mtime_ns)
        with self._wake:
            for rel, state in seen.items():
                self._waiting[rel] = (due, state)
            self._wake.notify()

    def request_rescan(self) -> None:
        self._rescan.set()
        with self._wake:
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._waiting)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sync-worker", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30) -> None:
        """Stop soon: a file being read or embedded is abandoned (it is done again after a
        restart: nothing of it was published)."""
        self._stop.set()
        self.pipeline.stop()
        with self._wake:
            self._wake.notify()
        if self._thread:
            self._thread.join(timeout)
        self.pipeline.close()

    # -- the worker thread -----------------------------------------------------------------------
    def sync_all(
        self,
        progress: Callable[[int, int, str], None] | None = None,
        quick_done: Callable[[], object] = lambda: None,
    ) -> int:
        """Bring every stale path up to date now (start-up, rescans, `appliance ingest`).
        Files still being written are left to the queue, to be indexed once they settle.
        `quick_done` is called once the deleted files are removed and the cheap verdicts
        given, before the files to read."""
        if self._paused_now():
            return 0
        kept = self._emptied()
        if kept and kept != self.kept:
            log.error(kept, extra={"event": "kb_empty", "path": str(self.pipeline.kb)})
            self._kept_paths = self._indexed_sizes()
        self.kept = kept
        if kept:
            return 0
        self._kept_paths = {}
        self.pipeline.check_ocr()
        todo = stale_paths(self.pipeline, self.settings.ignore)
        self.failing = ""  # a file whose step fails again says so again
        quick = [rel for rel in todo if self.pipeline.is_quick(rel)]
        skip = set(quick)
        to_read = self._settled(rel for rel in todo if rel not in skip)
        moved = self._moved_away(quick, to_read)
        quick = [rel for rel in quick if rel not in moved]
        ordered = quick + to_read + moved
        for done, rel in enumerate(ordered, 1):
            if done > len(quick):
                quick_done()
                self._take_due()  # files dropped meanwhile are not kept waiting for the scan
            if self._stop.is_set() or self._paused_now():  # the rest after the resume
                break
            self.scan_progress = (done - 1, len(ordered))
            self._settled_by_scan(rel)
            if rel not in skip:  # found by the scan: gone when read, it may have just moved
                self._taken_existing.add(rel)
            self._update(rel)
            if progress:
                progress(done, len(ordered), rel)
        else:
            self.pipeline.prune_ocr_pages()
        self.scan_progress = (0, 0)
        if not self.alive():
            self._drain_queue()
        return len(ordered)

    def _moved_away(self, quick: list[str], to_read: list[str]) -> list[str]:
        """Of the paths gone, those whose file may be one to read under a new name (a file
        or folder renamed, moved: the same size): forgotten after the files are read, so
        that their stored vectors are still there to be reused."""
        sizes = {_size(stat_file(self.pipeline.path(rel))) for rel in to_read}
        return [rel for rel in quick if self._gone_as(rel, sizes) is not None]

    def _gone_as(self, rel: str, sizes) -> int | None:
        """The size of the indexed file `rel`, gone now, if a file of that size is among
        `sizes` (it may be that file under a new name); else None."""
        if stat_file(self.pipeline.path(rel)) is not None:
            return None
        entry = self.pipeline.manifest.get(rel)
        if entry is not None and entry.chunks and entry.size in sizes:
            return entry.size
        return None

    def _drain_queue(self, longest_s: float = 60.0) -> None:
        """Without the background thread (`appliance ingest`), wait here for the files still
        settling, for at most `longest_s` (a file written all the time is left for later),
        and finish reading scans by OCR, however long that takes."""
        deadline = time.monotonic() + longest_s
        while self.pending() and not self._stop.is_set():
            if time.monotonic() >= deadline and not self.ocr_under_way:
                break
            self._stop.wait(self._next_due_in())
            self._take_due()

    def _settled(self, paths) -> list[str]:
        """Of the files a scan found, those unchanged over `settle_s`, smallest first; the
        others go to the queue like a watcher's event."""
        seen = {rel: stat_file(self.pipeline.path(rel)) for rel in paths}
        if seen and self.settings.settle_s:
            self._stop.wait(self.settings.settle_s)
        settled = []
        for rel, before in seen.items():
            if stat_file(self.pipeline.path(rel)) == before:
                settled.append(rel)
            else:
                self.submit(rel)
        return sorted(settled, key=lambda rel: _size(seen[rel]))

    def _settled_by_scan(self, rel: str) -> None:
        """A watcher event for a file the scan is about to index, unchanged since the event,
        needs no second visit after the scan."""
        with self._wake:
            waiting = self._waiting.get(rel)
            if waiting and waiting[1] == stat_file(self.pipeline.path(rel)):
                del self._waiting[rel]

    def _run(self) -> None:
        if not self._paused_now():
            self._guard(lambda: self.sync_all(quick_done=self.serving.set))
        self.serving.set()  # questions are answered even while ingestion is paused
        self.startup_done.set()
        next_scan = time.monotonic() + self.settings.rescan_interval_s
        while not self._stop.is_set():
            for check in self.health_checks:
                self._guard(check)
            if self._paused_now():
                with self._wake:
                    self._wake.wait(timeout=1.0)
                continue
            if self.kept and not self._emptied():  # kb/ holds files again
                self._rescan.set()
            if self._rescan.is_set() or time.monotonic() >= next_scan:
                self._rescan.clear()
                self._guard(self.sync_all)
                next_scan = time.monotonic() + self.settings.rescan_interval_s
            self._take_due()
            with self._wake:
                self._wake.wait(timeout=self._next_due_in())

    def _take_due(self) -> None:
        """Update the files due in the line, small before big. A big file set aside for
        smaller ones that arrived meanwhile goes back in line, and the line is looked at
        again."""
        ready = self._due()
        for i, rel in enumerate(ready):
            if self._stop.is_set() or self._paused_now():  # back with the resume's rescan
                return
            if not self._update(rel):
                self._put_back(ready[i + 1 :])
                return

    def _put_back(self, rels: list[str]) -> None:
        seen = {rel: stat_file(self.pipeline.path(rel)) for rel in rels}
        now = time.monotonic()
        with self._wake:
            for rel, state in seen.items():
                self._waiting.setdefault(rel, (now, state))

    def _smaller_waiting(self, rel: str, size: int) -> bool:
        """Whether a file smaller than `size`, or a deletion, is due in the line (not still
        being written): the file `rel` being embedded makes way for it."""
        now = time.monotonic()
        with self._wake:
            due = [(r, seen) for r, (at, seen) in self._waiting.items() if at <= now and r != rel]
        return any(
            _size(seen) < size and stat_file(self.pipeline.path(r)) == seen for r, seen in due
        )

    def _paused_now(self) -> bool:
        """While kb/ is gone (_kb_problem), or the data dir is full (below
        limits.min_free_mb) or read-only, ingestion pauses: nothing is written half-way, no
        file is taken for deleted, and it resumes with a rescan once both are back.
        Questions are answered all the while."""
        data = self.pipeline.settings.paths.data
        kb_problem = self._kb_problem()
        problem = kb_problem or storage_problem(data, self.min_free_mb)
        cause = "kb" if kb_problem else "data"
        if problem:
            if not self.paused or cause != self._paused_by:  # said once (free MB vary)
                self._paused_by = cause
                log.error(
                    "ingestion paused: %s",
                    problem,
                    extra={"event": "ingest_paused", "path": str(data)},
                )
            self.paused = f"ingestion paused: {problem}"
            return True
        if self.paused:
            log.info("ingestion resumed", extra={"event": "ingest_resumed"})
            self.paused = ""
            self._rescan.set()
        return False

    def _indexed_sizes(self) -> dict[str, int]:
        return {e.path: e.size for e in self.pipeline.manifest.entries() if e.status == m.INDEXED}

    def kb_unavailable(self) -> str:
        """Why kb/ cannot take files now, or "": missing, unreadable, or holding none of
        the files indexed (a share not mounted: what is written there is hidden once it is)."""
        return self._kb_problem() or self.kept

    def _kb_problem(self) -> str:
        """Why kb/ cannot be followed now, or "". A kb/ that is missing (moved, deleted, a
        share not mounted) is not a kb/ whose files were all deleted: taking them for
        deleted would mean embedding them all again once it is back."""
        kb = self.pipeline.kb
        if not kb.is_dir():
            there = "is not a folder" if kb.exists() else "is missing"
            return (
                f"kb/ ({kb}) {there}: moved, deleted or not mounted? The index is kept as it "
                "is, and indexing resumes once kb/ is back"
            )
        if not os.access(kb, os.R_OK | os.X_OK):
            return f"kb/ ({kb}) cannot be read by this user; fix its permissions"
        return ""

    def _emptied(self) -> str:
        """Why a scan keeps the indexed files it did not find, or "": kb/ holds none of the
        files indexed (two or more), as when a share is not mounted (yet), also when
        something was written into the bare mount point meanwhile (an upload once emptied
        the index so). Files deleted while the watcher looks are removed as each event
        says; `appliance ingest` (no background thread) follows kb/ as it is."""
        if not self.alive():
            return ""
        kb = self.pipeline.kb
        # Once kept, the files kept then: a file written meanwhile is indexed too, and must
        # not pass for one of them.
        indexed = self._kept_paths or self._indexed_sizes()
        if len(indexed) < 2 or any(os.path.lexists(self.pipeline.path(p)) for p in indexed):
            return ""
        if not os.path.isdir(kb):
            return ""  # gone meanwhile: the pause says so
        if _holds_a_file_of_size(kb, set(indexed.values())):
            return ""  # the indexed files under new names (their folder renamed): follow it
        return (
            f"kb/ ({kb}) holds none of the {len(indexed)} files indexed: not mounted? They "
            "are kept, and followed again once kb/ holds them. If it was emptied or "
            "replaced on purpose, stop the appliance and run `appliance ingest`"
        )

    def _next_due_in(self, longest: float = 0.25) -> float:
        """Sleep until the next waiting file is due, or `longest` (health checks, rescans)."""
        if not self._waiting:
            return longest
        soonest = min(due for due, _ in self._waiting.values())
        return min(longest, max(0.0, soonest - time.monotonic()))

    def _due(self) -> list[str]:
        now = time.monotonic()
        ready = []
        with self._wake:
            for rel, (due, seen) in list(self._waiting.items()):
                if due > now:
                    continue
                current = stat_file(self.pipeline.path(rel))
                if current != seen:  # still being written: wait for it to settle
                    self._waiting[rel] = (now + self.settings.settle_s, current)
                    continue
                del self._waiting[rel]
                ready.append(rel)
                if seen is not None:
                    self._taken_existing.add(rel)
            self._hold_deletions_for_arrivals(ready)
        # Files that exist first (a moved file's vectors are reused before its old name goes),
        # cheap verdicts before reading, small files before big ones.
        return sorted(ready, key=self._order)

    def _held_for_arrival(self, rel: str) -> bool:
        """Whether `rel`, found gone as it was to be updated, now waits behind a file of its
        size that arrived meanwhile (moved as it was taken out of the line)."""
        with self._wake:
            held = [rel]
            self._hold_deletions_for_arrivals(held)
            if not held:
                return True
            if rel in self._taken_existing:  # there a moment ago: its new name may be on
                # its way into the line (a move's two names, seen as the file was taken)
                self._taken_existing.discard(rel)
                self._waiting[rel] = (time.monotonic() + self.settings.settle_s, None)
                return True
            return False

    def _hold_deletions_for_arrivals(self, ready: list[str]) -> None:
        """A deletion due while a file of its size is still settling waits for it: a move
        whose two names came as two events (inotify pairs them only within a moment, which
        a busy machine misses) would otherwise forget the vectors the new name reuses.
        Called with the lock held, `ready` taken out of the line."""
        arriving = {_size(seen): due for due, seen in self._waiting.values() if seen is not None}
        for rel in list(ready):
            size = self._gone_as(rel, arriving)
            if size is not None:
                ready.remove(rel)
                self._waiting[rel] = (arriving[size], None)

    def _order(self, rel: str) -> tuple[bool, bool, int]:
        state = stat_file(self.pipeline.path(rel))
        return state is None, not self.pipeline.is_quick(rel), _size(state)

    def _update(self, rel: str) -> bool:
        """Bring `rel` up to date; False when it was set aside for smaller files (it is back
        in line, due at once, and goes on where it stopped)."""
        if rel in self.ocr_under_way:
            done, total = self.ocr_under_way[rel]
            self.current = {"path": rel, "done": done, "total": total, "stage": "ocr"}
        try:
            self.pipeline.update(rel)
            self._taken_existing.discard(rel)
            self.ocr_under_way.pop(rel, None)
            self.failing = ""
        except OcrUnderWay as step:
            self.ocr_under_way[rel] = (step.done, step.total)
            log.info(
                "scanned pages read by OCR: %d of %d",
                step.done,
                step.total,
                extra={"event": "ocr_progress", "path": rel},
            )
            with self._wake:  # at the back of the line, due at once
                self._waiting[rel] = (time.monotonic(), stat_file(self.pipeline.path(rel)))
        except SetAside as aside:
            log.info(
                "set aside for smaller files waiting: %s; goes on after them",
                aside,
                extra={"event": "file_set_aside", "path": rel},
            )
            with self._wake:
                self._waiting[rel] = (time.monotonic(), stat_file(self.pipeline.path(rel)))
            return False
        except FileChanged:
            log.info(
                "changed or deleted while it was read; looked at again once it settles",
                extra={"event": "file_changed", "path": rel},
            )
            self.submit(rel)
        except NotNow:  # back in line: behind the file that may be it, or until kb/ is back
            with self._wake:
                self._waiting.setdefault(rel, (time.monotonic(), None))
        except Cancelled:
            log.info("indexing stopped", extra={"event": "indexing_stopped", "path": rel})
        except Exception as err:  # the worker must outlive any single failure
            self.ocr_under_way.pop(rel, None)
            self._failed(err)
        finally:
            self.current = None
        return True

    def _embedding(self, rel: str, done: int, total: int) -> None:
        self.current = {"path": rel, "done": done, "total": total}

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as err:  # the worker must outlive any single failure
            self._failed(err)

    def _failed(self, err: Exception) -> None:
        self.last_error = self.failing = f"{type(err).__name__}: {err}"
        log.exception("sync step failed")


def _size(state: FileState | None) -> int:
    return state.size if state is not None and state.size >= 0 else 0


def storage_problem(data: Path, min_free_mb: float) -> str:
    """Why nothing can be written to the data dir now, or "" when it can."""
    try:
        st = os.statvfs(data)
    except OSError as err:
        return f"the data dir {data} cannot be looked at: {err.strerror or err}"
    if st.f_flag & os.ST_RDONLY:
        return f"the data dir {data} is on a read-only file system; remount it read-write"
    if not os.access(data, os.W_OK):
        return f"the data dir {data} is not writable by this user; fix its permissions"
    free_mb = st.f_bavail * st.f_frsize / 2**20
    if free_mb < min_free_mb:
        return (
            f"{free_mb:.0f} MB free in {data}, below limits.min_free_mb "
            f"({min_free_mb:,.0f} MB); free some space"
        )
    return ""


def _holds_a_file_of_size(kb: Path, sizes: set[int], most: int = 10_000) -> bool:
    """Whether kb/ holds a file of one of `sizes` (of the first `most` files looked at)."""
    looked = 0
    for root, _, files in os.walk(kb):
        for name in files:
            looked += 1
            if looked > most:
                return False
            try:
                if os.stat(os.path.join(root, name)).st_size in sizes:
                    return True
            except OSError:
                continue
    return False
