"""Bad HTTP requests against one real server: each gets a clear 4xx with a JSON
`{"error": ...}` body (never a 500, an HTML page or a stack trace), and the server keeps
answering afterwards. The catalogue of bad API requests runs in-process
(tests/web/test_bad_requests.py); a sample of it runs here too, through the real server.

Requests the HTTP layer itself rejects (a broken request line, a bare CR in a header, a
bad chunk size) never reach the app: waitress answers those with its own plain-text 400,
so for them only the status and the server's health are checked.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.corpus import write_text
from tests.e2e.conftest import Server, wait_for
from tests.web.test_bad_requests import CASES, JSON, MAX_BODY_KB, Reply, assert_json_error, j

pytestmark = pytest.mark.e2e

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


THROUGH_THE_SERVER = (
    "malformed-json",
    "no-content-type",
    "question-too-long",
    "chat-no-messages",
    "get-ask",
    "unknown-path",
    "feedback-unknown-answer",
)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.id in THROUGH_THE_SERVER], ids=lambda c: c.id
)
def test_bad_requests_through_the_real_server_get_a_json_4xx(server, case):
    reply = send(server, case.method, case.path, case.body, case.headers)
    assert_json_error(reply, set(case.expect))


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
