"""Errors as JSON with a clear message, for the API and the OpenAI-compatible endpoints:
bad input is a 4xx that says what to fix; a busy or starting appliance is a 503 with
Retry-After; nothing becomes an HTML error page or a stack trace."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from appliance.answer.generators import GeneratorError
from appliance.errors import BadQuestion, Busy, ClientGone, NotReady

if TYPE_CHECKING:
    from appliance.app import Parts
    from appliance.runtime import Runtime

log = logging.getLogger("appliance.web")


def runtime() -> Runtime:
    """The running appliance this app serves (runtime.py)."""
    return current_app.config["RUNTIME"]


def client_gone() -> Callable[[], bool] | None:
    """Whether the client of this request went away, as waitress can tell while the app
    works (server.http_server: channel_request_lookahead); None under another server."""
    return request.environ.get("waitress.client_disconnected")


def ready_parts() -> Parts:
    """Its parts, once it answers questions; NotReady (503) before that."""
    return runtime().answering()


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

    def __init__(self, message: str):
        super().__init__(message, "unsupported_media_type")


class Forbidden(BadQuestion):
    status = 403


# The `code` of an HTTP error without one of its own.
_HTTP_CODES = {
    401: "sign_in_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "too_many_requests",
}


def register(app: Flask) -> None:
    @app.errorhandler(NotReady)
    def _not_ready(err):
        return jsonify(error=str(err), code="not_ready"), 503, {"Retry-After": "5"}

    @app.errorhandler(Busy)
    def _busy(err):
        headers = {"Retry-After": str(Busy.retry_after_s)}
        return jsonify(error=f"busy: {err}", code="busy"), 503, headers

    @app.errorhandler(ClientGone)
    def _client_gone(err):  # nobody reads this: the connection is gone
        return jsonify(error=str(err), code="client_gone"), 400

    @app.errorhandler(GeneratorError)
    def _generator_down(err):  # nothing to quote either: say the model is the trouble
        headers = {"Retry-After": "30"}
        message = f"the model could not answer: {err}"
        return jsonify(error=message, code="generator_unavailable"), 503, headers

    @app.errorhandler(BadQuestion)
    def _bad_request(err):
        named = {"name": err.name} if hasattr(err, "name") else {}  # the file it is about
        return jsonify(error=str(err), code=err.code, **named), err.status

    @app.errorhandler(HTTPException)
    def _http(err):
        if err.code == 413:
            if request.path == "/api/upload":
                limit = runtime().settings.server.max_upload_mb
                message = f"the upload is over {limit:g} MB (server.max_upload_mb)"
                return jsonify(error=message, code="upload_too_large", limit_mb=limit), 413
            limit = current_app.config["MAX_CONTENT_LENGTH"] // 1024
            message = f"the body is over {limit} KB (limits.max_body_kb)"
            return jsonify(error=message, code="body_too_large"), 413
        code = _HTTP_CODES.get(err.code, f"http_{err.code}")
        return jsonify(error=err.description, code=code), err.code

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
        message = f"internal error (reference {reference}): see the server log"
        return jsonify(error=message, code="internal_error"), 500
