"""Who may come in, and what every response carries.

- Host names: only requests addressed to a known name are served: an IP address, a loopback
  name, server.host, this machine's name, or a name in server.allowed_hosts. A DNS-rebinding
  page (an attacker's name that resolves to this box) is refused, whatever its Origin says.
- Signing in (web/identity.py): when server.access_token (or APPLIANCE_ACCESS_TOKEN in .env)
  is set, or any user exists (appliance/users.py), the API, the page and the files need
  `Authorization: Bearer <token or user key>`, or a session cookie from signing in at /login
  (web/signin.py). The access token is the admin; a user sees their granted folders.
  /health and /ready stay open, and /metrics when server.metrics_public is true (else it is
  for admins). Wrong keys are logged and throttled per client.
- Cross-site requests: a state-changing request from another site is refused (with
  SameSite=Strict cookies and JSON bodies, this is the CSRF defence).
- Rate limits per client address: questions, searches and feedback.
- Headers: a strict Content-Security-Policy (only this origin, no inline script), no
  framing, no MIME sniffing, no referrer to other sites.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app, g, jsonify, redirect, request

from appliance.config import Settings
from appliance.users import EVERYONE, Caller
from appliance.web.identity import Identity, denied

log = logging.getLogger("appliance.web")

OPEN_PATHS = ("/health", "/ready", "/login", "/static/")
QUESTION_PATHS = ("/api/ask", "/api/ask/stream", "/v1/chat/completions", "/api/actions/confirm")
SESSION_COOKIE = "appliance_session"
NOBODY = Caller("", admin=False, folders=())  # a public /metrics scrape: reads no document
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not "no-referrer": with it, browsers send `Origin: null` on our own sign-in form, which
    # the cross-site check must refuse. "same-origin" still sends nothing to other sites.
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class Limiters:
    questions: RateLimiter
    searches: RateLimiter
    feedback: RateLimiter
    sign_in_failures: RateLimiter


def limiters() -> Limiters:
    return current_app.extensions["appliance.limiters"]


def install(app: Flask, settings: Settings, identity: Identity) -> None:
    """`identity`: who may sign in (web/identity.py)."""
    server, limits = settings.server, settings.limits
    hosts = known_host_names(server.host, server.allowed_hosts)
    app.extensions["appliance.limiters"] = Limiters(
        questions=RateLimiter(limits.questions_per_minute),
        searches=RateLimiter(limits.searches_per_minute),
        feedback=RateLimiter(limits.questions_per_minute),
        sign_in_failures=RateLimiter(limits.failed_sign_ins_per_minute),
    )

    @app.before_request
    def _guard():
        # No Host header at all (an HTTP/1.0 probe) is no browser, so no rebinding attack.
        if "Host" in request.headers and not is_known_host(request.host, hosts):
            log.warning(
                "request for an unknown host name refused",
                extra={"event": "unknown_host", "host": request.host, "client": _client()},
            )
            return _error(
                400,
                f"this appliance does not answer to the name {request.host!r}; an operator "
                "can add it to server.allowed_hosts",
                code="unknown_host",
            )
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin():
            return _error(403, "cross-site request refused", code="cross_site")
        if request.path.startswith(OPEN_PATHS):
            return None
        if request.path == "/metrics" and server.metrics_public:
            g.caller = NOBODY
            return None
        if not identity.required():
            g.caller = EVERYONE
        else:
            refused = _authenticate(identity)
            if refused is not None:
                return refused
            if request.path == "/metrics" and not g.caller.admin:
                denied("the metrics are for admins (or server.metrics_public: true)")
                return _error(403, "the metrics are for admins", code="forbidden")
        return _rate_limited()

    @app.after_request
    def _headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _authenticate(identity: Identity):
    """None when the request may go on (g.caller is then who sent it); else the refusal."""
    session = identity.by_session(request.cookies.get(SESSION_COOKIE, ""))
    if session is not None:
        g.caller = session
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given:
        # Throttled clients are refused before their key is even compared: otherwise a
        # guesser would still learn, at full speed, which guess is right.
        wait = sign_in_wait()
        if wait:
            return _error(
                429, too_many_sign_ins(wait), {"Retry-After": str(wait)}, "too_many_sign_ins"
            )
        found = identity.by_key(given)
        if found is not None:
            g.caller = found
            return None
        failed_sign_in("wrong bearer token")
    if request.method == "GET" and request.path == "/":
        return redirect("/login")
    return _error(
        401,
        "sign in: send Authorization: Bearer <token or user key>, or sign in on the page",
        {"WWW-Authenticate": "Bearer"},
        "sign_in_required",
    )


def failed_sign_in(reason: str) -> None:
    """Log a wrong token and count it against this client."""
    limiters().sign_in_failures.take(_client())
    log.warning(
        "sign-in refused: %s",
        reason,
        extra={"event": "sign_in_refused", "client": _client(), "path": request.path},
    )


def sign_in_wait() -> int:
    """Seconds this client must wait after too many wrong tokens (0: none)."""
    return limiters().sign_in_failures.wait(_client())


def too_many_sign_ins(wait: int) -> str:
    return f"too many wrong sign-ins from this address; try again in {wait} s"


def _rate_limited():
    path, method = request.path, request.method
    if method == "POST" and path in QUESTION_PATHS:
        bucket, what, key = limiters().questions, "questions", "limits.questions_per_minute"
    elif method == "POST" and path == "/api/feedback":
        bucket, what, key = limiters().feedback, "feedback", "limits.questions_per_minute"
    elif path == "/api/search":
        bucket, what, key = limiters().searches, "searches", "limits.searches_per_minute"
    else:
        return None
    wait = bucket.take(_client())
    if not wait:
        return None
    return _error(
        429,
        f"too many {what} from this address; try again in {wait} s ({key})",
        {"Retry-After": str(wait)},
        "too_many_requests",
    )


def _error(status: int, message: str, headers: dict | None = None, code: str = "refused"):
    return jsonify(error=message, code=code), status, headers or {}


def _client() -> str:
    return request.remote_addr or "?"


def known_host_names(host: str, allowed: tuple[str, ...]) -> frozenset[str]:
    names = {name.lower() for name in allowed}
    if host not in ("0.0.0.0", "::", ""):
        names.add(host.lower())
    names.add(socket.gethostname().lower())
    return frozenset(names)


def is_known_host(host_header: str, names: frozenset[str]) -> bool:
    """An IP address cannot be rebound by DNS, so any is fine; a name must be known."""
    try:
        name = urlsplit(f"//{host_header}").hostname
    except ValueError:
        return False
    if not name:
        return False
    if "*" in names or name == "localhost" or name.endswith(".localhost") or name in names:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _same_origin() -> bool:
    """No Origin header (curl, scripts): fine, they need the token anyway. A browser's
    request must come from this very host; `Origin: null` (a sandboxed page, or a form
    under a strict referrer policy) counts only when the browser itself says same-origin."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("Origin")
    if not origin:
        return True
    if origin == "null":
        return fetch_site == "same-origin"
    return urlsplit(origin).netloc.lower() == request.host.lower()


class RateLimiter:
    """A token bucket per client address: `per_minute` actions, refilled continuously."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> int:
        """0 when allowed (and counted); else the seconds to wait."""
        return self._check(client, take=True)

    def wait(self, client: str) -> int:
        """The seconds this client must wait before its next action (0: none); counts nothing."""
        return self._check(client, take=False)

    def _check(self, client: str, take: bool) -> int:
        if self.per_minute <= 0:
            return 0
        rate = self.per_minute / 60
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > 10_000:  # forget clients that are full again
                self._buckets = {
                    c: (t, then)
                    for c, (t, then) in self._buckets.items()
                    if t + (now - then) * rate < self.per_minute
                }
            tokens, then = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - then) * rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1 if take else tokens, now)
                return 0
            self._buckets[client] = (tokens, now)
            return max(1, int((1 - tokens) / rate + 0.999))
