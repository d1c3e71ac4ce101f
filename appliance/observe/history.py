"""Every question, traceable: one JSON log line, a line in a rotating file in the data dir,
and a row in the query history (SQLite, bounded retention) that page feedback attaches to.
Weak answers come back out as draft eval questions (`appliance queries`)."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sqlite3
import sys
import threading
import time
from pathlib import Path

from appliance.databases import check_database
from appliance.observe.logs import JsonFormatter
from appliance.observe.record import QueryRecord

SNIPPET_CHARS = 120
FILE_MAX_BYTES = 20 * 1024 * 1024
FILE_BACKUPS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, conversation_id TEXT, query TEXT, outcome TEXT,
    trust REAL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queries_ts ON queries (ts);
CREATE TABLE IF NOT EXISTS feedback (
    ts REAL NOT NULL, query_id TEXT NOT NULL, rating TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
"""


class QueryHistory:
    """`text` says how much text is kept (privacy): "full", "snippets" (the first
    characters of questions, answers and passages) or "none"."""

    def __init__(
        self,
        db_path: Path,
        log_file: Path | None,
        text: str = "full",
        retention_days: float = 90,
        max_rows: int = 100_000,
        readonly: bool = False,
    ):
        self.text = text
        self.retention_days = retention_days
        self.max_rows = max_rows
        self._lock = threading.Lock()
        if readonly:
            self._db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        else:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            check_database(db_path, "the query history")
            self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        self._log = logging.getLogger("appliance.query")
        self._file = _rotating_json_logger(log_file) if log_file else None
        self._recorded = 0

    def record(self, record: QueryRecord) -> dict:
        """Store and log one question's record; returns it as kept, text trimmed to the
        privacy setting."""
        entry = self._trimmed(record.as_dict())
        self._log.info("query", extra={"event": "query", **entry})
        if self._file is not None:
            self._file.info("query", extra={"event": "query", **entry})
        with self._lock:
            try:
                self._store(entry)
            except sqlite3.Error as err:  # a full or read-only disk must not fail the answer
                self._log.error(
                    "query history not written: %s",
                    err,
                    extra={"event": "history_write_failed", "request_id": entry["request_id"]},
                )
        return entry

    def _store(self, entry: dict) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO queries VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                entry["request_id"],
                entry["ts"],
                entry.get("conversation_id"),
                entry.get("query"),
                entry["outcome"],
                (entry.get("trust") or {}).get("score"),
                json.dumps(entry, ensure_ascii=False),
            ),
        )
        self._recorded += 1
        if self._recorded % 100 == 1:
            self._prune()

    def add_feedback(self, query_id: str, rating: str, comment: str = "", user: str = "") -> bool:
        """Store a vote on an answer, replacing an earlier vote on it; False when no answer
        with that id is in the history (never asked, pruned, or asked by another user)."""
        with self._lock:
            asked = self._db.execute(
                "SELECT 1 FROM queries WHERE id = ? AND coalesce(json_extract(record, '$.user'),"
                " '') = ?",
                (query_id, user),
            ).fetchone()
            if not asked:
                return False
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM feedback WHERE query_id = ?", (query_id,))
                if rating != "none":  # "none": the vote is taken back
                    self._db.execute(
                        "INSERT INTO feedback VALUES (?, ?, ?, ?)",
                        (time.time(), query_id, rating, comment),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    def model_record(self, model: str, last: int) -> list[bool]:
        """For the last `last` auto-mode answers `model` wrote, oldest first: was the model's
        answer kept (True), or replaced by quotes (False)? Read at start-up, so that a
        restart remembers how the model has been doing."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM queries WHERE outcome = 'answered' ORDER BY ts DESC LIMIT ?",
                (last * 5,),
            ).fetchall()
        kept = []
        for (record,) in rows:
            entry = json.loads(record)
            if entry.get("model") != model or not entry.get("tokens_out"):
                continue  # another model's, or the model was not asked
            kept.append(entry.get("mode") == "generated")
        return list(reversed(kept[:last]))

    def feedback(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT ts, query_id, rating, comment FROM feedback")
            return [
                dict(zip(("ts", "query_id", "rating", "comment"), r, strict=True))
                for r in rows.fetchall()
            ]

    def weak(
        self, below: float | None = None, negative: bool = False, refused: bool = False
    ) -> list[dict]:
        """Answered questions with trust under `below`, and/or with a thumbs down, and/or
        refused as not in the documents (a gap in them, or a question wrongly refused)."""
        clauses, params = [], []
        if below is not None:
            clauses.append("(q.outcome = 'answered' AND q.trust < ?)")
            params.append(below)
        if refused:
            clauses.append("json_extract(q.record, '$.refusal') = 'not_in_documents'")
        if negative:
            clauses.append("q.id IN (SELECT query_id FROM feedback WHERE rating = 'down')")
        where = " OR ".join(clauses) or "1"
        with self._lock:
            rows = self._db.execute(
                f"SELECT q.record, (SELECT group_concat(rating || ':' || comment, ' | ') "
                f"FROM feedback f WHERE f.query_id = q.id) FROM queries q WHERE {where} "
                "ORDER BY q.ts",
                params,
            ).fetchall()
        return [{**json.loads(record), "feedback": feedback or ""} for record, feedback in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._file is not None:
            for handler in self._file.handlers:
                handler.close()

    def _prune(self) -> None:
        cutoff = time.time() - self.retention_days * 86400
        self._db.execute("DELETE FROM queries WHERE ts < ?", (cutoff,))
        self._db.execute(
            "DELETE FROM queries WHERE id IN (SELECT id FROM queries ORDER BY ts DESC "
            "LIMIT -1 OFFSET ?)",
            (self.max_rows,),
        )
        self._db.execute("DELETE FROM feedback WHERE query_id NOT IN (SELECT id FROM queries)")

    def _trimmed(self, entry: dict) -> dict:
        if self.text == "full":
            return entry

        def cut(value):
            if not isinstance(value, str) or not value:
                return value
            return value[:SNIPPET_CHARS] if self.text == "snippets" else None

        out = {
            k: cut(v) if k in ("query", "rewritten_query", "answer") else v
            for k, v in entry.items()
        }
        out["retrieved"] = [{**r, "text": cut(r.get("text"))} for r in entry.get("retrieved", [])]
        return out


class _QueryFile(logging.handlers.RotatingFileHandler):
    """queries.jsonl; a line that cannot be written (a full disk) is one JSON warning in the
    log, once until writing works again, not logging's multi-line traceback each question
    (the history database keeps the record either way)."""

    failing = False  # said already: a line could not be written, and none since
    _failed = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed = False
        super().emit(record)  # calls handleError, not raising, when the write fails
        self.failing = self._failed

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        self._failed = True
        if not self.failing:
            logging.getLogger("appliance.query").warning(
                "%s cannot be written (%s): questions are still recorded in the history",
                self.baseFilename,
                sys.exc_info()[1],
                extra={"event": "query_log_failed"},
            )


def _rotating_json_logger(path: Path) -> logging.Logger:
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"appliance.query.file.{path}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = _QueryFile(path, maxBytes=FILE_MAX_BYTES, backupCount=FILE_BACKUPS, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logger.handlers[:] = [handler]
    return logger
