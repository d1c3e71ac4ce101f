"""The page people use, and the health endpoints probes use."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, send_from_directory

pages = Blueprint("pages", __name__)


@pages.get("/")
def index():
    return send_from_directory(current_app.static_folder, "index.html")


@pages.get("/health")
def health():
    """The process is alive and answering HTTP."""
    return jsonify(status="ok")


@pages.get("/ready")
def ready():
    """Models loaded, index open, start-up sync done: 503 until then."""
    state = current_app.config["APPLIANCE"].readiness()
    return jsonify(state), (200 if state["ready"] else 503)


@pages.get("/metrics")
def metrics():
    """Prometheus text format."""
    body = current_app.config["APPLIANCE"].metrics.exposition()
    return Response(body, mimetype="text/plain; version=0.0.4")
