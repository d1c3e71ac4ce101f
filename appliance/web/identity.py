"""Who is calling: the access token (the admin), a user's key (appliance/users.py), or a
session cookie signed in with either. The guard (web/guard.py) finds the caller of every
request; the endpoints read it with `caller()` and keep to what it may read."""

from __future__ import annotations

import hmac
import logging

from flask import current_app, g, request

from appliance.users import EVERYONE, Caller, User, Users
from appliance.web.sessions import Sessions, fingerprint

log = logging.getLogger("appliance.web")


class Identity:
    def __init__(self, token: str, users: Users, sessions: Sessions):
        self.token = token
        self.users = users
        self.sessions = sessions

    def required(self) -> bool:
        """Whether requests must sign in: an access token is set, or a user exists."""
        return bool(self.token) or self.users.any()

    def by_key(self, key: str) -> Caller | None:
        """The caller a bearer key (or the sign-in form's key) names; None for a wrong one."""
        if self.token and hmac.compare_digest(key.encode(), self.token.encode()):
            return EVERYONE
        user = self.users.by_key(key)
        return user.caller() if user else None

    def by_session(self, session_id: str) -> Caller | None:
        """The caller of a session that is still good: signed in with a key that still
        works, by a user who still exists (with their grants as they are now)."""
        found = self.sessions.lookup(session_id)
        if found is None:
            return None
        name, signed_with = found
        if not name:
            ok = bool(self.token) and hmac.compare_digest(signed_with, fingerprint(self.token))
            return EVERYONE if ok else None
        user = self.users.get(name)
        if user is None or not hmac.compare_digest(signed_with, _user_fingerprint(user)):
            return None
        return user.caller()

    def sign_in(self, who: Caller, client: str) -> str:
        """A new session for `who`; returns its id for the cookie."""
        if not who.name:
            return self.sessions.create(client, "", fingerprint(self.token))
        user = self.users.get(who.name)
        if user is None:
            raise LookupError(who.name)
        return self.sessions.create(client, user.name, _user_fingerprint(user))


def _user_fingerprint(user: User) -> str:
    return fingerprint(f"user\0{user.name}\0{user.key_hash}")


def identity() -> Identity:
    return current_app.extensions["appliance.identity"]


def caller() -> Caller:
    """Who sent this request (set by the guard before any endpoint runs)."""
    return g.caller


def denied(what: str, path: str = "") -> None:
    """Log a refusal of something the caller may not see (the caller is told "not found")."""
    who = caller()
    log.warning(
        "access denied: %s",
        what,
        extra={
            "event": "access_denied",
            "user": who.name,
            "path": path or request.path,
            "client": request.remote_addr or "?",
        },
    )
