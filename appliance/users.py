"""Who may read what: named users, each granted sub-folders of kb/.

- No users (the default): whoever passes the guard (the access token, or none on a private
  address) sees all of kb/, as before.
- Once a user exists, every request signs in: with the access token (the admin, who sees
  everything) or with a user's key. A user sees kb/'s top level, which is shared, and the
  folders granted to them with everything under them; the grant `*` is all of kb/, and so
  is the admin role.
- Keys are random and shown once (`appliance users add`); only their SHA-256 is stored.
- Grants are read at every request: a revoke or a removed user takes effect at the next one.

Stored in data/users.sqlite3; `PRAGMA user_version` numbers the schema's migrations.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from appliance.databases import check_database
from appliance.errors import UserError

ALL = "*"
KEY_PREFIX = "kbu_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_MIGRATIONS = (
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE,
        admin INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL
    );
    CREATE TABLE grants (
        user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        folder TEXT NOT NULL,
        PRIMARY KEY (user, folder)
    );
    """,
)


@dataclass(frozen=True)
class Caller:
    """Who is asking. `folders`: the kb/ sub-folders they may read, or None for all of kb/."""

    name: str
    admin: bool
    folders: tuple[str, ...] | None

    def may_read(self, path: str) -> bool:
        """Whether this caller may see the kb/ file `path` (relative, with "/")."""
        parent = PurePosixPath(path).parent
        return parent == PurePosixPath(".") or self.may_enter(str(parent))  # top level: shared

    def may_enter(self, folder: str) -> bool:
        """Whether this caller may see what the kb/ folder `folder` holds: it is granted, or
        lies under a granted folder."""
        if self.folders is None:
            return True
        return any(folder == f or folder.startswith(f"{f}/") for f in self.folders)


EVERYONE = Caller("", admin=True, folders=None)  # no users configured, or the access token


@dataclass(frozen=True)
class User:
    name: str
    admin: bool
    folders: tuple[str, ...]
    key_hash: str

    def caller(self) -> Caller:
        sees_all = self.admin or ALL in self.folders
        return Caller(self.name, self.admin, None if sees_all else self.folders)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def folder_name(folder: str) -> str:
    """A grant's folder as stored: relative to kb/, "/"-separated, no leading or trailing
    slash; `*` for all of kb/."""
    cleaned = folder.strip().replace("\\", "/").strip("/")
    if cleaned == ALL:
        return ALL
    parts = PurePosixPath(cleaned).parts
    if not cleaned or any(p in (".", "..") for p in parts) or "*" in cleaned:
        raise UserError(
            f"{folder!r} is not a folder of kb/: give a sub-folder such as hr or "
            f"finance/payroll (or {ALL} for all of kb/)"
        )
    return "/".join(parts)


class Users:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        check_database(path, "users and their keys", replaceable=False)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(_MIGRATIONS[version:], version + 1):
                self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    def any(self) -> bool:
        """Whether access by user is on (at least one user exists)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def add(self, name: str, admin: bool = False, folders: Iterable[str] = ()) -> str:
        """A new user with their grants; returns their key (shown once, never stored)."""
        if not _NAME.match(name):
            raise UserError(
                f"{name!r} is not a usable user name: letters, digits and . _ @ - "
                "(up to 64, starting with a letter or digit)"
            )
        grants = sorted({folder_name(f) for f in folders})
        key = _new_key()
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.execute(
                    "INSERT INTO users VALUES (?, ?, ?, ?)",
                    (name, key_hash(key), int(admin), time.time()),
                )
                self._db.executemany(
                    "INSERT INTO grants VALUES (?, ?)", [(name, f) for f in grants]
                )
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                raise UserError(f"a user named {name!r} exists already") from None
        return key

    def remove(self, name: str) -> None:
        with self._lock:
            if not self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise UserError(_no_such_user(name))

    def grant(self, name: str, folders: Iterable[str]) -> None:
        rows = [(name, folder_name(f)) for f in folders]
        self._require(name)
        with self._lock:
            self._db.executemany("INSERT OR IGNORE INTO grants VALUES (?, ?)", rows)

    def revoke(self, name: str, folders: Iterable[str]) -> None:
        rows = [(name, folder_name(f)) for f in folders]
        self._require(name)
        with self._lock:
            self._db.executemany("DELETE FROM grants WHERE user = ? AND folder = ?", rows)

    def new_key(self, name: str) -> str:
        """A new key for the user; the old one (and every session it signed in) stops working."""
        key = _new_key()
        with self._lock:
            changed = self._db.execute(
                "UPDATE users SET key_hash = ? WHERE name = ?", (key_hash(key), name)
            ).rowcount
        if not changed:
            raise UserError(_no_such_user(name))
        return key

    def get(self, name: str) -> User | None:
        return next(iter(self._select("WHERE u.name = ?", (name,))), None)

    def by_key(self, key: str) -> User | None:
        if not key.startswith(KEY_PREFIX):
            return None
        return next(iter(self._select("WHERE u.key_hash = ?", (key_hash(key),))), None)

    def all(self) -> list[User]:
        return self._select("", ())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _require(self, name: str) -> None:
        if self.get(name) is None:
            raise UserError(_no_such_user(name))

    def _select(self, where: str, args: tuple) -> list[User]:
        with self._lock:
            rows = self._db.execute(
                "SELECT u.name, u.admin, u.key_hash, group_concat(g.folder, char(10)) "
                f"FROM users u LEFT JOIN grants g ON g.user = u.name {where} "
                "GROUP BY u.name ORDER BY u.name",
                args,
            ).fetchall()
        return [
            User(name, bool(admin), tuple(sorted(folders.split("\n"))) if folders else (), hashed)
            for name, admin, hashed, folders in rows
        ]


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _no_such_user(name: str) -> str:
    return f"no user named {name!r} (appliance users list shows them)"


def users_path(data: Path) -> Path:
    return data / "users.sqlite3"
