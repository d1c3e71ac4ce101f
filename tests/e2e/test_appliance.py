"""The whole appliance, as a user meets it: files dropped into kb/, questions over HTTP."""

import json

import pytest

from tests.corpus import make_docx, make_pdf, write_text
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

LEAVE_QUESTION = "How many days of annual leave do full-time staff get?"


def fill_kb(kb):
    make_pdf(
        kb / "handbook.pdf",
        [
            "Staff handbook. Welcome to the company. This handbook explains our policies.",
            "Annual leave. Full-time staff get 25 days of annual leave per year. "
            "Part-time staff get annual leave pro rata to their contracted hours.",
            "Expenses. Travel expenses are reimbursed within 30 days of submitting receipts.",
        ],
    )
    write_text(
        kb / "it/printers.txt",
        "The office printer on floor 3 is an HP LaserJet M404. "
        "Report printer faults to the IT service desk on extension 4455.",
    )
    write_text(
        kb / "security.md",
        "# Security\n\n## Visitors\n\nVisitors must sign in at "
        "reception and wear a red visitor badge at all times.\n",
    )
    make_docx(
        kb / "canteen.docx",
        [
            ("h1", "Canteen"),
            ("h2", "Opening hours"),
            ("p", "The canteen serves lunch from noon until 2 pm."),
        ],
    )


def all_indexed(server, expected: set[str]):
    def check():
        docs = server.documents()
        return set(docs) == expected and all(d["status"] == "indexed" for d in docs.values())

    return check


def sources(citations) -> list[str]:
    return [c["source"] for c in citations]


def test_drop_ask_edit_delete_restart(make_server):
    server = make_server()
    fill_kb(server.kb)
    server.start()
    files = {"handbook.pdf", "it/printers.txt", "security.md", "canteen.docx"}
    wait_for(all_indexed(server, files), 60, "the four documents to be indexed")

    status, answer = server.post("/api/ask", {"question": LEAVE_QUESTION})
    assert status == 200, answer
    top = answer["citations"][0]
    assert (top["source"], top["page"]) == ("handbook.pdf", 2)
    assert "25 days" in top["snippet"]
    assert answer["answer"].strip()
    assert {"embed_ms", "search_ms", "generate_ms", "total_ms"} <= set(answer["timings"])

    events = server.stream("When does the canteen serve lunch?")
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "citations" and kinds[-1] == "done"
    assert events[0][1][0]["source"] == "canteen.docx"
    tokens = "".join(data for kind, data in events if kind == "token")
    done = events[-1][1]
    assert tokens.strip()
    if done["mode"] == "generated":
        assert done["answer"] == tokens.strip()
    else:  # auto mode: the model's answer was not backed; the passage is quoted instead
        assert done["mode"] == "extractive" and done["replaced_because"]
        assert "noon" in done["answer"] and "canteen.docx" in done["answer"]

    status, found = server.get("/api/search?q=printer%20faults&k=2")
    assert status == 200 and found["citations"][0]["source"] == "it/printers.txt"
    assert set(found["citations"][0]) == {
        "number",
        "source",
        "chunk",
        "page",
        "heading",
        "score",
        "relevance",
        "snippet",
        "ocr",
    }
    assert found["citations"][0]["ocr"] is False  # typed text, not read from a scan

    # An edit is picked up: the new text is found, the old text is gone.
    write_text(
        server.kb / "it/printers.txt",
        "The office printer on floor 3 was replaced by a Brother HL-L5100DN colour printer.",
    )
    wait_for(lambda: "Brother" in search_snippet(server, "printer floor 3"), 30, "the edit")
    assert "LaserJet" not in json.dumps(server.get("/api/search?q=LaserJet%20M404&k=5")[1])

    # A delete is picked up: the document and its chunks are gone.
    (server.kb / "security.md").unlink()
    wait_for(lambda: "security.md" not in server.documents(), 30, "the delete")
    visitors = server.get("/api/search?q=visitor%20badge&k=5")[1]["citations"]
    assert "security.md" not in sources(visitors)

    # A rename is picked up: the new path is cited, the old one is gone.
    (server.kb / "canteen.docx").rename(server.kb / "facilities-canteen.docx")
    wait_for(
        all_indexed(server, {"handbook.pdf", "it/printers.txt", "facilities-canteen.docx"}),
        30,
        "the rename",
    )
    lunch = server.get("/api/search?q=canteen%20lunch&k=1")[1]["citations"]
    assert sources(lunch) == ["facilities-canteen.docx"]

    # A corrupt file is reported with its reason; the server keeps answering.
    (server.kb / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    wait_for(
        lambda: server.documents().get("broken.pdf", {}).get("status") == "failed",
        30,
        "broken.pdf to be reported",
    )
    assert "broken.pdf" in server.documents()["broken.pdf"]["error"]
    assert server.post("/api/ask", {"question": LEAVE_QUESTION})[0] == 200

    # A restart serves the same index without embedding anything again.
    before = server.documents()
    search_before = server.get("/api/search?q=annual%20leave&k=3")[1]["citations"]
    assert server.stop() == 0
    log_size = len(server.logs())
    server.start()
    assert server.documents() == before
    assert server.get("/api/search?q=annual%20leave&k=3")[1]["citations"] == search_before
    restarted_log = server.logs()[log_size:]
    assert '"msg": "indexed"' not in restarted_log


def search_snippet(server, query: str) -> str:
    citations = server.get(f"/api/search?q={query.replace(' ', '%20')}&k=1")[1]["citations"]
    return citations[0]["snippet"] if citations else ""


def test_health_ready_and_bad_requests(make_server):
    server = make_server()
    server.start()
    assert server.get("/health") == (200, {"status": "ok"})
    status, ready = server.get("/ready")
    assert status == 200 and ready["checks"]["watcher"] == "running"
    assert ready["waiting_for"] == ""
    # A 503 says what it waits for (it said "error": "" while the models loaded).
    from appliance.runtime import _waiting_for

    starting = {**ready["checks"], "models_loaded": False, "startup_sync_done": False}
    assert _waiting_for(starting) == "the models to load"
    syncing = {**ready["checks"], "startup_sync_done": False}
    assert _waiting_for(syncing).startswith("kb/ to be brought up to date")

    status, body = server.post("/api/ask", {"question": "   "})
    assert status == 400 and "empty" in body["error"]
    status, body = server.post("/api/ask", {"question": "x" * 5000})
    assert status == 400 and "limit" in body["error"]
    status, body = server.post("/api/ask", ["not", "an", "object"])
    assert status == 400

    # Nothing indexed: said so plainly, never an invented answer.
    status, body = server.post("/api/ask", {"question": "What is the wifi password?"})
    assert status == 200 and body["citations"] == [] and body["refusal"] == "nothing_indexed"
    assert body["answer"].startswith("Nothing is searchable yet")


@pytest.mark.parametrize("backend", ["edge", "qdrant"])
def test_search_filters_and_both_backends(make_server, backend):
    server = make_server(extra_config=f"index:\n  backend: {backend}\n")
    fill_kb(server.kb)
    server.start()
    files = {"handbook.pdf", "it/printers.txt", "security.md", "canteen.docx"}
    wait_for(all_indexed(server, files), 60, "the four documents to be indexed")
    assert (server.data / ("index" if backend == "edge" else "qdrant")).is_dir()

    everywhere = server.get("/api/search?q=leave%20printer%20badge%20lunch&k=10")[1]
    assert set(sources(everywhere["citations"])) == files
    in_it = server.get("/api/search?q=leave%20printer%20badge%20lunch&k=10&folder=it")[1]
    assert set(sources(in_it["citations"])) == {"it/printers.txt"}
    typed = server.get("/api/search?q=leave%20printer%20badge%20lunch&k=10&type=pdf,docx")[1]
    assert set(sources(typed["citations"])) == {"handbook.pdf", "canteen.docx"}

    status, answer = server.post("/api/ask", {"question": LEAVE_QUESTION, "types": ["md"]})
    assert status == 200 and set(sources(answer["citations"])) <= {"security.md"}
    status, body = server.post("/api/ask", {"question": LEAVE_QUESTION, "types": "pdf"})
    assert status == 200 and sources(body["citations"])[0] == "handbook.pdf"
    status, body = server.post("/api/ask", {"question": LEAVE_QUESTION, "folder": 3})
    assert status == 400 and "folder" in body["error"]

    # A folder that holds no indexed document (misspelt): said so, not "not found".
    status, body = server.post("/api/ask", {"question": LEAVE_QUESTION, "folder": "hr"})
    assert status == 200 and body["refusal"] == "nothing_matches" and body["citations"] == []
    assert body["answer"].startswith("No indexed document is in the folder")
    status, body = server.post(
        "/api/ask", {"question": "Who won the 1954 world cup?", "folder": "it"}
    )
    assert status == 200 and body["refusal"] == "not_in_documents"


def test_serving_the_network_without_sign_in_is_warned_about_at_start(make_server, tmp_path):
    """doctor said so, serve did not: an operator who set server.host 0.0.0.0 and misspelt
    the token's name in .env served all of kb/ to the network unawares."""
    server = make_server(extra_config="server:\n  host: 0.0.0.0\n")
    (server.root / ".env").write_text("APPLIANCE_ACCES_TOKEN=s3cret\n")
    server.start()
    server.stop()
    logs = server.logs()
    assert "did you mean APPLIANCE_ACCESS_TOKEN?" in logs
    warned = [json.loads(line) for line in logs.splitlines() if "open_to_network" in line]
    assert len(warned) == 1 and "anyone who reaches port" in warned[0]["msg"]
    assert "set APPLIANCE_ACCESS_TOKEN in .env" in warned[0]["msg"]

    quiet = make_server(tmp_path / "quiet")  # 127.0.0.1: only this machine reaches it
    quiet.start()
    quiet.stop()
    assert "open_to_network" not in quiet.logs()
