"""JSON API: ask (whole or streamed as Server-Sent Events), search, documents."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from appliance.answer.admission import Busy
from appliance.answer.assistant import BadQuestion
from appliance.index.store import SearchFilter

api = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger("appliance.web")


class NotReady(Exception):
    pass


def _appliance():
    return current_app.config["APPLIANCE"]


def _assistant():
    appliance = _appliance()
    if not appliance.ready.is_set():
        state = appliance.readiness()
        raise NotReady(state["error"] or "the appliance is still starting (see /ready)")
    return appliance.assistant


@api.errorhandler(NotReady)
def _not_ready(err):
    return jsonify(error=str(err)), 503, {"Retry-After": "5"}


@api.errorhandler(Busy)
def _busy(err):
    return jsonify(error=f"busy: {err}"), 503, {"Retry-After": "10"}


@api.errorhandler(BadQuestion)
def _bad_question(err):
    return jsonify(error=str(err)), 400


def _question() -> tuple[str, int | None, SearchFilter]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadQuestion('send a JSON object like {"question": "..."}')
    k = body.get("k")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50):
        raise BadQuestion("k must be an integer from 1 to 50")
    return body.get("question"), k, _where(body.get("folder"), body.get("types"))


def _where(folder: object, types: object) -> SearchFilter:
    """Restrict retrieval to a sub-folder of kb/ and/or file types ("pdf" or ["pdf", "md"])."""
    if folder is not None and not isinstance(folder, str):
        raise BadQuestion("folder must be a string: a sub-folder of kb/")
    if isinstance(types, str):
        types = [t for t in types.split(",") if t.strip()]
    if types is not None and (
        not isinstance(types, list) or not all(isinstance(t, str) for t in types)
    ):
        raise BadQuestion('types must be a list of file extensions, like ["pdf", "docx"]')
    cleaned = tuple(t.strip().lower().lstrip(".") for t in types or ())
    return SearchFilter(folder=folder or None, types=cleaned)


@api.post("/ask")
def ask():
    question, k, where = _question()
    return jsonify(_assistant().ask(question, k, where))


@api.post("/ask/stream")
def ask_stream():
    question, k, where = _question()
    events = _assistant().stream(question, k, where)
    first = next(events)  # raises BadQuestion/Busy here, while a JSON error can still be sent
    return Response(
        stream_with_context(_sse(first, events)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(first, events) -> Iterator[str]:
    try:
        for event in _chain(first, events):
            yield f"event: {event.kind}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n"
    except Exception as err:  # the status line is gone: report the failure in the stream
        log.exception("streamed answer failed")
        yield f"event: error\ndata: {json.dumps({'error': str(err)})}\n\n"
    finally:
        events.close()


def _chain(first, rest):
    yield first
    yield from rest


@api.get("/search")
def search():
    k = request.args.get("k", type=int)
    if k is not None and not 1 <= k <= 50:
        raise BadQuestion("k must be an integer from 1 to 50")
    where = _where(request.args.get("folder"), request.args.get("type"))
    citations, timings = _assistant().search(request.args.get("q", ""), k, where)
    return jsonify(citations=[c.public() for c in citations], timings=timings)


@api.get("/documents")
def documents():
    appliance = _appliance()
    if appliance.manifest is None:
        raise NotReady("the index is not open yet (see /ready)")
    entries = appliance.manifest.entries()
    return jsonify(
        documents=[
            {
                "path": e.path,
                "status": e.status,
                "chunks": e.chunks,
                "error": e.error,
                "size": e.size,
                "indexed_at": e.indexed_at,
            }
            for e in entries
        ]
    )
