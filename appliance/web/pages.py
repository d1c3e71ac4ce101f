"""The page people use, and the health endpoints probes use."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from appliance.web import language
from appliance.web.errors import runtime

pages = Blueprint("pages", __name__)
REMEMBER_S = 365 * 24 * 3600


@pages.get("/")
def index():
    """The page in the reader's language: ?lang= (a choice, then remembered), the cookie of an
    earlier choice, or the browser's Accept-Language."""
    chosen = request.args.get("lang")
    tag = language.of_request(chosen)
    response = Response(language.page(tag), mimetype="text/html")
    response.headers["Content-Language"] = tag
    response.vary.update(("Accept-Language", "Cookie"))
    if chosen == tag:
        response.set_cookie(language.COOKIE, tag, max_age=REMEMBER_S, samesite="Lax")
    return response


@pages.get("/health")
def health():
    """The process is alive and answering HTTP."""
    return jsonify(status="ok")


@pages.get("/ready")
def ready():
    """Models loaded, index open, start-up sync done (on a restart, its quick part: deleted
    files removed; the rest goes on, checks.startup_sync_done says when it is done): 503
    until then."""
    state = runtime().readiness()
    return jsonify(state), (200 if state["ready"] else 503)


@pages.get("/metrics")
def metrics():
    """Prometheus text format."""
    body = runtime().parts.metrics.exposition()
    return Response(body, mimetype="text/plain; version=0.0.4")
