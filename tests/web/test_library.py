"""What the page builds on, in-process over a real Runtime: documents with totals, a cited
passage with its neighbours, the original files (safely), uploads into kb/, feedback and the
status line."""

from __future__ import annotations

import io
import sqlite3

from tests.corpus import make_pdf


def long_doc() -> str:
    return "\n\n".join(f"Section {i}. " + f"topic{i} " * 170 for i in range(4))


def pdf_bytes(tmp_path, pages: list[str]) -> bytes:
    return make_pdf(tmp_path / "made.pdf", pages).read_bytes()


def test_documents_passages_and_original_files(make_app, tmp_path):
    app = make_app(
        documents={
            "long.txt": long_doc(),
            "manual.pdf": pdf_bytes(tmp_path, ["cover", "Reset the router by holding the button."]),
            "broken.docx": b"not a zip",
            ".secret.txt": "hidden",
        }
    )
    client = app.test_client()
    listing = client.get("/api/documents").json
    assert listing["totals"] == {"indexed": 2, "failed": 1}
    assert listing["chunks"] == sum(d["chunks"] for d in listing["documents"])
    broken = next(d for d in listing["documents"] if d["path"] == "broken.docx")
    assert "broken.docx" in broken["error"]

    reply = client.get("/api/passage?source=long.txt&chunk=2")
    assert reply.status_code == 200 and reply.json["file_url"] == "/files/long.txt"
    assert [p["chunk"] for p in reply.json["passages"]] == [1, 2, 3]
    assert [p["cited"] for p in reply.json["passages"]] == [False, True, False]
    assert client.get("/api/passage?source=long.txt&chunk=99").status_code == 404
    assert client.get("/api/passage?source=long.txt").status_code == 400

    original = client.get("/files/manual.pdf")
    assert original.status_code == 200 and original.data.startswith(b"%PDF")
    assert original.headers["Content-Security-Policy"] == "sandbox"
    assert client.get("/files/long.txt").headers["Content-Type"] == "text/plain; charset=utf-8"
    for private in (
        "/files/.secret.txt",
        "/files/broken.docx",
        "/files/../appliance.yaml",
        "/files/%2e%2e/appliance.yaml",
        "/files//etc/passwd",
    ):
        assert client.get(private, follow_redirects=True).status_code == 404, private


def upload(client, filename: str, data: bytes):
    return client.post("/api/upload", data={"file": (io.BytesIO(data), filename)})


def test_uploads_are_off_by_default_and_land_in_kb_when_on(make_app):
    off = upload(make_app().test_client(), "note.txt", b"uploaded text")
    assert off.status_code == 403 and "server.uploads" in off.json["error"]

    app = make_app(server__uploads=True, server__max_upload_mb=0.01)
    client = app.test_client()
    reply = upload(client, "../../evil name.txt", b"Parking is on level minus two.")
    # The folder part is dropped; the name keeps its words (and its space).
    assert reply.status_code == 201 and reply.json["saved"] == ["uploads/evil name.txt"]
    again = upload(client, "evil name.txt", b"second")
    assert again.json["saved"] == ["uploads/evil name (1).txt"]
    parts = app.config["RUNTIME"].parts
    kb = parts.settings.paths.kb
    assert (kb / "uploads" / "evil name.txt").read_bytes() == b"Parking is on level minus two."
    assert not (kb.parent / "evil name.txt").exists()
    parts.worker.sync_all()  # what the watcher does in a running appliance
    statuses = {d["path"]: d["status"] for d in client.get("/api/documents").json["documents"]}
    assert statuses["uploads/evil name.txt"] == "indexed"
    big = upload(client, "big.txt", b"x" * 20_000)
    assert big.status_code == 413 and "server.max_upload_mb" in big.json["error"]


def test_feedback_is_stored_and_status_reports_the_model(make_app):
    app = make_app(documents={"a.txt": "Full-time staff get 25 days of annual leave."})
    client = app.test_client()
    answer = client.post("/api/ask", json={"question": "How much annual leave do staff get?"})
    vote = {"id": answer.json["id"], "rating": "down", "comment": "wrong number"}
    assert client.post("/api/feedback", json=vote).status_code == 201
    meh = client.post("/api/feedback", json={"id": answer.json["id"], "rating": "meh"})
    assert meh.status_code == 400
    data = app.config["RUNTIME"].settings.paths.data
    rows = (
        sqlite3.connect(data / "queries.sqlite3")
        .execute("SELECT query_id, rating, comment FROM feedback")
        .fetchall()
    )
    assert rows == [(answer.json["id"], "down", "wrong number")]
    status = client.get("/api/status")
    assert status.status_code == 200 and status.json["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert status.json["device"] == "cpu"
    assert status.json["indexing"] == {"done": 0, "total": 0, "waiting": 0, "current": None}


def test_text_files_are_served_in_the_encoding_they_were_read_in(make_app):
    """A GBK or Windows-1252 .txt opened from a citation reads as written, not as mojibake."""
    chinese = "会议室在三楼，请在周五前预约。这是公司的规定，所有员工都要遵守。"
    french = "L'été dernier, le café était fermé pour travaux."
    app = make_app(documents={"gbk.txt": chinese.encode("gbk"), "fr.txt": french.encode("cp1252")})
    client = app.test_client()
    served = client.get("/files/gbk.txt")
    assert served.headers["Content-Type"] == "text/plain; charset=gb18030"
    assert served.data.decode("gb18030") == chinese
    served = client.get("/files/fr.txt")
    assert served.headers["Content-Type"] == "text/plain; charset=windows-1252"
    assert served.data.decode("cp1252") == french
