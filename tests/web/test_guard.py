"""Who may come in (in-process, over a real Runtime): host names, sign-in, sessions, throttles,
the access log, reverse proxies. Each case here was a defect found by an attack-minded test."""

from __future__ import annotations

import io
import threading

import pytest

from appliance.web.guard import SESSION_COOKIE
from tests.web.conftest import TOKEN

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_dns_rebinding_names_are_refused_addresses_and_known_names_served(make_app):
    app = make_app(server__uploads=True, server__allowed_hosts=["kb.office.lan"])
    client = app.test_client()
    # A page on the attacker's name, rebound to this box: Origin and Host agree, both foreign.
    evil = {"Host": "rebind.attacker.example:8000", "Origin": "http://rebind.attacker.example:8000"}
    reply = client.get("/api/documents", headers=evil)
    assert reply.status_code == 400 and "server.allowed_hosts" in reply.json["error"]
    upload = client.post(
        "/api/upload", headers=evil, data={"file": (io.BytesIO(b"hello"), "x.txt")}, buffered=True
    )
    assert upload.status_code == 400
    for host in (
        "localhost:8000",
        "127.0.0.1:8000",
        "192.168.1.20:8000",
        "[::1]:8000",
        "kb.office.lan:8000",
        "KB.Office.Lan",
    ):
        assert client.get("/api/documents", headers={"Host": host}).status_code == 200, host


def test_the_sign_in_form_works_under_the_referrer_policy_it_is_served_with(make_app):
    client = make_app(server__access_token=TOKEN).test_client()
    page = client.get("/login")
    # With "no-referrer", browsers sent `Origin: null` on this very form: nobody could sign in.
    assert page.headers["Referrer-Policy"] == "same-origin"
    form = {"token": TOKEN}
    same_origin = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/login", data=form, headers=same_origin).status_code == 302
    # A sandboxed or foreign page posting to us is still refused.
    for headers in (
        {"Origin": "null"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://evil.example"},
    ):
        assert client.post("/login", data=form, headers=headers).status_code == 403, headers


def test_a_session_ends_at_sign_out_and_when_the_token_changes(make_app):
    client = make_app(server__access_token=TOKEN).test_client()
    reply = client.post("/login", data={"token": TOKEN})
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=604800" in cookie
    assert "Secure" not in cookie  # plain HTTP on the LAN: a Secure cookie would never return
    session_id = client.get_cookie(SESSION_COOKIE).value
    assert client.get("/api/documents").status_code == 200
    client.post("/logout")
    # The old cookie, replayed after sign-out (as a stolen copy would be), opens nothing.
    client.set_cookie(SESSION_COOKIE, session_id)
    assert client.get("/api/documents").status_code == 401

    client.post("/login", data={"token": TOKEN})
    session_id = client.get_cookie(SESSION_COOKIE).value
    other = make_app(server__access_token="a-new-token").test_client()
    other.set_cookie(SESSION_COOKIE, session_id)
    assert other.get("/api/documents").status_code == 401


def test_the_session_cookie_is_secure_over_https(make_app):
    client = make_app(server__access_token=TOKEN).test_client()
    reply = client.post("/login", data={"token": TOKEN}, base_url="https://localhost")
    assert "Secure" in reply.headers["Set-Cookie"]


def test_wrong_tokens_are_logged_and_throttled_per_client(make_app, logs):
    client = make_app(
        server__access_token=TOKEN, limits__failed_sign_ins_per_minute=5
    ).test_client()
    guesser = {"REMOTE_ADDR": "10.0.0.66"}
    statuses = []
    for n in range(8):
        wrong = {"Authorization": f"Bearer guess-{n}"}
        reply = client.get("/api/documents", headers=wrong, environ_base=guesser)
        statuses.append(reply.status_code)
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    # Once throttled, not even the right token is compared: a guesser learns nothing.
    blocked = client.get("/api/documents", headers=BEARER, environ_base=guesser)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    # The sign-in form counts against the same budget.
    form = client.post("/login", data={"token": TOKEN}, environ_base=guesser)
    assert form.status_code == 429 and b"Too many wrong sign-ins" in form.data
    # Everyone else is unaffected.
    assert client.get("/api/documents", headers=BEARER).status_code == 200
    refused = logs.events("sign_in_refused")
    assert len(refused) == 5 and all(r.client == "10.0.0.66" for r in refused)


def test_every_request_gets_an_access_log_line(make_app, logs):
    client = make_app(server__access_token=TOKEN).test_client()
    client.get("/api/search?q=secret+question", headers=BEARER)
    client.get("/api/documents")
    client.get("/no/such/page", headers=BEARER)
    lines = [(r.method, r.path, r.status, r.client) for r in logs.events("access")]
    assert lines == [
        ("GET", "/api/search", 200, "127.0.0.1"),
        ("GET", "/api/documents", 401, "127.0.0.1"),
        ("GET", "/no/such/page", 404, "127.0.0.1"),
    ]
    assert all(r.ms >= 0 for r in logs.events("access"))
    assert "secret" not in logs.text()  # the query string is a question: not in this log


def test_behind_a_trusted_proxy_clients_and_host_come_from_its_headers(make_app, logs):
    app = make_app(
        server__trusted_proxies=["127.0.0.1"],
        server__allowed_hosts=["kb.example.org"],
        limits__searches_per_minute=2,
    )
    client = app.test_client()

    def via_proxy(user: str, **extra):
        # nginx's usual setup: Host rewritten to the upstream, the public name forwarded.
        return {
            "Host": "127.0.0.1:8000",
            "X-Forwarded-For": user,
            "X-Forwarded-Host": "kb.example.org",
            "X-Forwarded-Proto": "https",
            **extra,
        }

    origin = {"Origin": "https://kb.example.org"}
    reply = client.post(
        "/api/feedback", json={"id": "x", "rating": "up"}, headers=via_proxy("10.1.1.1", **origin)
    )
    assert reply.status_code == 404  # past the cross-site check: the proxy's Host was undone
    # Each user behind the proxy has a rate budget of their own.
    for _ in range(2):
        assert client.get("/api/search?q=a", headers=via_proxy("10.1.1.1")).status_code == 200
    assert client.get("/api/search?q=a", headers=via_proxy("10.1.1.1")).status_code == 429
    assert client.get("/api/search?q=a", headers=via_proxy("10.2.2.2")).status_code == 200
    assert {r.client for r in logs.events("access")} == {"10.1.1.1", "10.2.2.2"}
    # From anyone but the proxy, the same headers are ignored.
    spoofed = client.get(
        "/api/search?q=a",
        headers={"X-Forwarded-For": "10.3.3.3", "Host": "localhost"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert spoofed.status_code == 200
    assert logs.events("access")[-1].client == "10.9.9.9"


def test_searches_and_feedback_are_rate_limited(make_app):
    client = make_app(limits__searches_per_minute=3, limits__questions_per_minute=2).test_client()
    assert [client.get("/api/search?q=leave").status_code for _ in range(4)] == [200] * 3 + [429]
    feedback = [
        client.post("/api/feedback", json={"id": "nope", "rating": "up"}).status_code
        for _ in range(3)
    ]
    assert feedback == [404, 404, 429]


def test_feedback_needs_a_real_answer_and_a_new_vote_replaces_the_old(app, client):
    answer = client.post("/api/ask", json={"question": "How many days of leave?"}).json
    vote = client.post("/api/feedback", json={"id": answer["id"], "rating": "up"})
    assert vote.status_code == 201
    reply = client.post(
        "/api/feedback", json={"id": answer["id"], "rating": "down", "comment": "wrong"}
    )
    assert reply.status_code == 201
    history = app.config["RUNTIME"].parts.history
    assert [(f["query_id"], f["rating"]) for f in history.feedback()] == [(answer["id"], "down")]
    unknown = client.post("/api/feedback", json={"id": "0123456789ab", "rating": "up"})
    assert unknown.status_code == 404 and "0123456789ab" in unknown.json["error"]
    assert len(history.feedback()) == 1


def test_an_unexpected_error_names_a_reference_not_internals(make_app, logs):
    app = make_app()

    @app.get("/explode")
    def explode():
        open("/nonexistent/kb/secret-path.txt")  # noqa: SIM115

    reply = app.test_client().get("/explode")
    assert reply.status_code == 500
    assert "secret-path" not in reply.json["error"] and "nonexistent" not in reply.json["error"]
    reference = reply.json["error"].split("reference ")[1].split(")")[0]
    failed = logs.events("request_failed")
    assert (
        failed and failed[0].reference == reference and "secret-path" in str(failed[0].exc_info[1])
    )


@pytest.mark.parametrize(
    ("given", "saved"),
    [
        ("年假.txt", "年假.txt"),  # was "txt": the stem was lost and the file never indexed
        ("Überstunden Regelung.md", "Überstunden Regelung.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        (".bashrc.txt", "bashrc.txt"),
        ("a\x00b<c>.txt", "abc.txt"),
        ("長" * 120 + ".txt", "長" * 65 + ".txt"),  # 364 bytes: was a 500 naming the kb path
    ],
)
def test_upload_names_keep_their_words_and_fit_the_file_system(make_app, given, saved):
    app = make_app(server__uploads=True)
    reply = app.test_client().post(
        "/api/upload", data={"file": (io.BytesIO(b"Leave: 25 days."), given)}
    )
    assert reply.status_code == 201, reply.json
    assert reply.json["saved"] == [f"uploads/{saved}"]
    kb = app.config["RUNTIME"].settings.paths.kb
    assert (kb / "uploads" / saved).read_bytes() == b"Leave: 25 days."


def test_uploads_refuse_unusable_names_and_a_full_disk(make_app):
    app = make_app(server__uploads=True)
    client = app.test_client()
    # Each refusal names the file and has a code of its own, which the page words.
    for name, code in (("...", "name_unusable"), ("~$budget.xlsx", "name_ignored"),
                       ("draft.tmp", "name_ignored")):  # fmt: skip
        reply = client.post("/api/upload", data={"file": (io.BytesIO(b"x"), name)})
        assert reply.status_code == 400, name
        assert (reply.json["code"], reply.json["name"]) == (code, name)
    full = make_app(server__uploads=True, limits__min_free_mb=10**9).test_client()
    reply = full.post("/api/upload", data={"file": (io.BytesIO(b"x" * 1000), "a.txt")})
    assert reply.status_code == 507 and "limits.min_free_mb" in reply.json["error"]
    assert reply.json["code"] == "no_room"
    kb = app.config["RUNTIME"].settings.paths.kb
    assert not any((kb / "uploads").iterdir())  # nothing half-written left behind


def test_an_upload_that_would_never_be_searchable_is_refused(make_app):
    """Was "Added uploads/tool (3).exe: it can be searched in a moment", and a copy a try."""
    app = make_app(server__uploads=True)
    reply = app.test_client().post(
        "/api/upload", data={"file": (io.BytesIO(b"MZ\x90"), "tool.exe")}
    )
    assert reply.status_code == 400 and reply.json["code"] == "unsupported_type"
    assert reply.json["name"] == "tool.exe"
    assert ".exe files are not indexed" in reply.json["error"] and ".pdf" in reply.json["error"]
    kb = app.config["RUNTIME"].settings.paths.kb
    assert not (kb / "uploads").exists() or not any((kb / "uploads").iterdir())


def test_two_uploads_of_one_name_at_once_are_both_kept_whole(tmp_path):
    """Both were written to one ".race.txt.part": one got a 500, the other a file mixing the
    two, which was indexed (a QA pass)."""
    from appliance.web.library import _write

    first_started, second_done = threading.Event(), threading.Event()

    class SlowUpload:  # sends half, then waits for the other upload to finish
        def __init__(self, data: bytes):
            self.blocks = [data[:50], data[50:]]

        def read(self, size: int) -> bytes:
            if len(self.blocks) == 2:
                first_started.set()
            elif len(self.blocks) == 1:
                second_done.wait(10)
            return self.blocks.pop(0) if self.blocks else b""

    saved = {}
    first = threading.Thread(
        target=lambda: saved.update(a=_write(tmp_path, "race.txt", SlowUpload(b"A" * 100)))
    )
    first.start()
    assert first_started.wait(10)
    saved["b"] = _write(tmp_path, "race.txt", io.BytesIO(b"B" * 100))
    second_done.set()
    first.join(10)
    assert saved == {"b": "race.txt", "a": "race (1).txt"}
    assert (tmp_path / "race.txt").read_bytes() == b"B" * 100
    assert (tmp_path / "race (1).txt").read_bytes() == b"A" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race (1).txt", "race.txt"]


def test_the_sign_in_page_speaks_the_readers_language(make_app):
    client = make_app(server__access_token=TOKEN).test_client()
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(True)
    assert '<html lang="zh-CN">' in page and "访问令牌" in page and ">登录</button>" in page
    wrong = client.post("/login", data={"token": "nope"}, headers={"Accept-Language": "zh"})
    assert wrong.status_code == 401 and "令牌不正确。" in wrong.get_data(True)
    english = client.get("/login").get_data(True)
    assert '<html lang="en">' in english and "Access token" in english


def test_an_upload_waits_while_kb_is_not_there(make_app):
    """Written into a share's bare mount point, an upload is hidden once the share is back,
    and it once made the appliance take every indexed file for deleted (a QA pass)."""
    app = make_app(server__uploads=True)
    kb = app.config["RUNTIME"].settings.paths.kb
    kb.rename(kb.with_name("kb-unmounted"))
    reply = app.test_client().post(
        "/api/upload", data={"file": (io.BytesIO(b"Leave: 25 days."), "leave.txt")}
    )
    assert reply.status_code == 503 and reply.json["code"] == "kb_unavailable"
    assert "is missing" in reply.json["error"]
    assert not kb.exists()  # nothing made in its place
