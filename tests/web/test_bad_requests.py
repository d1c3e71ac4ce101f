"""Bad API requests, in-process over a real Runtime: each gets a clear 4xx with a JSON
`{"error": ..., "code": ...}` body (never a 500, an HTML page or a stack trace).
tests/reliability/test_bad_requests.py sends what only a real server can receive (broken
request lines, bare CRs, bad chunk sizes, slow clients) to the real process."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

from tests.web.conftest import build_app, close_app

GOOD_TEXT = "To reset the Zephyr router, hold the recessed button for ten seconds."
MAX_BODY_KB = 16  # tests/reliability/test_bad_requests.py serves the same limit


@pytest.fixture(scope="module")
def client(tmp_path_factory, models_dir):
    app = build_app(
        tmp_path_factory.mktemp("bad-requests"),
        models_dir,
        documents={"good.txt": GOOD_TEXT},
        limits__max_body_kb=MAX_BODY_KB,
        limits__questions_per_minute=1000,
    )
    yield app.test_client()
    close_app(app)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def send(client, method: str, path: str, body: bytes | None = None, headers=None) -> Reply:
    response = client.open(path, method=method, data=body, headers=headers or {})
    return Reply(response.status_code, dict(response.headers), response.data)


def assert_json_error(reply: Reply, allowed: set[int]) -> dict:
    assert reply.status in allowed, (reply.status, reply.body[:500])
    assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
    body = reply.json()
    assert isinstance(body.get("error"), str) and len(body["error"]) >= 5, body
    assert "Traceback" not in body["error"]
    # A stable code for programs (and the page's wording) next to the text for people.
    assert re.fullmatch(r"[a-z][a-z0-9_]+", body.get("code") or ""), body
    return body


# -- the catalogue of bad API requests --------------------------------------------------------
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Bad:
    id: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    expect: frozenset[int] = frozenset({400})


def j(value: object) -> bytes:
    return json.dumps(value).encode()


def utf8(value: object) -> bytes:
    """JSON as a browser sends it: characters as UTF-8, not as \\u escapes."""
    return json.dumps(value, ensure_ascii=False).encode()


NESTED = b'{"question": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"  # < 16 KB, > recursion limit

CASES = [
    # The body itself.
    Bad("malformed-json", "POST", "/api/ask", b'{"question": "hi",'),
    Bad("empty-body", "POST", "/api/ask", b""),
    Bad("json-array", "POST", "/api/ask", j(["question"])),
    Bad("json-number", "POST", "/api/ask", b"42"),
    Bad("json-null", "POST", "/api/ask", b"null"),
    Bad("json-string", "POST", "/api/ask", j("what is the policy?")),
    Bad("invalid-utf8", "POST", "/api/ask", b'{"question": "\xff\xfe\xfa"}'),
    Bad("no-content-type", "POST", "/api/ask", j({"question": "hi"}), {}, frozenset({415})),
    Bad(
        "form-urlencoded",
        "POST",
        "/api/ask",
        b"question=hi",
        {"Content-Type": "application/x-www-form-urlencoded"},
        frozenset({415}),
    ),
    Bad(
        "text-plain",
        "POST",
        "/api/ask",
        j({"question": "hi"}),
        {"Content-Type": "text/plain"},
        frozenset({415}),
    ),
    Bad(
        "multipart-to-ask",
        "POST",
        "/api/ask",
        b"--b\r\nContent-Disposition: form-data; name=question\r\n\r\nhi\r\n--b--\r\n",
        {"Content-Type": "multipart/form-data; boundary=b"},
        frozenset({415}),
    ),
    Bad(
        "body-over-max-body-kb",
        "POST",
        "/api/ask",
        j({"question": "x" * (MAX_BODY_KB * 1024 + 100)}),
        expect=frozenset({413}),
    ),
    # The question.
    Bad("question-missing", "POST", "/api/ask", j({"k": 3})),
    Bad("question-number", "POST", "/api/ask", j({"question": 42})),
    Bad("question-list", "POST", "/api/ask", j({"question": ["a", "b"]})),
    Bad("question-object", "POST", "/api/ask", j({"question": {"text": "hi"}})),
    Bad("question-null", "POST", "/api/ask", j({"question": None})),
    Bad("question-blank", "POST", "/api/ask", j({"question": " \n\t "})),
    Bad("question-too-long", "POST", "/api/ask", j({"question": "why " * 600})),
    Bad("stream-question-number", "POST", "/api/ask/stream", j({"question": 7})),
    Bad("stream-question-too-long", "POST", "/api/ask/stream", j({"question": "a" * 2001})),
    # The other fields.
    Bad("k-zero", "POST", "/api/ask", j({"question": "hi", "k": 0})),
    Bad("k-too-big", "POST", "/api/ask", j({"question": "hi", "k": 51})),
    Bad("k-negative", "POST", "/api/ask", j({"question": "hi", "k": -3})),
    Bad("k-string", "POST", "/api/ask", j({"question": "hi", "k": "5"})),
    Bad("k-float", "POST", "/api/ask", j({"question": "hi", "k": 2.5})),
    Bad("k-bool", "POST", "/api/ask", j({"question": "hi", "k": True})),
    Bad("k-huge", "POST", "/api/ask", b'{"question": "hi", "k": 1' + b"0" * 400 + b"}"),
    Bad("folder-number", "POST", "/api/ask", j({"question": "hi", "folder": 5})),
    Bad("folder-list", "POST", "/api/ask", j({"question": "hi", "folder": ["a"]})),
    Bad("types-number", "POST", "/api/ask", j({"question": "hi", "types": 5})),
    Bad("types-list-of-numbers", "POST", "/api/ask", j({"question": "hi", "types": [1, 2]})),
    Bad("types-object", "POST", "/api/ask", j({"question": "hi", "types": {"pdf": True}})),
    Bad(
        "conversation-too-long",
        "POST",
        "/api/ask",
        j({"question": "hi", "conversation_id": "c" * 65}),
    ),
    Bad("conversation-number", "POST", "/api/ask", j({"question": "hi", "conversation_id": 12})),
    # Retrieval only.
    Bad("search-no-q", "GET", "/api/search", headers={}),
    Bad("search-q-too-long", "GET", "/api/search?q=" + "a" * 2001, headers={}),
    Bad("search-k-zero", "GET", "/api/search?q=router&k=0", headers={}),
    Bad("search-k-too-big", "GET", "/api/search?q=router&k=500", headers={}),
    Bad("search-k-not-a-number", "GET", "/api/search?q=router&k=abc", headers={}),
    # Passages.
    Bad("passage-no-source", "GET", "/api/passage?chunk=0", headers={}),
    Bad("passage-negative-chunk", "GET", "/api/passage?source=good.txt&chunk=-1", headers={}),
    Bad("passage-chunk-not-a-number", "GET", "/api/passage?source=good.txt&chunk=x", headers={}),
    Bad(
        "passage-traversal",
        "GET",
        "/api/passage?source=../appliance.yaml&chunk=0",
        headers={},
        expect=frozenset({404}),
    ),
    Bad(
        "passage-absolute",
        "GET",
        "/api/passage?source=/etc/passwd&chunk=0",
        headers={},
        expect=frozenset({404}),
    ),
    Bad(
        "passage-past-the-end",
        "GET",
        "/api/passage?source=good.txt&chunk=999",
        headers={},
        expect=frozenset({404}),
    ),
    # OpenAI-compatible chat.
    Bad("chat-no-messages", "POST", "/v1/chat/completions", j({"model": "appliance"})),
    Bad("chat-messages-not-a-list", "POST", "/v1/chat/completions", j({"messages": "hi"})),
    Bad("chat-messages-empty", "POST", "/v1/chat/completions", j({"messages": []})),
    Bad("chat-message-not-an-object", "POST", "/v1/chat/completions", j({"messages": ["hi"]})),
    Bad(
        "chat-missing-content",
        "POST",
        "/v1/chat/completions",
        j({"messages": [{"role": "user"}]}),
    ),
    Bad(
        "chat-content-an-image",  # text parts are read (tests/e2e/test_answers.py)
        "POST",
        "/v1/chat/completions",
        j({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}),
    ),
    Bad(
        "chat-last-role-assistant",
        "POST",
        "/v1/chat/completions",
        j({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]}),
    ),
    Bad(
        "chat-stream-empty-question",
        "POST",
        "/v1/chat/completions",
        j({"stream": True, "messages": [{"role": "user", "content": "  "}]}),
    ),
    # Feedback.
    Bad("feedback-id-number", "POST", "/api/feedback", j({"id": 5, "rating": "up"})),
    Bad("feedback-id-too-long", "POST", "/api/feedback", j({"id": "i" * 65, "rating": "up"})),
    Bad("feedback-rating-number", "POST", "/api/feedback", j({"id": "abc", "rating": 5})),
    Bad("feedback-rating-word", "POST", "/api/feedback", j({"id": "abc", "rating": "meh"})),
    Bad(
        "feedback-comment-list",
        "POST",
        "/api/feedback",
        j({"id": "abc", "rating": "up", "comment": ["x"]}),
    ),
    Bad(
        "feedback-comment-too-long",
        "POST",
        "/api/feedback",
        j({"id": "abc", "rating": "up", "comment": "c" * 2001}),
    ),
    # Methods and places that do not exist.
    Bad("get-ask", "GET", "/api/ask", headers={}, expect=frozenset({405})),
    Bad("put-ask", "PUT", "/api/ask", j({"question": "hi"}), expect=frozenset({405})),
    Bad("delete-ask", "DELETE", "/api/ask", expect=frozenset({405})),
    Bad("patch-documents", "PATCH", "/api/documents", b"{}", expect=frozenset({405})),
    Bad("post-health", "POST", "/health", b"{}", expect=frozenset({405})),
    Bad("unknown-api-path", "GET", "/api/nope", headers={}, expect=frozenset({404})),
    Bad("unknown-path", "GET", "/no/such/page.php", headers={}, expect=frozenset({404})),
    # Uploads are off by default; another site's page may not post here.
    Bad(
        "upload-disabled",
        "POST",
        "/api/upload",
        b"--b\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n\r\nhi\r\n--b--\r\n",
        {"Content-Type": "multipart/form-data; boundary=b"},
        frozenset({403}),
    ),
    Bad(
        "cross-site-origin",
        "POST",
        "/api/ask",
        j({"question": "hi"}),
        {**JSON, "Origin": "http://evil.example"},
        frozenset({403}),
    ),
    # A page on an attacker's name rebound to this box: Origin and Host agree, both foreign.
    Bad(
        "dns-rebinding-host",
        "POST",
        "/api/ask",
        j({"question": "hi"}),
        {**JSON, "Host": "rebind.evil.example", "Origin": "http://rebind.evil.example"},
    ),
    Bad(
        "dns-rebinding-read",
        "GET",
        "/api/documents",
        headers={"Host": "rebind.evil.example:8000"},
    ),
    Bad(
        "sandboxed-page-origin-null",
        "POST",
        "/api/ask",
        j({"question": "hi"}),
        {**JSON, "Origin": "null"},
        frozenset({403}),
    ),
    # Long in tokens though short in characters: an emoji is several tokens.
    Bad("emoji-question-over-the-token-limit", "POST", "/api/ask", utf8({"question": "🙂" * 1900})),
    Bad(
        "chat-emoji-over-the-token-limit",
        "POST",
        "/v1/chat/completions",
        utf8({"messages": [{"role": "user", "content": "🙂" * 1900}]}),
    ),
    Bad(
        "feedback-unknown-answer",
        "POST",
        "/api/feedback",
        j({"id": "abc", "rating": "up"}),
        expect=frozenset({404}),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_request_gets_a_json_4xx(client, case: Bad):
    reply = send(client, case.method, case.path, case.body, case.headers)
    assert_json_error(reply, set(case.expect))


# Lone UTF-16 surrogates are legal JSON escapes but not encodable text.
SURROGATES = [
    ("question", "/api/ask", {"question": "\\ud800 router"}),
    ("search-folder", "/api/ask", {"question": "router", "folder": "\\ud800"}),
    ("types", "/api/ask", {"question": "router", "types": ["\\udfff"]}),
    ("conversation-id", "/api/ask", {"question": "router", "conversation_id": "\\ud800"}),
    (
        "chat-content",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "\\ud800"}]},
    ),
    ("feedback-comment", "/api/feedback", {"id": "abc", "rating": "up", "comment": "\\ud800"}),
    ("feedback-id", "/api/feedback", {"id": "\\ud800", "rating": "down"}),
]


@pytest.mark.parametrize("where,path,body", SURROGATES, ids=[s[0] for s in SURROGATES])
def test_lone_surrogates_in_json_get_a_400(client, where, path, body):
    # json.dumps would escape the backslash; build the body so the escape reaches the server.
    data = json.dumps(body).replace("\\\\u", "\\u").encode()
    reply = send(client, "POST", path, data, JSON)
    assert_json_error(reply, {400})


def test_deeply_nested_json_body_gets_a_400(client):
    assert_json_error(send(client, "POST", "/api/ask", NESTED, JSON), {400})


def test_passage_with_an_enormous_chunk_number_gets_a_4xx(client):
    reply = send(client, "GET", "/api/passage?source=good.txt&chunk=" + "9" * 30)
    assert_json_error(reply, {400, 404})


def test_options_lists_the_allowed_methods(client):
    reply = send(client, "OPTIONS", "/api/ask")
    assert reply.status in (200, 204), reply
    assert "POST" in reply.headers.get("Allow", ""), reply.headers


def test_a_question_that_is_no_text_is_told_so(client):
    body = json.dumps({"question": 5}).encode()
    reply = send(client, "POST", "/api/ask", body, {"Content-Type": "application/json"})
    assert "must be text" in assert_json_error(reply, {400})["error"]
    reply = send(client, "GET", "/api/search?q=router&k=abc")
    assert "k must be an integer" in assert_json_error(reply, {400})["error"]
