"""Access control and web hardening on a real server."""

import http.cookiejar
import json
import os
import urllib.parse
import urllib.request

import pytest

from tests.corpus import write_text

pytestmark = pytest.mark.e2e

TOKEN = "s3cret-token-for-tests"


def call(server, path, method="GET", body=None, headers=None, opener=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.fixture
def guarded(make_server, monkeypatch):
    server = make_server(extra_config="limits:\n  questions_per_minute: 3\n")
    write_text(server.kb / "a.txt", "Full-time staff get 25 days of annual leave.")
    (server.root / ".env").write_text(f"APPLIANCE_ACCESS_TOKEN={TOKEN}\n")
    server.start()
    return server


def test_the_token_guards_everything_but_health(guarded):
    server = guarded
    assert server.get("/health")[0] == 200 and server.get("/ready")[0] == 200
    for path in (
        "/api/documents",
        "/api/status",
        "/api/search?q=leave",
        "/v1/models",
        "/metrics",
        "/files/a.txt",
    ):
        status, headers, _ = call(server, path)
        assert status == 401 and headers["WWW-Authenticate"] == "Bearer", path
    status, _, _ = call(server, "/api/ask", "POST", {"question": "leave?"})
    assert status == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert call(server, "/api/documents", headers=bearer)[0] == 200
    assert call(server, "/api/documents", headers={"Authorization": "Bearer wrong"})[0] == 401
    # The page sends a browser without a session to the sign-in form.
    no_redirects = urllib.request.build_opener(NoRedirect)
    status, headers, _ = call(server, "/", opener=no_redirects)
    assert status == 302 and headers["Location"].endswith("/login")


def test_signing_in_sets_a_strict_httponly_session(guarded):
    server = guarded
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    form = urllib.parse.urlencode({"token": "wrong"}).encode()
    bad = urllib.request.Request(server.url + "/login", data=form)
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(bad, timeout=30)
    assert refused.value.code == 401 and b"not right" in refused.value.read()
    good = urllib.request.Request(
        server.url + "/login", data=urllib.parse.urlencode({"token": TOKEN}).encode()
    )
    try:
        opener.open(good, timeout=30)
    except urllib.error.HTTPError as err:
        assert err.code == 302
        cookie = err.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert (
        call(
            server,
            "/api/documents",
            opener=urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)),
        )[0]
        == 200
    )


def test_cross_site_requests_headers_rate_limit_and_symlink_escape(guarded):
    server = guarded
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, _, body = call(
        server,
        "/api/ask",
        "POST",
        {"question": "leave?"},
        {**bearer, "Origin": "http://evil.example"},
    )
    assert status == 403 and b"cross-site" in body
    status, headers, _ = call(server, "/api/documents", headers=bearer)
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    statuses = [
        call(server, "/api/ask", "POST", {"question": "How much leave?"}, bearer) for _ in range(5)
    ]
    assert [s for s, _, _ in statuses].count(429) >= 1
    limited = next(h for s, h, _ in statuses if s == 429)
    assert int(limited["Retry-After"]) >= 1
    # A symlink inside kb/ that points outside is never served.
    outside = server.root / "outside.txt"
    outside.write_text("Full-time staff get 25 days; the secret budget is 1M.")
    os.symlink(outside, server.kb / "link.txt")
    from tests.e2e.conftest import wait_for

    wait_for(
        lambda: call(server, "/api/documents", headers=bearer)[2].count(b"link.txt"),
        30,
        "the link to be seen",
    )
    assert call(server, "/files/link.txt", headers=bearer)[0] == 404


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
