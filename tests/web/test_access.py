"""Access by folder (appliance/users.py), in-process over a real Runtime: two users, three
folders, every endpoint checked for leaks of the folder a user is not granted."""

from __future__ import annotations

import io
import json

import pytest

from appliance.users import Users, users_path
from appliance.web.guard import SESSION_COOKIE
from tests.web.conftest import TOKEN

DOCUMENTS = {
    "welcome.md": "Welcome to the knowledge base. The help desk hands out sign-in keys.",
    "hr/salaries.md": (
        "# Salary bands\n\nThe salary band for a senior engineer is 92,000 to 110,000 euros. "
        "Salary reviews for senior engineers happen every March."
    ),
    "finance/budget.md": (
        "# Budget\n\nThe travel budget for 2026 is 48,000 euros, approved by the finance "
        "committee. Quarterly forecasts are due on the fifth working day."
    ),
    "public/handbook.md": (
        "# Handbook\n\nYour manager discusses your salary with you once a year. Travel "
        "requests go through the booking portal."
    ),
}
SECRET = "92,000"
SALARY_QUESTION = "What is the salary band for a senior engineer?"


@pytest.fixture
def office(make_app):
    """The app, with ana granted hr and ben granted finance and public."""
    app = make_app(documents=DOCUMENTS, server__uploads=True)
    users = Users(users_path(app.config["RUNTIME"].settings.paths.data))
    keys = {
        "ana": users.add("ana", folders=["hr"]),
        "ben": users.add("ben", folders=["finance", "public/"]),
    }
    yield app, users, keys
    users.close()


def as_user(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def sources(items) -> set[str]:
    return {item["source"] for item in items}


def test_without_users_nothing_changes_and_with_one_everybody_signs_in(make_app):
    app = make_app(documents={"hr/a.md": "Alpha.", "b.md": "Beta."})
    client = app.test_client()
    assert len(client.get("/api/documents").json["documents"]) == 2
    assert client.get("/api/status").json["user"] is None
    users = Users(users_path(app.config["RUNTIME"].settings.paths.data))
    key = users.add("ana")  # added while the app runs, as `appliance users add` does
    reply = client.get("/api/documents")
    assert reply.status_code == 401 and reply.json["code"] == "sign_in_required"
    assert client.get("/").status_code == 302
    assert client.get("/api/documents", headers=as_user(key + "x")).status_code == 401
    paths = [
        d["path"] for d in client.get("/api/documents", headers=as_user(key)).json["documents"]
    ]
    assert paths == ["b.md"], "a user without grants sees kb/'s top level only"
    users.close()


def test_search_and_answers_keep_to_the_granted_folders(office):
    app, _, keys = office
    client = app.test_client()
    ben, ana = as_user(keys["ben"]), as_user(keys["ana"])

    found = client.get(
        "/api/search", query_string={"q": "salary band senior engineer"}, headers=ana
    )
    assert "hr/salaries.md" in sources(found.json["citations"])
    found = client.get(
        "/api/search", query_string={"q": "salary band senior engineer"}, headers=ben
    )
    assert found.status_code == 200
    assert sources(found.json["citations"]) <= {
        "welcome.md",
        "finance/budget.md",
        "public/handbook.md",
    }
    # Asking for the forbidden folder by name finds nothing, rather than the folder.
    asked_for = client.get("/api/search", query_string={"q": "salary", "folder": "hr"}, headers=ben)
    assert asked_for.json["citations"] == []

    # The best answer is in hr/: ben gets an answer from his folders, or a refusal.
    answer = client.post("/api/ask", json={"question": SALARY_QUESTION}, headers=ben).json
    shown = answer["citations"] + answer["related"]
    assert not any(s.startswith("hr/") for s in sources(shown))
    assert SECRET not in json.dumps(answer)
    assert "hr/salaries.md" in sources(
        client.post("/api/ask", json={"question": SALARY_QUESTION}, headers=ana).json["citations"]
    )

    stream = client.post("/api/ask/stream", json={"question": SALARY_QUESTION}, headers=ben)
    assert stream.status_code == 200 and "event: done" in stream.text
    assert "hr/" not in stream.text and SECRET not in stream.text

    for streamed in (False, True):
        body = {"messages": [{"role": "user", "content": SALARY_QUESTION}], "stream": streamed}
        reply = client.post("/v1/chat/completions", json=body, headers=ben)
        assert reply.status_code == 200
        assert "hr/" not in reply.text and SECRET not in reply.text, streamed


def test_the_library_shows_and_serves_only_the_granted_folders(office, logs):
    app, _, keys = office
    client = app.test_client()
    ben = as_user(keys["ben"])

    listing = client.get("/api/documents", headers=ben).json
    assert [d["path"] for d in listing["documents"]] == [
        "finance/budget.md",
        "public/handbook.md",
        "welcome.md",
    ]
    assert listing["totals"] == {"indexed": 3} and listing["summary"]["searchable"] == 3
    status = client.get("/api/status", headers=ben).json
    assert status["documents"]["searchable"] == 3
    assert status["user"] == {"name": "ben", "admin": False}
    assert status["uploads"] is False, "uploads go to kb/uploads/, which ben is not granted"
    admin = client.get("/api/documents", headers=as_user(TOKEN))
    assert admin.status_code == 401, "no access token is set: users only"

    # A forbidden file is answered exactly like a missing one, and the refusal is logged.
    for source in ("hr/salaries.md", "hr/nothing-here.md"):
        passage = client.get(
            "/api/passage", query_string={"source": source, "chunk": 0}, headers=ben
        )
        assert passage.status_code == 404
        assert passage.json["error"] == f"{source} has no passage 0 (re-indexed since?)"
        original = client.get(f"/files/{source}", headers=ben)
        assert original.status_code == 404
        assert original.json["error"] == f"{source} is not an indexed document"
    denials = logs.events("access_denied")
    assert {(r.user, r.path) for r in denials} == {
        ("ben", "hr/salaries.md"),
        ("ben", "hr/nothing-here.md"),
    }
    allowed = client.get(
        "/api/passage", query_string={"source": "finance/budget.md", "chunk": 0}, headers=ben
    )
    assert allowed.status_code == 200 and "48,000" in allowed.text
    assert client.get("/files/public/handbook.md", headers=ben).status_code == 200

    upload = client.post(
        "/api/upload", headers=ben, data={"file": (io.BytesIO(b"notes"), "notes.txt")}
    )
    assert upload.status_code == 403 and "users grant" in upload.json["error"]
    assert client.get("/metrics", headers=ben).status_code == 403


def test_feedback_history_and_conversations_are_each_users_own(make_app):
    app = make_app(documents=DOCUMENTS, answers__mode="extractive")
    appliance = app.config["RUNTIME"].parts
    users = Users(users_path(appliance.settings.paths.data))
    ana = as_user(users.add("ana", folders=["hr"]))
    ben = as_user(users.add("ben", folders=["public"]))
    client = app.test_client()

    asked = client.post("/api/ask", json={"question": SALARY_QUESTION}, headers=ana).json
    vote = {"id": asked["id"], "rating": "up"}
    assert client.post("/api/feedback", json=vote, headers=ben).status_code == 404
    assert client.post("/api/feedback", json=vote, headers=ana).status_code == 201
    row = appliance.history._db.execute(
        "SELECT record FROM queries WHERE id = ?", (asked["id"],)
    ).fetchone()
    assert json.loads(row[0])["user"] == "ana", "the query log says who asked"

    follow_up = {"question": "and in March?", "conversation_id": asked["conversation_id"]}
    theirs = client.post("/api/ask", json=follow_up, headers=ben).json
    assert theirs["standalone_question"] == "and in March?", "ana's conversation is not ben's"
    own = client.post("/api/ask", json=follow_up, headers=ana).json
    assert own["standalone_question"] == f"{SALARY_QUESTION} and in March?"
    users.close()


def test_a_revoke_a_new_key_and_a_removal_take_effect_at_the_next_request(office):
    app, users, keys = office
    client = app.test_client()
    assert client.post("/login", data={"token": keys["ana"]}).status_code == 302
    assert client.get_cookie(SESSION_COOKIE) is not None
    status = client.get("/api/status").json
    assert status["signed_in"] and status["user"]["name"] == "ana"

    def visible() -> set[str]:
        return {d["path"] for d in client.get("/api/documents").json["documents"]}

    assert "hr/salaries.md" in visible()
    users.revoke("ana", ["hr"])
    assert visible() == {"welcome.md"}
    found = client.get("/api/search", query_string={"q": "salary band senior engineer"})
    assert sources(found.json["citations"]) == {"welcome.md"}
    users.grant("ana", ["hr"])
    assert "hr/salaries.md" in visible()

    new_key = users.new_key("ana")
    assert client.get("/api/documents").status_code == 401, "the old key's session ended"
    assert client.get("/api/documents", headers=as_user(keys["ana"])).status_code == 401
    assert client.get("/api/documents", headers=as_user(new_key)).status_code == 200

    other = app.test_client()
    other.post("/login", data={"token": keys["ben"]})
    assert other.get("/api/documents").status_code == 200
    users.remove("ben")
    assert other.get("/api/documents").status_code == 401


def test_the_access_token_is_the_admin_and_sees_everything(make_app):
    app = make_app(documents=DOCUMENTS, server__access_token=TOKEN)
    users = Users(users_path(app.config["RUNTIME"].settings.paths.data))
    ben = as_user(users.add("ben", folders=["public"]))
    boss = as_user(users.add("boss", admin=True))
    client = app.test_client()
    for admin in (as_user(TOKEN), boss):
        listing = client.get("/api/documents", headers=admin).json
        assert len(listing["documents"]) == 4 and listing["totals"] == {"indexed": 4}
        assert client.get("/metrics", headers=admin).status_code == 200
    assert client.get("/api/status", headers=as_user(TOKEN)).json["user"] == {
        "name": "",
        "admin": True,
    }
    assert len(client.get("/api/documents", headers=ben).json["documents"]) == 2
    users.close()
