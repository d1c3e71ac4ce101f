"""The manifest: one row per file seen in kb/, with its status and why (SQLite, in the data dir).

Written in transactions, so a crash leaves either the old or the new row, and readable by
another process (`appliance docs`) while the server writes.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, fields
from pathlib import Path

from appliance.databases import check_database

PENDING, INDEXED, FAILED, UNSUPPORTED, TOO_LARGE = (
    "pending",
    "indexed",
    "failed",
    "unsupported",
    "too_large",
)
SETTLED = (INDEXED, FAILED, UNSUPPORTED, TOO_LARGE)
NEEDS_ATTENTION = (FAILED, UNSUPPORTED, TOO_LARGE)  # files someone should look at

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    chunks INTEGER NOT NULL DEFAULT 0,
    indexed_at REAL,
    version TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT ''
)
"""


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    mtime_ns: int
    sha256: str = ""
    status: str = PENDING
    error: str = ""
    chunks: int = 0
    indexed_at: float | None = None
    version: str = ""
    # Why, as a stable name (unreadable, link_outside, ocr_missing, ...): programs and the page
    # go by it; `error` says it in a sentence. "" when there is nothing to say.
    code: str = ""


_COLUMNS = [f.name for f in fields(Entry)]


def summary(totals: dict[str, int]) -> dict[str, int]:
    """What the page says of the knowledge base when its list is closed, from the status
    totals: files searchable, waiting, and needing someone to look at them."""
    return {
        "searchable": totals.get(INDEXED, 0),
        "waiting": totals.get(PENDING, 0),
        "attention": sum(totals.get(status, 0) for status in NEEDS_ATTENTION),
    }


class Manifest:
    def __init__(self, path: Path, readonly: bool = False):
        if readonly:
            uri = f"file:{path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            check_database(path, "the list of indexed files: kb/ is scanned again, vectors reused")
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
            known = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
            if "code" not in known:  # a manifest from before reason codes
                self._db.execute("ALTER TABLE documents ADD COLUMN code TEXT NOT NULL DEFAULT ''")
        known = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        # Read-only (appliance docs, doctor) on a manifest the server has not migrated yet.
        self._select = ", ".join(c if c in known else f"'' AS {c}" for c in _COLUMNS)
        self._lock = threading.Lock()

    def get(self, path: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._select} FROM documents WHERE path = ?", (path,)
            ).fetchone()
        return Entry(*row) if row else None

    def entries(self) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._select} FROM documents ORDER BY path"
            ).fetchall()
        return [Entry(*row) for row in rows]

    def totals(self) -> dict[str, int]:
        """How many files have each status (only statuses some file has)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM documents GROUP BY status")
            return dict(rows.fetchall())

    def put(self, entry: Entry) -> None:
        values = [getattr(entry, c) for c in _COLUMNS]
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO documents ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                values,
            )

    def mark_pending(self, path: str, size: int, mtime_ns: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO documents (path, size, mtime_ns, status) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET status = excluded.status",
                (path, size, mtime_ns, PENDING),
            )

    def mark_all_pending(self) -> None:
        """Every indexed file listed as waiting: the index lost what it held."""
        with self._lock:
            self._db.execute(
                "UPDATE documents SET status = ?, chunks = 0 WHERE status = ?", (PENDING, INDEXED)
            )

    def remove(self, path: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM documents WHERE path = ?", (path,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
