"""An OpenAI-compatible front: `GET /v1/models` and `POST /v1/chat/completions` (streamed
or not), answered with RAG, so existing chat clients work unchanged. The answer's citations
and trust ride along in extra fields ("citations", "trust", "mode", "replaced_because").

OpenAI's stream cannot take back what it sent, and in auto mode a draft that the documents
do not support is replaced by quotes once it is written: there the answer is sent when it is
checked (an SSE comment every few tokens meanwhile keeps the connection alive), never the
draft."""

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
from appliance.web.errors import client_gone, json_body, ready_parts
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
        done = assistant.ask(question, **asked, gone=client_gone())
        return jsonify(_completion(completion_id, done))
    events = assistant.stream(question, **asked)
    live = assistant.mode != "auto"  # else the draft may be replaced by quotes
    return sse.stream(events, functools.partial(_chunks, completion_id, live=live))


def _conversation(messages: object) -> tuple[str, list[Turn]]:
    """The last user message is the question; earlier user/assistant pairs are history."""
    if not isinstance(messages, list) or not messages:
        raise BadQuestion("messages must be a non-empty list of {role, content} objects")
    turns, pending, text = [], None, ""
    for m in messages:
        if not isinstance(m, dict):
            raise BadQuestion("each message needs a role and a string content")
        text = _text(m.get("content"))
        if m.get("role") == "user":
            pending = text
        elif m.get("role") == "assistant" and pending is not None:
            turns.append(Turn(pending, text))
            pending = None
    if messages[-1].get("role") != "user":
        raise BadQuestion("the last message must be the user's question")
    return text, turns


def _text(content: object) -> str:
    """A message's content: a string, or (newer clients) a list of parts, of which text
    parts are read and joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        others = sorted({str(part.get("type")) for part in content} - {"text"})
        if others:
            raise BadQuestion(f"only text parts can be read in a message, not {others}")
        if all(isinstance(part.get("text"), str) for part in content):
            return "\n".join(part["text"] for part in content)
    raise BadQuestion(
        "each message needs a role and a content: a string, or a list of "
        '{"type": "text", "text": ...} parts'
    )


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
        **_extra(done),
    }


def _extra(done: dict) -> dict:
    keys = ("citations", "trust", "mode", "replaced_because")
    return {key: done.get(key) for key in keys}


KEEP_ALIVE_TOKENS = 16  # a draft held back: an SSE comment each this many tokens


def _chunks(completion_id: str, events, live: bool = True) -> Iterator[str]:
    """The answer's events as OpenAI's chunks, ending with `[DONE]`. Not `live`: the
    generated tokens are held back and the checked answer sent whole at the end."""

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

    streamed = held = 0
    try:
        yield chunk({"role": "assistant"})
        for event in events:
            if event.kind == "token" and live:
                streamed += 1
                yield chunk({"content": event.data})
            elif event.kind == "token":
                held += 1
                if held % KEEP_ALIVE_TOKENS == 0:
                    yield ": checking\n\n"
            elif event.kind == "done":
                if not streamed:  # held back, or a refusal or quotes: no tokens came
                    yield chunk({"content": event.data["answer"]})
                yield chunk({}, "stop", **_extra(event.data))
            elif event.kind == "queued":
                yield ": queued\n\n"  # an SSE comment: keeps the connection alive
    except Busy as err:
        yield sse.frame({"error": {"message": f"busy: {err}", "type": "busy"}})
    yield "data: [DONE]\n\n"
