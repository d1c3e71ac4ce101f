"""Structured logs: one JSON line per event on stderr, and one per question in the data dir."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import threading
import time
from pathlib import Path

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("appliance")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class FeedbackLog:
    """Thumbs up/down on answers, by query id, for the evaluation loop (SQLite)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS feedback (ts REAL NOT NULL, query_id TEXT NOT NULL, "
            "rating TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '')"
        )
        self._lock = threading.Lock()

    def add(self, query_id: str, rating: str, comment: str = "") -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?)", (time.time(), query_id, rating, comment)
            )

    def entries(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT ts, query_id, rating, comment FROM feedback").fetchall()
        return [dict(zip(("ts", "query_id", "rating", "comment"), r, strict=True)) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class QueryLog:
    """Every question, what was retrieved (with scores), timings, trust: JSON lines on disk."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._log = logging.getLogger("appliance.query")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(
        self, query_id, question, standalone, citations, timings, trust, answer, knowledge_gap
    ) -> None:
        entry = {
            "ts": round(time.time(), 3),
            "id": query_id,
            "query": question,
            "standalone_query": standalone,
            "retrieved": [
                {"source": c.source, "page": c.page, "score": c.score, "relevance": c.relevance}
                for c in citations
            ],
            "timings": timings,
            "trust": trust,
            "knowledge_gap": knowledge_gap,
            "answer": answer,
        }
        self._log.info("query", extra={"event": "query", **entry})
        if self.path is not None:
            with self._lock, self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
