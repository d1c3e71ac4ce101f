"""JSON API: ask (whole, or streamed as Server-Sent Events), search, documents."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator

from flask import Blueprint, jsonify, request

from appliance.answer.assistant import Event
from appliance.answer.generators import GeneratorError
from appliance.errors import BadQuestion, Busy
from appliance.index.store import SearchFilter
from appliance.sync.manifest import summary
from appliance.web import actions, sse
from appliance.web.errors import client_gone, json_body, ready_parts, runtime
from appliance.web.identity import caller, identity
from appliance.web.library import UPLOAD_FOLDER, indexing, totals

api = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger("appliance.web")


def _ask_arguments(body: dict) -> dict:
    k = body.get("k")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50):
        raise BadQuestion("k must be an integer from 1 to 50")
    conversation = body.get("conversation_id")
    if conversation is not None and (not isinstance(conversation, str) or len(conversation) > 64):
        raise BadQuestion("conversation_id must be a string of at most 64 characters")
    return {
        "question": body.get("question"),
        "k": k,
        "where": _where(body.get("folder"), body.get("types")),
        "conversation_id": conversation,
        "user": caller().name,
    }


def _where(folder: object, types: object) -> SearchFilter:
    """Restrict retrieval to a sub-folder of kb/ and/or file types ("pdf" or ["pdf", "md"]);
    always to what the caller may read."""
    if folder is not None and not isinstance(folder, str):
        raise BadQuestion("folder must be a string: a sub-folder of kb/")
    if isinstance(types, str):
        types = [t for t in types.split(",") if t.strip()]
    if types is not None and (
        not isinstance(types, list) or not all(isinstance(t, str) for t in types)
    ):
        raise BadQuestion('types must be a list of file extensions, like ["pdf", "docx"]')
    cleaned = tuple(t.strip().lower().lstrip(".") for t in types or ())
    return SearchFilter(folder=folder or None, types=cleaned, within=caller().folders)


def _question() -> tuple[dict, dict | None]:
    """The question's arguments; and, with tools on, the proposal when it asks for an action
    (web/actions.py)."""
    body = json_body()
    arguments = _ask_arguments(body)
    tool = body.get("tool")
    return arguments, actions.propose(arguments["question"], arguments["conversation_id"], tool)


@api.post("/ask")
def ask():
    arguments, proposal = _question()
    if proposal is not None:
        return jsonify(proposal)
    return jsonify(ready_parts().assistant.ask(**arguments, gone=client_gone()))


@api.post("/ask/stream")
def ask_stream():
    arguments, proposal = _question()
    if proposal is not None:
        events = _proposal_events(proposal)
    else:
        events = ready_parts().assistant.stream(**arguments)
    return sse.stream(events, _frames)


def _proposal_events(proposal: dict) -> Iterator[Event]:
    yield Event("proposal", proposal["proposal"])
    yield Event("done", proposal)


def _frames(events: Iterator[Event]) -> Iterator[str]:
    """The page's events as they are; a failure after the first is an "error" event."""
    try:
        for event in events:
            yield sse.frame(event.data, event.kind)
    except Busy as err:  # waited in line too long: the status line is gone, say it here
        busy = {"error": f"busy: {err}", "code": "busy", "retry_after": Busy.retry_after_s}
        yield sse.frame(busy, "error")
    except GeneratorError as err:  # the model down, and nothing to quote
        log.warning("streamed answer failed: %s", err)
        failed = {"error": f"the model could not answer: {err}", "code": "generator_unavailable"}
        yield sse.frame(failed, "error")
    except Exception as err:
        log.exception("streamed answer failed")
        failed = {"error": f"{type(err).__name__}: {err}", "code": "answer_failed"}
        yield sse.frame(failed, "error")


@api.get("/search")
def search():
    given = request.args.get("k")
    k = int(given) if given is not None and given.strip().isdigit() else given
    if k is not None and not (isinstance(k, int) and 1 <= k <= 50):
        raise BadQuestion("k must be an integer from 1 to 50")
    where = _where(request.args.get("folder"), request.args.get("type"))
    citations, timings = ready_parts().assistant.search(request.args.get("q", ""), k, where)
    return jsonify(citations=[c.public() for c in citations], timings=timings)


@api.post("/feedback")
def feedback():
    """Thumbs up or down on an answer, stored with its query id (a new vote replaces the
    earlier one; "none" takes it back)."""
    body = json_body()
    query_id, rating = body.get("id"), body.get("rating")
    comment = body.get("comment") or ""
    if not isinstance(query_id, str) or not 1 <= len(query_id) <= 64:
        raise BadQuestion("id must be the answer's id")
    if rating not in ("up", "down", "none"):
        raise BadQuestion('rating must be "up", "down" or "none" (to take a vote back)')
    if not isinstance(comment, str) or len(comment) > 2000:
        raise BadQuestion("comment must be text of at most 2000 characters")
    try:
        stored = ready_parts().history.add_feedback(query_id, rating, comment, caller().name)
    except sqlite3.Error as err:
        message = f"feedback not stored ({err}): the data dir may be full or read-only"
        return jsonify(error=message, code="storage_problem"), 503, {"Retry-After": "60"}
    if not stored:
        message = f"no answer has the id {query_id!r} (or it is too old)"
        return jsonify(error=message, code="not_found"), 404
    return jsonify(stored=True), 201


@api.get("/status")
def status():
    """The page's status line: ready, indexing progress, model and where it runs."""
    parts = ready_parts()
    generator = parts.assistant.generator
    state = runtime().readiness()
    who = caller()
    counted = totals(parts, who)
    signed_in = identity().required()
    return jsonify(
        ready=state["ready"],
        model=generator.name,
        device=generator.device,
        indexing=indexing(parts, who, counted),
        documents=summary(counted),
        answers=state["answers"],
        watcher=state["checks"]["watcher"],
        ingestion=state["ingestion"],
        signed_in=signed_in,  # the page offers Sign out
        user={"name": who.name, "admin": who.admin} if signed_in else None,
        # The page offers its drop zone (uploads go to kb/uploads/: the caller's to read?).
        uploads=parts.settings.server.uploads and who.may_enter(UPLOAD_FOLDER),
        max_upload_mb=parts.settings.server.max_upload_mb,  # the page refuses bigger files
    )
