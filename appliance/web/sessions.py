"""Signed-in browsers. Signing in gives a random session id in an HttpOnly cookie; the server
keeps only its hash (data/sessions.sqlite3), so a session can be ended for real: at sign-out,
when it expires (server.session_hours), or for everyone when the access token changes.
Sessions survive a restart of the appliance."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, token_fingerprint TEXT NOT NULL, created REAL NOT NULL,
    expires REAL NOT NULL, client TEXT NOT NULL DEFAULT ''
)
"""


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Sessions:
    def __init__(self, path: Path, token: str, lifetime_s: float):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        # A session made under another access token is not valid under this one.
        self._fingerprint = _hash(f"appliance-session\0{token}")
        self.lifetime_s = lifetime_s

    def create(self, client: str) -> str:
        """A new session; returns the id for the cookie (never stored as is)."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            self._db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (_hash(session_id), self._fingerprint, now, now + self.lifetime_s, client),
            )
        return session_id

    def valid(self, session_id: str) -> bool:
        if not session_id:
            return False
        with self._lock:
            row = self._db.execute(
                "SELECT token_fingerprint, expires FROM sessions WHERE id_hash = ?",
                (_hash(session_id),),
            ).fetchone()
        return row is not None and row[0] == self._fingerprint and row[1] > time.time()

    def end(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(session_id),))

    def close(self) -> None:
        with self._lock:
            self._db.close()
