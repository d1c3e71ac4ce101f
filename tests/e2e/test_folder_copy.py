"""A folder copied into kb/ of a running appliance, as a new user does it: the small files in it
are searchable while a big one is still being copied; the big one is judged once its copy is
complete; the file being embedded shows its progress; and stopping the server in the middle of
embedding is quick and clean."""

from __future__ import annotations

import threading
import time

import pytest

from tests.corpus import write_text
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

CONFIG = "limits:\n  max_file_mb: 1\n"


def passages(n: int, word: str) -> str:
    return "\n\n".join(f"Section {i}. " + f"{word} maintenance step {i} " * 40 for i in range(n))


def test_small_files_are_indexed_while_a_big_one_is_still_being_copied(make_server):
    server = make_server(extra_config=CONFIG)
    write_text(server.kb / "welcome.txt", "Welcome to the knowledge base.")
    server.start()
    folder = server.kb / "handbook"
    folder.mkdir()
    big = folder / "archive.txt"
    copying = threading.Event()
    copying.set()

    def copy_big_file_slowly():
        with big.open("w") as f:
            while copying.is_set() and f.tell() < 1_600_000:  # ends over limits.max_file_mb
                f.write("archived record " * 4000 + "\n")
                f.flush()
                time.sleep(0.2)

    writer = threading.Thread(target=copy_big_file_slowly)
    writer.start()
    try:
        for n in range(12):
            write_text(
                folder / f"policy{n}.txt", f"Policy {n}: badge code ZX-{n:04d} opens door {n}."
            )
        write_text(folder / "tool.exe", "not a document")
        (folder / "empty.txt").write_bytes(b"")

        def small_ones_done():
            docs = server.documents()
            return (
                all(
                    docs.get(f"handbook/policy{n}.txt", {}).get("status") == "indexed"
                    for n in range(12)
                )
                and docs
            )

        docs = wait_for(small_ones_done, 30, "the small files of the copy to be indexed")
        assert writer.is_alive(), "the big file finished copying first: the test proves nothing"
        assert docs["handbook/tool.exe"]["status"] == "unsupported"
        assert docs["handbook/empty.txt"]["status"] == "failed"
        archive = docs.get("handbook/archive.txt", {"status": "pending"})
        assert archive["status"] == "pending", archive  # not judged half-copied
        status, body = server.get("/api/search?q=which+door+does+the+badge+code+open")
        assert status == 200 and body["citations"][0]["source"].startswith("handbook/policy")
    finally:
        writer.join()
    archive = wait_for(
        lambda: (
            (d := server.documents().get("handbook/archive.txt")) and d["status"] != "pending" and d
        ),
        30,
        "the copied archive to be judged",
    )
    assert archive["status"] == "too_large" and "limits.max_file_mb" in archive["error"]
    assert archive["size"] == big.stat().st_size


def test_embedding_progress_shows_and_a_stop_mid_embedding_is_clean(make_server):
    server = make_server()
    server.start()
    write_text(server.kb / "manual.txt", passages(600, "pump"))
    current = wait_for(
        lambda: server.get("/api/status")[1]["indexing"]["current"],
        30,
        "the file being embedded to show in /api/status",
    )
    assert current["path"] == "manual.txt" and current["total"] >= 500
    later = wait_for(
        lambda: (
            (c := server.get("/api/documents")[1]["indexing"]["current"])
            and c["done"] > current["done"]
            and c
        ),
        30,
        "embedding progress",
    )
    assert later["total"] == current["total"]
    started = time.monotonic()
    assert server.stop() == 0
    took = time.monotonic() - started
    assert took < 10, f"stopping mid-embedding took {took:.1f} s"
    log = server.logs()
    assert "terminate called" not in log and "Traceback" not in log, log[-3000:]
    # Nothing half-embedded was published: after a restart the file is indexed anew.
    server.start()
    status = server.documents()["manual.txt"]["status"]
    assert status in ("pending", "indexed"), status
