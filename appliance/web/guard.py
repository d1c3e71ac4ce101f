"""Who may come in, and what every response carries.

- Access token (server.access_token, or APPLIANCE_ACCESS_TOKEN in .env): when set, the API,
  the page and the files need it: `Authorization: Bearer <token>`, or a session cookie
  (HttpOnly, SameSite=Strict) from signing in at /login. /health and /ready stay open, and
  /metrics when server.metrics_public is true.
- Cross-site requests: a state-changing request whose Origin is another site is refused
  (together with SameSite=Strict cookies and JSON bodies, this is the CSRF defence).
- Rate limit: questions per client address per minute (limits.questions_per_minute).
- Headers: a strict Content-Security-Policy (only this origin, no inline script), no
  framing, no MIME sniffing, no referrer.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import threading
import time
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, request, session

OPEN_PATHS = ("/health", "/ready", "/login", "/static/")
QUESTION_PATHS = ("/api/ask", "/api/ask/stream", "/v1/chat/completions", "/api/actions/confirm")
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def install(app: Flask, token: str, metrics_public: bool, questions_per_minute: int) -> None:
    app.secret_key = hashlib.sha256(f"appliance-session\0{token}".encode()).digest()
    app.config.update(
        SESSION_COOKIE_NAME="appliance_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    limiter = RateLimiter(questions_per_minute)

    @app.before_request
    def _guard():
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin():
            return jsonify(error="cross-site request refused"), 403
        if token and not _allowed(token, metrics_public):
            if request.method == "GET" and request.path == "/":
                return redirect("/login")
            return (
                jsonify(
                    error="sign in: send Authorization: Bearer <token>, or sign in on the page"
                ),
                401,
                {"WWW-Authenticate": "Bearer"},
            )
        if request.path in QUESTION_PATHS and request.method == "POST":
            wait = limiter.take(request.remote_addr or "?")
            if wait:
                return (
                    jsonify(
                        error=f"too many questions from this address; try again in "
                        f"{wait} s (limits.questions_per_minute)"
                    ),
                    429,
                    {"Retry-After": str(wait)},
                )
        return None

    @app.after_request
    def _headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if not token:
            return redirect("/")
        if request.method == "POST":
            if hmac.compare_digest(request.form.get("token", "").encode(), token.encode()):
                session["signed_in"] = True
                return redirect("/")
            return _login_page("That token is not right."), 401
        return _login_page("")

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect("/login")


def _allowed(token: str, metrics_public: bool) -> bool:
    path = request.path
    if path.startswith(OPEN_PATHS) or (path == "/metrics" and metrics_public):
        return True
    if session.get("signed_in"):
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def _same_origin() -> bool:
    """No Origin header (curl, scripts): fine, they need the token anyway. A browser's
    Origin must be this very host."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.host


def _login_page(message: str) -> str:
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>Sign in · Knowledge appliance</title><link rel="stylesheet" '
        'href="/static/style.css"><main class="login"><h1>Knowledge appliance</h1>'
        f'{note}<form method="post" action="/login"><label for="token">Access token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'required autofocus><button type="submit">Sign in</button></form></main></html>'
    )


class RateLimiter:
    """A token bucket per client address: `per_minute` questions, refilled continuously."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> int:
        """0 when allowed; else the seconds to wait."""
        if self.per_minute <= 0:
            return 0
        rate = self.per_minute / 60
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - then) * rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0
            self._buckets[client] = (tokens, now)
            return max(1, int((1 - tokens) / rate + 0.999))
