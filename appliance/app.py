"""The composition root: builds every long-lived part from Settings; nothing else does.
Running them (start-up in the background, supervision, readiness, drain) is runtime.py's."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from appliance import models
from appliance.answer.admission import Admission
from appliance.answer.answerable import Gate
from appliance.answer.assistant import Assistant
from appliance.answer.conversations import Conversations
from appliance.answer.generators import open_generator
from appliance.answer.retrieve import Retriever
from appliance.config import Settings
from appliance.errors import INDEX_DAMAGED_FIX, ApplianceError
from appliance.index.edge import EdgeIndex
from appliance.index.embedder import Embedder
from appliance.index.store import VectorStore
from appliance.observe import Metrics, QueryHistory
from appliance.sync.manifest import INDEXED, Manifest
from appliance.sync.pipeline import Pipeline
from appliance.sync.worker import SyncWorker
from appliance.tools import Tool
from appliance.tools.actions import Actions
from appliance.tools.audit import AuditLog
from appliance.tools.registry import load_tools


def manifest_path(settings: Settings):
    return settings.paths.data / "manifest.sqlite3"


def history_path(settings: Settings):
    return settings.paths.data / "queries.sqlite3"


def audit_path(settings: Settings):
    return settings.paths.data / "tools-audit.jsonl"


INDEX_ROOM_MB = 128  # Qdrant Edge sets aside ~48 MB to make an index; opening one grows it


def why_the_index_cannot_open(s: Settings) -> str:
    """Why the index cannot be opened safely here, or "": a data dir this process cannot
    write (the index takes a lock file there), or too little room. The engine maps its
    files into memory: run out of space while it writes, and the process dies at once
    (SIGBUS), saying nothing. Checked before it opens, where an operator can read why."""
    if s.index.backend == "qdrant" and s.index.qdrant_url:
        return ""  # a server's disk, not this one's
    data = s.paths.data
    try:
        with tempfile.NamedTemporaryFile(dir=data, prefix=".write-check-"):
            pass
    except OSError as err:
        return (
            f"the data dir {data} cannot be written ({err.strerror}): the index keeps its "
            f"lock and its files there. Make it writable by user {os.getuid()}, or mount a "
            "writable volume there"
        )
    free_mb = shutil.disk_usage(data).free / 2**20
    if free_mb >= INDEX_ROOM_MB:
        return ""
    return (
        f"the data dir {data} has {free_mb:.0f} MB free: the index needs about "
        f"{INDEX_ROOM_MB} MB of room to open safely (a full disk would crash it). Free some "
        "space there, or move paths.data to a larger volume"
    )


def open_store(s: Settings, remake: bool = True) -> VectorStore:
    """The configured vector store backend (index.backend). An index made with other
    embedders is made anew, or without `remake` (a check) IndexMismatch."""
    weights = (s.index.dense_weight, s.index.sparse_weight)
    second = s.multilingual_embedder
    multilingual = (second[0].dim, second[0].weight) if second else None
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
            multilingual=multilingual,
            remake=remake,
        )
    index = s.paths.data / "index"
    return EdgeIndex(index, s.embedder.dim, s.index.rrf_k, weights, multilingual, remake)


@dataclass
class Parts:
    """Every long-lived part of one instance, opened. `assistant` (and `actions`, with
    tools on) come with load_generator(): loading the model is the slow part, and
    `appliance ingest` never needs it."""

    settings: Settings
    index: VectorStore
    manifest: Manifest
    history: QueryHistory
    embedder: Embedder
    retriever: Retriever
    worker: SyncWorker
    metrics: Metrics
    tools: dict[str, Tool]
    assistant: Assistant | None = None
    actions: Actions | None = None  # tools.enabled: the conversation may act

    def load_generator(self) -> Assistant:
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
            floors=s.relevance_floors,
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
        return self.assistant

    def close(self) -> None:
        self.worker.stop()
        if self.assistant:
            self.assistant.generator.close()
        self.index.close()
        self.manifest.close()
        self.history.close()


def open_parts(settings: Settings, remake: bool = True) -> Parts:
    """Check the models, open the index, the manifest and the query history, load the
    embedder; wrong models or an index held by another process fail here, in plain words.
    An index made with other embedders is made anew, or without `remake` (a command that
    only reads, `ask`) IndexMismatch."""
    s = settings
    models.ensure_ready(s)
    tools = load_tools(s.tools) if s.tools.enabled else {}
    try:
        s.paths.data.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ApplianceError(
            f"the data dir {s.paths.data} cannot be made ({err.strerror}): create it, "
            f"writable by user {os.getuid()}, or set paths.data"
        ) from None
    # Before the index: one made with vectors of other sizes is made anew, and a wrong
    # embedder.dim must not cost the index (hours of embedding on 2 cores).
    try:
        embedder = Embedder(s.embedder, s.embedder_dir, s.multilingual_embedder)
        embedder.check_dimensions()
    except ApplianceError:
        raise  # a dim that is not the model's: said as it is
    except Exception as err:  # ONNX Runtime's own, for a damaged file
        raise ApplianceError(
            f"the embedder in {s.embedder_dir} cannot be loaded ({type(err).__name__}: "
            f"{err}): put its files back (appliance models fetch, for the defaults)"
        ) from err
    if problem := why_the_index_cannot_open(s):
        raise ApplianceError(problem)
    try:
        index = open_store(s, remake)
    except ApplianceError:
        raise  # in use elsewhere, made with other embedders: said as it is
    except Exception as err:  # the engine's own: a segment damaged on disk
        raise ApplianceError(f"the index cannot be opened: {err}. {INDEX_DAMAGED_FIX}") from err
    manifest = Manifest(manifest_path(s))
    if manifest.totals().get(INDEXED) and index.count() == 0:
        # Made anew (other embedders), or data/index lost: nothing is searchable, whatever
        # the list said. Listed as waiting, they are indexed again, and /ready waits for it.
        manifest.mark_all_pending()
    if not manifest.totals().get(INDEXED):  # else a missing kb/ is gone, not new: see worker
        s.paths.kb.mkdir(parents=True, exist_ok=True)
    o = s.observe
    history = QueryHistory(
        history_path(s),
        s.paths.data / "queries.jsonl" if o.query_log_file else None,
        text=o.log_text,
        retention_days=o.history_days,
        max_rows=o.history_max_rows,
    )
    metrics = Metrics()
    pipeline = Pipeline(s, manifest, index, embedder)
    pipeline.on_result = lambda status: metrics.files.labels(status).inc()
    return Parts(
        settings=s,
        index=index,
        manifest=manifest,
        history=history,
        embedder=embedder,
        retriever=Retriever(index, embedder, s.index),
        worker=SyncWorker(pipeline, s.watcher),
        metrics=metrics,
        tools=tools,
    )


@contextmanager
def opened(settings: Settings, remake: bool = True) -> Iterator[Parts]:
    """The parts, closed (the index flushed) however the block ends."""
    parts = open_parts(settings, remake)
    try:
        yield parts
    finally:
        parts.close()
