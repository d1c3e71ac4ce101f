"""What a real server run leaves behind: query log lines, the query history, metrics, and
the draft eval questions exported from weak answers."""

import json
import sqlite3
import subprocess
import sys
import urllib.request

import pytest

from tests.corpus import write_text
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

LEAVE = "Annual leave policy. Full-time staff get 25 days of annual leave per year."
QUESTION = "How many days of annual leave do full-time staff get?"


def query_lines(server) -> list[dict]:
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "query"]


def metrics(server) -> dict[str, float]:
    with urllib.request.urlopen(server.url + "/metrics", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_every_question_is_logged_stored_and_counted(make_server):
    server = make_server()
    write_text(server.kb / "hr/leave.txt", LEAVE)
    server.start()
    before = metrics(server)
    answer = server.post("/api/ask", {"question": QUESTION})[1]
    server.post("/api/ask", {"question": "Who won the football world cup?"})

    answered, gap = query_lines(server)[-2:]
    assert answered["request_id"] == answer["id"] and answered["outcome"] == "answered"
    assert gap["outcome"] == "no_knowledge"
    for field in (
        "ts",
        "conversation_id",
        "query",
        "rewritten_query",
        "model",
        "retrieved",
        "timings",
        "tokens_in",
        "tokens_out",
        "trust",
        "answer",
    ):
        assert field in answered, field
    assert answered["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert answered["tokens_in"] > 0 and answered["tokens_out"] > 0
    assert {
        "embed_ms",
        "search_ms",
        "queue_ms",
        "first_token_ms",
        "generate_ms",
        "total_ms",
    } <= set(answered["timings"])
    retrieved = answered["retrieved"]
    assert retrieved[0]["id"] == "hr/leave.txt#0" and retrieved[0]["sent"] is True
    retrieved_ids = {r["id"] for r in retrieved}
    cited = {c["number"] for c in answer["citations"] if c["cited"]}
    assert {r["id"] for r in retrieved if r["cited"]} <= retrieved_ids
    assert len([r for r in retrieved if r["cited"]]) == len(cited)

    rows = (
        sqlite3.connect(server.data / "queries.sqlite3")
        .execute("SELECT id, outcome FROM queries ORDER BY ts")
        .fetchall()
    )
    assert rows[-2:] == [(answer["id"], "answered"), (gap["request_id"], "no_knowledge")]
    file_lines = (server.data / "queries.jsonl").read_text().splitlines()
    assert json.loads(file_lines[-1])["request_id"] == gap["request_id"]

    after = metrics(server)
    assert (
        after['appliance_questions_total{outcome="answered"}']
        == before.get('appliance_questions_total{outcome="answered"}', 0) + 1
    )
    assert after['appliance_questions_total{outcome="no_knowledge"}'] >= 1
    assert after["appliance_answer_seconds_count"] == 2
    assert after["appliance_retrieval_seconds_count"] == 2
    assert after["appliance_first_token_seconds_count"] == 1
    assert after['appliance_documents{status="indexed"}'] == 1
    assert after["appliance_chunks_indexed"] == 1
    assert after['appliance_files_processed_total{status="indexed"}'] == 1
    assert after["appliance_ready"] == 1 and after["appliance_generations_active"] == 0

    # A failed file moves the counters too.
    (server.kb / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    wait_for(
        lambda: metrics(server).get('appliance_documents{status="failed"}') == 1,
        30,
        "the failed file in the metrics",
    )
    assert metrics(server)['appliance_files_processed_total{status="failed"}'] == 1


def test_weak_answers_become_draft_eval_questions(make_server, tmp_path):
    server = make_server()
    write_text(server.kb / "hr/leave.txt", LEAVE)
    server.start()
    answer = server.post("/api/ask", {"question": QUESTION})[1]
    server.post("/api/feedback", {"id": answer["id"], "rating": "down", "comment": "vague"})
    out = tmp_path / "drafts.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "queries",
            "--negative",
            "--low-trust",
            "--below",
            "1.01",
            "--data",
            str(server.data),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    drafts = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["id"] for d in drafts] == [answer["id"]]
    draft = drafts[0]
    assert draft["question"] == QUESTION and draft["gold_file"] == ""
    assert draft["gold_page"] is None and draft["answer_phrases"] == []
    assert draft["feedback"] == "down:vague" and draft["retrieved"] == ["hr/leave.txt"]
    assert draft["refused"] is False

    # Questions refused as not in the documents: gaps in them, or wrongly refused.
    refused = server.post("/api/ask", {"question": "Who won the 1954 world cup?"})[1]
    assert refused["refusal"] == "not_in_documents"
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "queries", "--refused", "--data", str(server.data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    drafts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["id"], d["refused"]) for d in drafts] == [(refused["id"], True)]


def test_privacy_no_text_in_logs(make_server):
    server = make_server(extra_config="observe:\n  log_text: none\n")
    write_text(server.kb / "hr/leave.txt", LEAVE)
    server.start()
    server.post("/api/ask", {"question": QUESTION})
    line = query_lines(server)[-1]
    assert line["query"] is None and line["answer"] is None
    assert all(r["text"] is None for r in line["retrieved"])
    assert QUESTION not in (server.data / "queries.jsonl").read_text()
