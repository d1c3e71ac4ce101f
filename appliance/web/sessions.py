"""Signed-in browsers. Signing in gives a random session id in an HttpOnly cookie; the server
keeps only its hash (data/sessions.sqlite3), with who signed in and a fingerprint of the key
they used, so a session can be ended for real: at sign-out, when it expires
(server.session_hours), or when that key changes (a new access token, a user's new key, a
removed user). Sessions survive a restart of the appliance."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from appliance.databases import check_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, token_fingerprint TEXT NOT NULL, created REAL NOT NULL,
    expires REAL NOT NULL, client TEXT NOT NULL DEFAULT ''
)
"""


def fingerprint(secret: str) -> str:
    """What a session remembers of the key it was signed in with."""
    return _hash(f"appliance-session\0{secret}")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Sessions:
    def __init__(self, path: Path, lifetime_s: float):
        path.parent.mkdir(parents=True, exist_ok=True)
        check_database(path, "sign-in sessions: users sign in again")
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
        if "user" not in columns:  # sessions from before users: the access token's ("")
            self._db.execute("ALTER TABLE sessions ADD COLUMN user TEXT NOT NULL DEFAULT ''")
        self._lock = threading.Lock()
        self.lifetime_s = lifetime_s

    def create(self, client: str, user: str, key_fingerprint: str) -> str:
        """A new session for `user` ("" for the access token); returns the id for the cookie
        (never stored as is)."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            self._db.execute(
                "INSERT INTO sessions (id_hash, token_fingerprint, created, expires, client, user)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (_hash(session_id), key_fingerprint, now, now + self.lifetime_s, client, user),
            )
        return session_id

    def lookup(self, session_id: str) -> tuple[str, str] | None:
        """(user, key fingerprint) of a session that has not expired; None for any other."""
        if not session_id:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT user, token_fingerprint, expires FROM sessions WHERE id_hash = ?",
                (_hash(session_id),),
            ).fetchone()
        if row is None or row[2] <= time.time():
            return None
        return row[0], row[1]

    def end(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(session_id),))

    def close(self) -> None:
        with self._lock:
            self._db.close()
