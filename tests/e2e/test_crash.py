"""Fault injection: kill -9 the server again and again while it ingests a few hundred files;
after a restart the index must equal a fresh index of the same kb/ — per file, the same
number of chunks of the same version: nothing lost, nothing duplicated, no orphans."""

import random
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from appliance.app import open_store
from appliance.config import load_settings
from tests.corpus import make_pdf, write_text
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

FILES = 240


def make_corpus(kb, rng):
    words = "leave policy printer badge canteen expenses travel laptop wifi security".split()
    for i in range(FILES):
        text = " ".join(
            rng.choice(words) + str(rng.randrange(1000)) for _ in range(rng.choice([30, 80, 200]))
        )
        if i % 40 == 0:
            make_pdf(kb / f"pdf/doc{i}.pdf", [f"page one {text}", f"page two {i}"])
        else:
            write_text(kb / f"dir{i % 7}/doc{i}.txt", f"Document {i}. {text}")
    (kb / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")


def index_state(data, models_dir):
    settings = load_settings(
        None, env={}, overrides={"paths.data": str(data), "paths.models": str(models_dir)}
    )
    index = open_store(settings)  # as the appliance opens it
    try:
        counts = index.chunks_per_source()
    finally:
        index.close()
    with sqlite3.connect(data / "manifest.sqlite3") as db:
        rows = db.execute("SELECT path, status, sha256, chunks FROM documents").fetchall()
    return counts, {path: (status, sha, chunks) for path, status, sha, chunks in rows}


def indexed_count(data) -> int:
    try:
        with sqlite3.connect(f"file:{data / 'manifest.sqlite3'}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM documents WHERE status = 'indexed'").fetchone()[
                0
            ]
    except sqlite3.Error:
        return 0


def test_kill_9_during_ingest_never_corrupts_the_index(make_server, tmp_path, models_dir):
    rng = random.Random(1234)
    server = make_server(tmp_path / "crashy")
    make_corpus(server.kb, rng)
    progress_at_kill = [0]
    for delay in (0.2, 1.0, 0.5, 1.2, 0.8):
        server.start(wait=False)
        # Killed at a random moment once this run has indexed something (a loaded machine
        # may take seconds to start): each crash lands in the middle of the work.
        before = progress_at_kill[-1]
        wait_for(lambda b=before: indexed_count(server.data) > b, 120, "indexing to go on")
        time.sleep(delay * rng.random())
        server.kill()
        progress_at_kill.append(indexed_count(server.data))
        if len(progress_at_kill) == 4:  # the kb changes between crashes, too
            write_text(server.kb / "dir1/doc1.txt", "rewritten after a crash")
            (server.kb / "dir2/doc2.txt").unlink()
    assert any(0 < n < FILES - 1 for n in progress_at_kill), progress_at_kill  # mid-ingest
    server.start(timeout=300)  # waits for /ready: the start-up sync is done
    assert server.stop() == 0

    fresh = tmp_path / "fresh"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "ingest",
            "--kb",
            str(server.kb),
            "--data",
            str(fresh),
            "--models",
            str(models_dir),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "indexed" in result.stdout, result.stderr

    crashed_counts, crashed_manifest = index_state(server.data, models_dir)
    fresh_counts, fresh_manifest = index_state(fresh, models_dir)
    assert crashed_counts == fresh_counts
    assert crashed_manifest == fresh_manifest
    assert crashed_manifest["broken.pdf"][0] == "failed"
    assert len(fresh_counts) == FILES - 1


def test_kill_9_during_generation_and_sigterm_during_a_burst(make_server):
    server = make_server(extra_config="generator:\n  max_tokens: 400\n  temperature: 1.0\n")
    write_text(server.kb / "leave.txt", "Full-time staff get 25 days of annual leave per year.")
    server.start()
    before = server.documents()
    question = {"question": "How many days of annual leave do full-time staff get?"}

    threads = [
        threading.Thread(target=lambda: _quietly(server.post, "/api/ask", question))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    wait_for(lambda: server.get("/ready")[1]["answers"].get("running", 0) >= 1, 30, "generation")
    server.kill()  # kill -9 mid-answer
    for t in threads:
        t.join(60)
    server.start()
    assert server.documents() == before
    assert server.post("/api/ask", question)[0] == 200

    threads = [
        threading.Thread(target=lambda: _quietly(server.post, "/api/ask", question))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    wait_for(lambda: server.get("/ready")[1]["answers"].get("running", 0) >= 1, 30, "generation")
    assert server.stop() == 0  # SIGTERM during a burst: a clean exit
    for t in threads:
        t.join(60)
    assert '"event": "stopped"' in server.logs()
    server.start()
    assert server.documents() == before


def _quietly(call, *args):
    try:
        call(*args)
    except OSError:
        pass  # the server went away mid-request: that is the point


def test_a_restart_answers_from_the_index_while_the_files_that_came_meanwhile_are_indexed(
    make_server,
):
    """Files copied in while the appliance was down (or left half-done by a crash) can take
    hours to embed: what the index holds is answered from meanwhile, with deleted files
    already gone; /ready says the start-up sync is not done yet."""
    server = make_server(extra_config="retrieval:\n  chunk_tokens: 32\n  chunk_overlap_tokens: 0\n")
    write_text(server.kb / "canteen.txt", "The canteen opens at noon and closes at three.")
    write_text(server.kb / "old.txt", "The old parking rules are gone now.")
    server.start()
    assert server.stop() == 0
    (server.kb / "old.txt").unlink()
    paragraphs = (f"Paragraph {i} of the manual says something of its own." for i in range(1200))
    write_text(server.kb / "manual.txt", "\n\n".join(paragraphs))
    server.start(wait=False)
    wait_for(lambda: server._ready(synced=False), 120, "serving")
    status, body = server.get("/ready")
    assert status == 200 and not body["checks"]["startup_sync_done"]  # manual.txt under way
    status, found = server.get("/api/search?q=canteen%20opens")
    assert status == 200 and found["citations"][0]["source"] == "canteen.txt"
    assert "old.txt" not in server.documents()  # deleted files are gone before serving
    wait_for(lambda: server.get("/ready")[1]["checks"]["startup_sync_done"], 300, "the sync")
    assert server.documents()["manual.txt"]["status"] == "indexed"
    assert "serving_during_sync" in server.logs()
