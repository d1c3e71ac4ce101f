"""watchdog → the sync worker. Events are hints only: the worker's periodic scan catches what
an observer missed, and a dead observer (it stops on errors, or when kb/ is removed) is
replaced by a new one, once kb/ is there."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from appliance.sync.pipeline import manifest_key
from appliance.sync.worker import SyncWorker

log = logging.getLogger("appliance.sync")


class _Forward(FileSystemEventHandler):
    def __init__(self, kb: Path, worker: SyncWorker):
        self.kb = kb
        self.worker = worker

    def on_any_event(self, event: FileSystemEvent) -> None:
        # An exception here would stop watchdog's observer thread for good.
        try:
            self._forward(event)
        except Exception:
            log.exception("could not queue %s; the next rescan will catch it", event.src_path)
            self.worker.request_rescan()

    def _forward(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory:
            if event.event_type in ("deleted", "moved"):  # the files it held are gone
                self._submit_under(event.src_path)
            if event.event_type in ("moved", "created"):  # files the events did not name
                self.worker.request_rescan()
            return
        names = (self._relative(raw) for raw in (event.src_path, getattr(event, "dest_path", "")))
        self.worker.submit(*filter(None, names))

    def _submit_under(self, raw: str | bytes) -> None:
        """Each known file under a folder that went: a rescan finding kb/ empty does not
        take its files for deleted (worker: kb/ may not be mounted), the events do."""
        folder = self._relative(raw)
        if folder in (None, ".", ""):  # kb/ itself: gone, not emptied (the worker pauses)
            self.worker.request_rescan()
            return
        entries = self.worker.pipeline.manifest.entries()
        self.worker.submit(*(e.path for e in entries if e.path.startswith(folder + "/")))

    def _relative(self, raw: str | bytes) -> str | None:
        if not raw:
            return None
        path = Path(os.fsdecode(raw))
        try:
            return manifest_key(path.relative_to(self.kb).as_posix())
        except ValueError:
            return None


class Watcher:
    """Keeps an observer running on kb/ for as long as the worker asks."""

    def __init__(self, kb: Path, worker: SyncWorker, polling: bool = False):
        self.kb = kb
        self.worker = worker
        self.polling = polling
        self._observer = None
        self._root = None
        self._started = False
        self.restarts = 0

    def start(self) -> None:
        self._started = True
        if not self.kb.is_dir():
            return  # watched once it is back (ensure_running); the worker pauses till then
        observer = PollingObserver(timeout=1) if self.polling else Observer()
        observer.schedule(_Forward(self.kb, self.worker), str(self.kb), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._root = _identity(self.kb)

    def alive(self) -> bool:
        """The observer and its emitter run, on the kb/ folder that exists now (a kb/
        deleted and made again is a new folder that the old watch does not see)."""
        observer = self._observer
        return (
            observer is not None
            and observer.is_alive()
            and bool(observer.emitters)
            and all(emitter.is_alive() for emitter in observer.emitters)
            and self._root == _identity(self.kb)
        )

    def ensure_running(self) -> None:
        """Called by the worker on each tick: replace a dead observer and rescan. While kb/
        is missing (moved, deleted, not mounted) nothing is watched, and nothing is made in
        its place: a new empty kb/ would read as every file deleted."""
        if not self._started or self.alive():
            return
        if self._observer is not None:
            self._observer.stop()
            self._observer = None
            if not self.kb.is_dir():
                log.warning("kb/ is gone; watching it again once it is back")
                return
            log.warning("the kb/ watcher stopped; restarting it and rescanning kb/")
            self.restarts += 1
        elif not self.kb.is_dir():
            return
        else:
            log.info("kb/ is there again: watching it and rescanning it")
        self.start()
        self.worker.request_rescan()

    def stop(self) -> None:
        self._started = False
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
