"""One serving instance over its opened parts (app.py): start-up in the background, so that
/health answers at once and /ready once all is done; supervision (the kb/ watcher kept
running, model files unchanged); readiness; the metrics' gauges; drain at shutdown."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from appliance import models
from appliance.app import Parts
from appliance.errors import NotReady
from appliance.sync.manifest import INDEXED
from appliance.sync.watch import Watcher

log = logging.getLogger("appliance")


class Runtime:
    def __init__(self, parts: Parts):
        self.parts = parts
        self.settings = parts.settings
        self.watcher: Watcher | None = None
        self.startup_error = ""
        self.ready = threading.Event()
        parts.metrics.watch(self._gauges)

    def answering(self) -> Parts:
        """The parts, once the appliance answers questions; NotReady before that."""
        if not self.ready.is_set():
            state = self.readiness()
            raise NotReady(state["error"] or "the appliance is still starting (see /ready)")
        return self.parts

    def start(self, on_fatal=lambda: None) -> threading.Thread:
        """Sync and load the model in the background. A start-up that fails calls on_fatal:
        a process that can never become ready should exit, so that its supervisor restarts
        it, rather than linger unhealthy."""
        thread = threading.Thread(target=self._start, args=(on_fatal,), name="startup", daemon=True)
        thread.start()
        return thread

    def readiness(self) -> dict:
        parts, worker = self.parts, self.parts.worker
        checks = {
            "models_loaded": parts.assistant is not None,
            "index_open": True,
            "startup_sync_done": worker.startup_done.is_set(),
            "sync_worker_alive": worker.alive(),
            "watcher": (
                "disabled"
                if not self.settings.watcher.enabled
                else ("running" if self.watcher and self.watcher.alive() else "stopped")
            ),
        }
        ready = self.ready.is_set() and checks["sync_worker_alive"]
        return {
            "ready": ready,
            "waiting_for": "" if ready else _waiting_for(checks),
            "checks": checks,
            "answers": parts.assistant.admission.stats() if parts.assistant else {},
            "pending_files": worker.pending(),
            "ingestion": worker.paused
            or worker.kept
            or (f"indexing fails: {worker.failing}" if worker.failing else "running"),
            "error": self.startup_error or worker.last_error,
        }

    def drain(self, timeout_s: float) -> None:
        """Give running answers up to timeout_s to finish before shutting down."""
        deadline = time.monotonic() + timeout_s
        assistant = self.parts.assistant
        while assistant and assistant.admission.stats()["running"] and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        if self.watcher:
            self.watcher.stop()
        self.parts.close()

    def _start(self, on_fatal) -> None:
        started = time.monotonic()
        parts, settings = self.parts, self.settings
        try:
            parts.worker.start()
            if settings.watcher.enabled:
                self.watcher = Watcher(settings.paths.kb, parts.worker, settings.watcher.polling)
                self.watcher.start()
                parts.worker.health_checks.append(self._watch_or_give_up(on_fatal))
            parts.load_generator()
            parts.worker.health_checks.append(self._models_unchanged(on_fatal))
            self._wait_for_the_index()
        except Exception as err:
            self.startup_error = f"{type(err).__name__}: {err}"
            log.error("start-up failed: %s", err, extra={"event": "startup_failed"})
            on_fatal()
            return
        self.ready.set()
        log.info(
            "ready",
            extra={"event": "ready", "seconds": round(time.monotonic() - started, 2)},
        )

    def _wait_for_the_index(self) -> None:
        """Until the start-up sync is done; or, when the index already holds documents (a
        restart), until deleted files are removed: then what it holds is served while the
        files that came meanwhile (or failed to finish) are indexed, which may take hours."""
        worker = self.parts.worker
        worker.serving.wait()  # set before startup_done, however the start-up sync ends
        if not worker.startup_done.is_set() and self.parts.manifest.totals().get(INDEXED):
            log.info(
                "answering from the index while kb/ is brought up to date",
                extra={"event": "serving_during_sync"},
            )
            return
        worker.startup_done.wait()

    def _models_unchanged(self, on_fatal):
        """A model file replaced or removed under a running appliance: it keeps serving
        what it loaded, which is no longer what models/ says. Exit, so that the restart
        loads (or plainly refuses) what is there now."""
        loaded = {path: _identity(path) for path in models.required_files(self.settings)}

        def check() -> None:
            changed = [p for p, seen in loaded.items() if _identity(p) != seen]
            if changed and not self.startup_error:
                self.startup_error = (
                    f"{changed[0]} changed or was removed while running: restart the "
                    "appliance to load the model files that are there now"
                )
                log.error(self.startup_error, extra={"event": "model_changed"})
                self.ready.clear()
                on_fatal()

        return check

    def _watch_or_give_up(self, on_fatal, attempts: int = 3):
        """Restart a stopped watcher; if that keeps failing (kb/ unusable), the appliance
        cannot keep its promise to follow kb/: exit, and let the supervisor restart it."""
        failures = 0

        def check() -> None:
            nonlocal failures
            try:
                self.watcher.ensure_running()
                failures = 0
            except Exception as err:
                failures += 1
                log.error(
                    "cannot restart the kb/ watcher (%d/%d): %s",
                    failures,
                    attempts,
                    err,
                    extra={"event": "watcher_failed"},
                )
                if failures >= attempts:
                    self.startup_error = f"the kb/ watcher cannot be restarted: {err}"
                    self.ready.clear()
                    on_fatal()

        return check

    def _gauges(self) -> dict:
        parts = self.parts
        entries = parts.manifest.entries()
        by_status = {status: float(n) for status, n in parts.manifest.totals().items()}
        done, total = parts.worker.scan_progress
        answers = parts.assistant.admission.stats() if parts.assistant else {}
        return {
            "appliance_ready": (
                "1 once the appliance answers questions",
                float(self.ready.is_set()),
            ),
            "appliance_documents": ("Files of kb/ by index status", by_status),
            "appliance_chunks_indexed": (
                "Chunks searchable",
                float(sum(e.chunks for e in entries if e.status == "indexed")),
            ),
            "appliance_ingest_queue": (
                "Files waiting to be indexed",
                float(parts.worker.pending() + total - done),
            ),
            "appliance_generations_active": (
                "Answers being generated",
                float(answers.get("running", 0)),
            ),
            "appliance_queue_depth": (
                "Questions waiting for the generator",
                float(answers.get("waiting", 0)),
            ),
        }


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _waiting_for(checks: dict) -> str:
    """What a start still waits for, in words: /ready's 503 says why."""
    if not checks["models_loaded"]:
        return "the models to load"
    if not checks["startup_sync_done"]:
        return "kb/ to be brought up to date with the index (the start-up sync)"
    if not checks["sync_worker_alive"]:
        return "the indexing thread, which stopped: see error and the log"
    return "the start to finish"
