"""The composition root: builds every long-lived object from Settings; nothing else does."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from appliance import models
from appliance.answer.admission import Admission
from appliance.answer.answerable import Gate
from appliance.answer.assistant import Assistant
from appliance.answer.conversations import Conversations
from appliance.answer.generators import open_generator
from appliance.answer.retrieve import Retriever
from appliance.config import Settings
from appliance.index.edge import EdgeIndex
from appliance.index.embedder import Embedder
from appliance.index.store import VectorStore
from appliance.observe import Metrics, QueryHistory
from appliance.sync.manifest import Manifest
from appliance.sync.pipeline import Pipeline
from appliance.sync.watch import Watcher
from appliance.sync.worker import SyncWorker
from appliance.tools import Tool
from appliance.tools.actions import Actions
from appliance.tools.audit import AuditLog
from appliance.tools.registry import load_tools

log = logging.getLogger("appliance")


def manifest_path(settings: Settings):
    return settings.paths.data / "manifest.sqlite3"


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def history_path(settings: Settings):
    return settings.paths.data / "queries.sqlite3"


def audit_path(settings: Settings):
    return settings.paths.data / "tools-audit.jsonl"


def open_store(s: Settings) -> VectorStore:
    """The configured vector store backend (index.backend)."""
    weights = (s.index.dense_weight, s.index.sparse_weight)
    if s.index.backend == "qdrant":
        from appliance.index.qdrant import QdrantIndex

        path = Path(s.index.qdrant_path) if s.index.qdrant_path else s.paths.data / "qdrant"
        if not path.is_absolute():
            path = s.paths.data / path
        return QdrantIndex(
            s.embedder.dim,
            path=path,
            url=s.index.qdrant_url,
            api_key=s.index.qdrant_api_key,
            rrf_k=s.index.rrf_k,
            weights=weights,
        )
    return EdgeIndex(s.paths.data / "index", s.embedder.dim, rrf_k=s.index.rrf_k, weights=weights)


class Appliance:
    """The running parts of one instance. Build with open_index(), then load_generator()."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.manifest: Manifest | None = None
        self.index: VectorStore | None = None
        self.embedder: Embedder | None = None
        self.worker: SyncWorker | None = None
        self.watcher: Watcher | None = None
        self.retriever: Retriever | None = None
        self.assistant: Assistant | None = None
        self.tools: dict[str, Tool] = {}
        self.actions: Actions | None = None  # tools.enabled: the conversation may act
        self.history: QueryHistory | None = None
        self.metrics = Metrics()
        self.startup_error = ""
        self.ready = threading.Event()

    def open_index(self) -> None:
        s = self.settings
        models.ensure_ready(s)
        self.tools = load_tools(s.tools) if s.tools.enabled else {}
        s.paths.data.mkdir(parents=True, exist_ok=True)
        s.paths.kb.mkdir(parents=True, exist_ok=True)
        self.index = open_store(s)
        self.manifest = Manifest(manifest_path(s))
        o = s.observe
        self.history = QueryHistory(
            history_path(s),
            s.paths.data / "queries.jsonl" if o.query_log_file else None,
            text=o.log_text,
            retention_days=o.history_days,
            max_rows=o.history_max_rows,
        )
        self.embedder = Embedder(s.embedder, s.embedder_dir)
        self.retriever = Retriever(self.index, self.embedder, s.index)
        pipeline = Pipeline(s, self.manifest, self.index, self.embedder)
        self.worker = SyncWorker(pipeline, s.watcher)
        pipeline.on_result = lambda status: self.metrics.files.labels(status).inc()
        self.metrics.watch(self._gauges)

    def _gauges(self) -> dict:
        entries = self.manifest.entries()
        by_status = {status: float(n) for status, n in self.manifest.totals().items()}
        done, total = self.worker.scan_progress
        answers = self.assistant.admission.stats() if self.assistant else {}
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
                float(self.worker.pending() + total - done),
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

    def load_generator(self) -> None:
        s = self.settings
        limits = s.limits
        generator = open_generator(s.generator, s.paths.models, limits.max_concurrent_requests)
        self.assistant = Assistant(
            self.retriever,
            generator,
            Admission(limits.max_concurrent_requests, limits.max_waiting, limits.queue_timeout_s),
            Conversations(limits.history_turns, limits.conversations),
            self.history,
            self.metrics,
            k=s.retrieval.k,
            min_relevance=s.retrieval.min_relevance,
            max_question_chars=limits.max_question_chars,
            max_question_tokens=limits.max_question_tokens,
            mode=s.answers.mode,
            gate=Gate(s.answers.gate_weights, s.answers.min_answerable),
            min_support=s.answers.min_support,
            passage_words=s.answers.passage_words,
        )
        if self.tools:
            self.actions = Actions(
                self.tools,
                generator,
                self.assistant.admission,
                self.assistant.conversations,
                AuditLog(audit_path(s)),
                s.tools.proposal_ttl_s,
            )

    def start_serving(self, on_fatal=lambda: None) -> threading.Thread:
        """After open_index(): sync and load the LLM in the background, so that /health
        answers at once and /ready once all is done. A start-up that fails calls on_fatal:
        a process that can never become ready should exit, so that its supervisor restarts
        it, rather than linger unhealthy."""
        thread = threading.Thread(target=self._start, args=(on_fatal,), name="startup", daemon=True)
        thread.start()
        return thread

    def drain(self, timeout_s: float) -> None:
        """Give running answers up to timeout_s to finish before shutting down."""
        deadline = time.monotonic() + timeout_s
        while (
            self.assistant
            and self.assistant.admission.stats()["running"]
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)

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

    def _start(self, on_fatal) -> None:
        started = time.monotonic()
        try:
            self.worker.start()
            if self.settings.watcher.enabled:
                self.watcher = Watcher(
                    self.settings.paths.kb, self.worker, self.settings.watcher.polling
                )
                self.watcher.start()
                self.worker.health_checks.append(self._watch_or_give_up(on_fatal))
            self.load_generator()
            self.worker.health_checks.append(self._models_unchanged(on_fatal))
            self.worker.startup_done.wait()
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

    def readiness(self) -> dict:
        worker = self.worker
        checks = {
            "models_loaded": self.assistant is not None,
            "index_open": self.index is not None,
            "startup_sync_done": bool(worker and worker.startup_done.is_set()),
            "sync_worker_alive": bool(worker and worker.alive()),
            "watcher": (
                "disabled"
                if not self.settings.watcher.enabled
                else ("running" if self.watcher and self.watcher.alive() else "stopped")
            ),
        }
        return {
            "ready": self.ready.is_set() and checks["sync_worker_alive"],
            "checks": checks,
            "answers": self.assistant.admission.stats() if self.assistant else {},
            "pending_files": worker.pending() if worker else 0,
            "ingestion": (worker.paused or "running") if worker else "not started",
            "error": self.startup_error or (worker.last_error if worker else ""),
        }

    def close(self) -> None:
        if self.watcher:
            self.watcher.stop()
        if self.worker:
            self.worker.stop()
        if self.assistant:
            self.assistant.generator.close()
        if self.index:
            self.index.close()
        if self.manifest:
            self.manifest.close()
        if self.history:
            self.history.close()
