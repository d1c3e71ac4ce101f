"""An OpenAI-compatible front: `GET /v1/models` and `POST /v1/chat/completions` (streamed
or not), answered with RAG, so existing chat clients work unchanged. The answer's citations
and trust ride along in extra fields ("citations", "trust")."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator

from flask import Blueprint, jsonify

from appliance.answer.prompt import Turn
from appliance.errors import BadQuestion, Busy
from appliance.index.store import SearchFilter
from appliance.web import sse
from appliance.web.errors import json_body, ready_parts
from appliance.web.identity import caller

openai_api = Blueprint("openai_api", __name__, url_prefix="/v1")
MODEL = "appliance"


@openai_api.get("/models")
def models():
    return jsonify(
        object="list",
        data=[{"id": MODEL, "object": "model", "created": 0, "owned_by": "appliance"}],
    )


@openai_api.post("/chat/completions")
def chat_completions():
    body = json_body()
    question, history = _conversation(body.get("messages"))
    assistant = ready_parts().assistant
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    who = caller()
    asked = {"where": SearchFilter(within=who.folders), "history": history, "user": who.name}
    if not body.get("stream"):
        done = assistant.ask(question, **asked)
        return jsonify(_completion(completion_id, done))
    events = assistant.stream(question, **asked)
    return sse.stream(events, functools.partial(_chunks, completion_id))


def _conversation(messages: object) -> tuple[str, list[Turn]]:
    """The last user message is the question; earlier user/assistant pairs are history."""
    if not isinstance(messages, list) or not messages:
        raise BadQuestion("messages must be a non-empty list of {role, content} objects")
    turns, pending = [], None
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise BadQuestion("each message needs a role and a string content")
        if m.get("role") == "user":
            pending = m["content"]
        elif m.get("role") == "assistant" and pending is not None:
            turns.append(Turn(pending, m["content"]))
            pending = None
    if messages[-1].get("role") != "user":
        raise BadQuestion("the last message must be the user's question")
    return messages[-1]["content"], turns


def _completion(completion_id: str, done: dict) -> dict:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": done["answer"]},
                "finish_reason": "stop",
            }
        ],
        "citations": done["citations"],
        "trust": done["trust"],
    }


def _chunks(completion_id: str, events) -> Iterator[str]:
    """The answer's events as OpenAI's chunks, ending with `[DONE]`."""

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return sse.frame(data)

    streamed = False
    try:
        yield chunk({"role": "assistant"})
        for event in events:
            if event.kind == "token":
                streamed = True
                yield chunk({"content": event.data})
            elif event.kind == "done":
                if not streamed:  # "not found" answers come whole, without tokens
                    yield chunk({"content": event.data["answer"]})
                done = event.data
                yield chunk({}, "stop", citations=done["citations"], trust=done["trust"])
            elif event.kind == "queued":
                yield ": queued\n\n"  # an SSE comment: keeps the connection alive
    except Busy as err:
        yield sse.frame({"error": {"message": f"busy: {err}", "type": "busy"}})
    yield "data: [DONE]\n\n"
