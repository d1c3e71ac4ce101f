"""What the page builds on: documents with totals, a cited passage with its neighbours, the
original files (safely), uploads into kb/, feedback and the status line."""

import json
import sqlite3
import urllib.request
import uuid

import pytest

from tests.corpus import make_pdf, write_text
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def long_doc() -> str:
    return "\n\n".join(f"Section {i}. " + f"topic{i} " * 170 for i in range(4))


def multipart(fields: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b""
    for name, (filename, data) in fields.items():
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(server, filename: str, data: bytes):
    body, content_type = multipart({"file": (filename, data)})
    request = urllib.request.Request(
        server.url + "/api/upload", data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def raw_get(server, path: str):
    try:
        with urllib.request.urlopen(server.url + path, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_documents_passages_and_original_files(make_server):
    server = make_server()
    write_text(server.kb / "long.txt", long_doc())
    make_pdf(server.kb / "manual.pdf", ["cover", "Reset the router by holding the button."])
    (server.kb / "broken.docx").write_bytes(b"not a zip")
    write_text(server.kb / ".secret.txt", "hidden")
    server.start()
    wait_for(lambda: len(server.documents()) == 3, 30, "three documents")

    listing = server.get("/api/documents")[1]
    assert listing["totals"] == {"indexed": 2, "failed": 1}
    assert listing["chunks"] == sum(d["chunks"] for d in listing["documents"])
    assert "broken.docx" in server.documents()["broken.docx"]["error"]

    status, body = server.get("/api/passage?source=long.txt&chunk=2")
    assert status == 200 and body["file_url"] == "/files/long.txt"
    assert [p["chunk"] for p in body["passages"]] == [1, 2, 3]
    assert [p["cited"] for p in body["passages"]] == [False, True, False]
    assert server.get("/api/passage?source=long.txt&chunk=99")[0] == 404
    assert server.get("/api/passage?source=long.txt")[0] == 400

    status, headers, data = raw_get(server, "/files/manual.pdf")
    assert status == 200 and data.startswith(b"%PDF")
    assert headers["Content-Security-Policy"] == "sandbox"
    for private in (
        "/files/.secret.txt",
        "/files/broken.docx",
        "/files/../appliance.yaml",
        "/files/%2e%2e/appliance.yaml",
        "/files//etc/passwd",
    ):
        assert raw_get(server, private)[0] == 404, private


def test_uploads_are_off_by_default_and_land_in_kb_when_on(make_server, tmp_path):
    off = make_server(tmp_path / "off")
    off.start()
    status, body = upload(off, "note.txt", b"uploaded text")
    assert status == 403 and "server.uploads" in body["error"]
    off.stop()

    on = make_server(
        tmp_path / "on", extra_config="server:\n  uploads: true\n  max_upload_mb: 0.01\n"
    )
    on.start()
    status, body = upload(on, "../../evil name.txt", b"Parking is on level minus two.")
    # The folder part is dropped; the name keeps its words (and its space).
    assert status == 201 and body["saved"] == ["uploads/evil name.txt"]
    assert upload(on, "evil name.txt", b"second")[1]["saved"] == ["uploads/evil name (1).txt"]
    wait_for(
        lambda: on.documents().get("uploads/evil name.txt", {}).get("status") == "indexed",
        30,
        "the upload to be indexed",
    )
    assert not (on.root / "evil name.txt").exists()
    status, body = upload(on, "big.txt", b"x" * 20_000)
    assert status == 413 and "server.max_upload_mb" in body["error"]


def test_feedback_is_stored_and_status_reports_the_model(make_server):
    server = make_server()
    write_text(server.kb / "a.txt", "Full-time staff get 25 days of annual leave.")
    server.start()
    answer = server.post("/api/ask", {"question": "How much annual leave do staff get?"})[1]
    status, _ = server.post(
        "/api/feedback", {"id": answer["id"], "rating": "down", "comment": "wrong number"}
    )
    assert status == 201
    assert server.post("/api/feedback", {"id": answer["id"], "rating": "meh"})[0] == 400
    rows = (
        sqlite3.connect(server.data / "queries.sqlite3")
        .execute("SELECT query_id, rating, comment FROM feedback")
        .fetchall()
    )
    assert rows == [(answer["id"], "down", "wrong number")]
    status, body = server.get("/api/status")
    assert status == 200 and body["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert body["device"] == "cpu" and body["watcher"] == "running"
    assert body["indexing"] == {"done": 0, "total": 0, "waiting": 0, "current": None}
