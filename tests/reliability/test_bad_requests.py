"""Bad HTTP requests against one real server: each gets a clear 4xx with a JSON
`{"error": ...}` body (never a 500, an HTML page or a stack trace), and the server keeps
answering afterwards.

Requests the HTTP layer itself rejects (a broken request line, a bare CR in a header, a
bad chunk size) never reach the app: waitress answers those with its own plain-text 400,
so for them only the status and the server's health are checked.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import pytest

from tests.corpus import write_text
from tests.e2e.conftest import Server, wait_for

pytestmark = pytest.mark.e2e

MAX_BODY_KB = 16
QUESTIONS_PER_MINUTE = 120
REQUEST_TIMEOUT_S = 3
CONFIG = f"""
limits:
  max_body_kb: {MAX_BODY_KB}
  questions_per_minute: {QUESTIONS_PER_MINUTE}
  connections_per_client: 64
server:
  request_timeout_s: {REQUEST_TIMEOUT_S}
"""
GOOD_TEXT = "To reset the Zephyr router, hold the recessed button for ten seconds."
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_dir):
    root = tmp_path_factory.mktemp("bad-requests")
    server = Server(root, models_dir, CONFIG)
    write_text(server.kb / "good.txt", GOOD_TEXT)
    # A link out of kb/ is neither indexed (its status says why) nor served by /files.
    write_text(root / "secret.txt", "The outside secret is swordfish. " + GOOD_TEXT)
    os.symlink(root / "secret.txt", server.kb / "leak.txt")
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def still_up(server):
    yield
    assert server.proc.poll() is None, f"the server exited:\n{server.logs()[-3000:]}"
    assert server.get("/health")[0] == 200


# -- clients ----------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def send(
    server: Server,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    request = urllib.request.Request(
        server.url + path, data=body, headers=headers or {}, method=method
    )
    try:
        with OPENER.open(request, timeout=60) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read())


def raw(server: Server, data: bytes, timeout: float = 10) -> Reply:
    """Send bytes as they are; read the first response (status line, headers, body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(data)
        received = b""
        while True:
            try:
                block = s.recv(65536)
            except TimeoutError:
                break
            if not block:
                break
            received += block
            head, _, rest = received.partition(b"\r\n\r\n")
            if _ and b"content-length:" in head.lower():
                length = int(
                    next(
                        line.split(b":", 1)[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                )
                if len(rest) >= length:
                    break
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), received[:500]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return Reply(int(lines[0].split()[1]), headers, body)


def request_bytes(method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + body


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
        "chat-content-a-list",
        "POST",
        "/v1/chat/completions",
        j({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}),
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
def test_bad_request_gets_a_json_4xx(server, case: Bad):
    reply = send(server, case.method, case.path, case.body, case.headers)
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
def test_lone_surrogates_in_json_get_a_400(server, where, path, body):
    # json.dumps would escape the backslash; build the body so the escape reaches the server.
    data = json.dumps(body).replace("\\\\u", "\\u").encode()
    reply = send(server, "POST", path, data, JSON)
    assert_json_error(reply, {400})


def test_deeply_nested_json_body_gets_a_400(server):
    assert_json_error(send(server, "POST", "/api/ask", NESTED, JSON), {400})


def test_passage_with_an_enormous_chunk_number_gets_a_4xx(server):
    reply = send(server, "GET", "/api/passage?source=good.txt&chunk=" + "9" * 30)
    assert_json_error(reply, {400, 404})


def test_options_lists_the_allowed_methods(server):
    reply = send(server, "OPTIONS", "/api/ask")
    assert reply.status in (200, 204), reply
    assert "POST" in reply.headers.get("Allow", ""), reply.headers


def test_search_with_a_non_numeric_k_falls_back_to_the_default(server):
    """Observed behaviour, not an error: ?k=abc is ignored (Flask's type=int gives None)."""
    reply = send(server, "GET", "/api/search?q=router&k=abc")
    assert reply.status in (200, 400), reply
    assert reply.headers["Content-Type"].startswith("application/json")


# -- /files: nothing outside kb/, nothing that is not an indexed document ---------------------
TRAVERSALS = [
    "/files/../appliance.yaml",
    "/files/%2e%2e/appliance.yaml",
    "/files/%2e%2e%2fappliance.yaml",
    "/files/..%2f..%2f..%2fetc%2fpasswd",
    "/files/good.txt/../../appliance.yaml",
    "/files//etc/passwd",
    "/files/%2fetc%2fpasswd",
    "/files/..\\appliance.yaml",
    "/files/..%5c..%5cappliance.yaml",
    "/files/leak.txt",  # a symlink whose target is outside kb/
    "/files/.%2e/server.log",
]


def test_a_link_out_of_kb_is_not_searchable(server):
    status, found = server.get("/api/search?q=swordfish")
    assert status == 200 and not any(c["source"] == "leak.txt" for c in found["citations"])
    leak = server.documents()["leak.txt"]
    assert leak["status"] == "failed" and "outside kb/" in leak["error"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_files_never_serve_outside_kb(server, path):
    reply = raw(server, request_bytes("GET", path))
    assert b"swordfish" not in reply.body and b"watcher:" not in reply.body
    assert b"root:" not in reply.body
    if reply.status in (301, 308):  # werkzeug merges "//" and redirects: follow once
        location = urllib.parse.urlsplit(reply.headers["Location"]).path
        reply = raw(server, request_bytes("GET", location))
    assert_json_error(reply, {400, 404})


def test_files_serves_an_indexed_document(server):
    """The control for the traversal tests: the route works for a real document."""
    reply = send(server, "GET", "/files/good.txt")
    assert reply.status == 200 and GOOD_TEXT.encode() in reply.body


# -- XSS: a question is never reflected in an HTML response -----------------------------------
def test_xss_in_a_question_is_not_reflected_as_html(server):
    replies = [
        send(server, "POST", "/api/ask", j({"question": XSS}), JSON),
        send(server, "GET", "/api/search?" + urllib.parse.urlencode({"q": XSS})),
        send(server, "GET", "/files/" + urllib.parse.quote(XSS + ".txt")),
        send(server, "GET", "/" + urllib.parse.quote(XSS)),
        send(server, "GET", "/api/passage?" + urllib.parse.urlencode({"source": XSS, "chunk": 0})),
    ]
    for reply in replies:
        assert reply.status < 500, reply
        content_type = reply.headers.get("Content-Type", "")
        assert content_type.startswith("application/json"), (content_type, reply.body[:300])
        assert reply.headers.get("X-Content-Type-Options") == "nosniff"


# -- malformed HTTP, sent over a raw socket ---------------------------------------------------
def test_crlf_in_a_header_value_does_not_inject_a_response_header(server):
    # A header value with a bare LF or CR: waitress must refuse it, not split it.
    for value in ("x\nSet-Cookie: injected=1", "x\rSet-Cookie: injected=1"):
        head = f"X-Note: {value}\r\n"
        reply = raw(server, request_bytes("GET", "/api/documents", extra=head))
        assert reply.status == 400, reply
        assert "injected" not in json.dumps(reply.headers)


def test_crlf_encoded_in_the_path_is_not_reflected_into_headers(server):
    reply = raw(server, request_bytes("GET", "/files/a%0d%0aSet-Cookie:%20injected=1"))
    assert_json_error(reply, {404})
    assert "Set-Cookie" not in reply.headers


def test_a_20_kb_request_line_is_refused_or_answered_not_crashed(server):
    reply = raw(server, request_bytes("GET", "/api/search?q=" + "a" * 20_000))
    assert reply.status in (400, 404, 414, 431), reply
    if reply.headers.get("Content-Type", "").startswith("application/json"):
        assert reply.json()["error"]


def test_a_probe_without_a_host_header_is_answered(server):
    """HTTP/1.0 health probes may send no Host: that is no browser, so no rebinding."""
    reply = raw(server, b"GET /health HTTP/1.0\r\n\r\n")
    assert reply.status == 200, reply


def test_a_garbage_request_line_gets_a_4xx(server):
    reply = raw(server, b"HELLO THERE\r\n\r\n")
    assert reply.status in (400, 404), reply  # waitress passes it on as path "THERE"
    if reply.status == 404:
        assert_json_error(reply, {404})


def test_a_non_numeric_content_length_gets_a_400(server):
    data = (
        b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n"
        b"Connection: close\r\n\r\n"
    )
    assert raw(server, data).status == 400


def test_a_bad_chunk_size_gets_a_400(server):
    data = (
        b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    )
    assert raw(server, data).status == 400


def test_a_chunked_body_over_the_limit_gets_a_413(server):
    """No Content-Length to check up front: the limit must hold while reading."""
    chunk = b"a" * 4096
    body = b'{"question": "'
    data = (
        b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n"
        + (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * (MAX_BODY_KB // 4 + 4)
        + b'2\r\n"}\r\n0\r\n\r\n'
    )
    assert_json_error(raw(server, data), {413})


def test_a_body_shorter_than_its_content_length_does_not_hang_the_server(server):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(
            b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"question": "hi"}'
        )
        time.sleep(0.5)
        # The other clients are served meanwhile.
        assert server.get("/health")[0] == 200
    assert time.monotonic() - started < 5


def test_slow_loris_partial_requests_do_not_block_others(server):
    """Partial requests, held open for 2 s and then dropped: the server answers throughout."""
    sockets = []
    try:
        for n in range(20):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100")
            if n % 2:
                s.sendall(b"\r\nContent-Type: application/json\r\n\r\n{")
            sockets.append(s)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, _ = server.get("/health")
            assert status == 200 and time.monotonic() - started < 1
            time.sleep(0.25)
    finally:
        for s in sockets:
            s.close()
    assert server.get("/api/documents")[0] == 200


def _connect_from(server: Server, source: str) -> socket.socket:
    """A connection from another loopback address: another client, as the server sees it."""
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", server.port))
    return s


def test_one_client_holding_many_connections_does_not_lock_others_out(server):
    """110 half-sent requests from one address: past its 64 connections (limits.
    connections_per_client) the server hangs up on it, and everyone else is served."""
    sockets, refused = [], 0
    try:
        for _ in range(110):
            s = _connect_from(server, "127.0.0.2")
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sockets.append(s)
        time.sleep(0.5)
        with urllib.request.urlopen(server.url + "/health", timeout=3) as response:
            assert response.status == 200
        for s in sockets:  # at once: within server.request_timeout_s all of them close
            s.setblocking(False)
            try:
                closed = s.recv(1) == b""
            except ConnectionResetError:
                closed = True
            except BlockingIOError:
                closed = False  # still open, waiting for the rest of its request
            refused += closed
        assert refused == 110 - 64
    finally:
        for s in sockets:
            s.close()
        wait_for(lambda: _healthy(server), 10, "the server to answer again")


def test_a_request_trickled_byte_by_byte_is_disconnected(server):
    """Slowloris: one byte every half second keeps waitress's idle timer from ever firing;
    the whole request must arrive within server.request_timeout_s."""
    started = time.monotonic()
    with _connect_from(server, "127.0.0.3") as s:
        closed = False
        for byte in b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200:
            try:
                s.sendall(bytes([byte]))
                s.settimeout(0.5)
                if s.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
    elapsed = time.monotonic() - started
    assert closed, "the trickling connection was never closed"
    assert REQUEST_TIMEOUT_S <= elapsed < REQUEST_TIMEOUT_S + 10, elapsed


def test_a_client_sending_a_big_body_in_full_reads_the_413_not_a_reset(server):
    """The refusal comes before the body is read; a client that goes on sending it (urllib,
    curl, browsers) must still get the answer: the server drops the rest instead of
    closing on it, which would reset the connection under the client."""
    body = b'{"question": "' + b"a" * 3_000_000 + b'"}'
    for _ in range(10):
        reply = send(server, "POST", "/api/ask", body, JSON)
        assert_json_error(reply, {413})


def test_a_huge_body_is_refused_before_it_is_read(server):
    """300 MB announced to /api/ask: refused on its headers (waitress's default would have
    read up to 1 GiB before the app could look at it)."""
    started = time.monotonic()
    with _connect_from(server, "127.0.0.4") as s:
        s.sendall(
            b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            b"\r\nContent-Length: 314572800\r\n\r\n" + b"a" * 65536
        )
        s.settimeout(5)
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5


def _healthy(server: Server) -> bool:
    try:
        return server.get("/health")[0] == 200
    except OSError:
        return False


# -- last: the rate limit (it spends this address's question budget) --------------------------
def test_zz_too_many_questions_get_a_429_with_retry_after(server):
    for _ in range(QUESTIONS_PER_MINUTE * 2):
        reply = send(server, "POST", "/api/ask", j({"question": ""}), JSON)
        if reply.status == 429:
            break
        assert reply.status == 400, reply
    body = assert_json_error(reply, {429})
    assert int(reply.headers["Retry-After"]) >= 1, reply.headers
    assert "questions_per_minute" in body["error"]
