"""Errors as JSON with a clear message, for the API and the OpenAI-compatible endpoints:
bad input is a 4xx that says what to fix; a busy or starting appliance is a 503 with
Retry-After; nothing becomes an HTML error page or a stack trace."""

from __future__ import annotations

import json
import logging
import uuid

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from appliance.answer.admission import Busy
from appliance.answer.assistant import BadQuestion

log = logging.getLogger("appliance.web")


class NotReady(Exception):
    pass


def ready_appliance():
    """The appliance, once it answers questions; NotReady (503) before that."""
    appliance = current_app.config["APPLIANCE"]
    if not appliance.ready.is_set():
        state = appliance.readiness()
        raise NotReady(state["error"] or "the appliance is still starting (see /ready)")
    return appliance


def json_body() -> dict:
    """The request's JSON object, or BadQuestion (400/415) saying what is wrong with it."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"send JSON with Content-Type: application/json (got {request.mimetype or 'none'})"
        )
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
        # Lone surrogates (\ud800) are valid JSON but not text: refuse them here, not deep
        # inside the tokenizer, SQLite or the index.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError) as err:
        raise BadQuestion(f"the body is not valid JSON text: {err}") from None
    except RecursionError:
        raise BadQuestion("the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise BadQuestion("the body must be a JSON object")
    return body


class UnsupportedMediaType(BadQuestion):
    status = 415


def register(app: Flask) -> None:
    @app.errorhandler(NotReady)
    def _not_ready(err):
        return jsonify(error=str(err)), 503, {"Retry-After": "5"}

    @app.errorhandler(Busy)
    def _busy(err):
        return jsonify(error=f"busy: {err}"), 503, {"Retry-After": str(Busy.retry_after_s)}

    @app.errorhandler(BadQuestion)
    def _bad_request(err):
        return jsonify(error=str(err)), getattr(err, "status", 400)

    @app.errorhandler(HTTPException)
    def _http(err):
        if err.code == 413:
            if request.path == "/api/upload":
                limit = current_app.config["APPLIANCE"].settings.server.max_upload_mb
                return jsonify(error=f"the upload is over {limit:g} MB (server.max_upload_mb)"), 413
            limit = current_app.config["MAX_CONTENT_LENGTH"] // 1024
            return jsonify(error=f"the body is over {limit} KB (limits.max_body_kb)"), 413
        return jsonify(error=err.description), err.code

    @app.errorhandler(Exception)
    def _unexpected(err):
        # The details (paths, library messages) go to the log, never to the client.
        reference = uuid.uuid4().hex[:8]
        log.exception(
            "request failed: %s %s",
            request.method,
            request.path,
            extra={"event": "request_failed", "reference": reference},
        )
        return jsonify(error=f"internal error (reference {reference}): see the server log"), 500
