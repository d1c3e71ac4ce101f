"""The data dir fills up under a running server (a real tmpfs, mounted in the server's own
mount namespace): ingestion pauses with a clear status, questions are still answered, and
once there is room again the waiting file is indexed. A read-only data dir takes the same
pause; the kernel refuses to remount a file system read-only while the server holds files
open for writing (only its own I/O-error handling does that), so the read-only check is
tried on a real read-only mount without a server. Needs root (mount namespaces)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from appliance.sync.worker import storage_problem
from tests.corpus import write_text
from tests.e2e.conftest import Server, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"),
        reason="needs root, unshare and nsenter to mount a tmpfs for the data dir",
    ),
]

TMPFS_MB = 160
MIN_FREE_MB = 40


def server_on_tmpfs(tmp_path, models_dir) -> Server:
    server = Server(tmp_path, models_dir, f"limits:\n  min_free_mb: {MIN_FREE_MB}\n")
    server.data.mkdir()
    mount = f'mount -t tmpfs -o size={TMPFS_MB}m appliance-data "$0" && exec "$@"'
    server.prefix = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        mount,
        str(server.data),
    ]
    return server


def in_server_namespace(server: Server, *command: str) -> str:
    command = ["nsenter", "-t", str(server.proc.pid), "-m", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def free_mb(server: Server) -> int:
    """What the data dir's tmpfs has left, as the server sees it (the index takes some: its
    payloads are held in memory, and on a tmpfs that memory is the file system's)."""
    return int(
        in_server_namespace(server, "df", "-BM", "--output=avail", str(server.data))
        .split()[-1]
        .rstrip("M")
    )


def ingestion(server: Server) -> str:
    return server.get("/api/status")[1]["ingestion"]


def document_status(server: Server, rel: str) -> str | None:
    document = server.documents().get(rel)
    return document and document["status"]


def still_answers(server: Server) -> None:
    status, body = server.get("/api/search?q=lighthouse+keeper")
    assert status == 200 and body["citations"][0]["source"] == "first.txt", body
    events = server.stream("What does the lighthouse keeper do?")
    assert events[-1][0] == "done", events[-3:]


def test_ingestion_pauses_while_the_data_dir_is_full(tmp_path, models_dir):
    server = server_on_tmpfs(tmp_path, models_dir)
    write_text(server.kb / "first.txt", "The lighthouse keeper trims the lamp wick at dusk.")
    server.start()
    try:
        assert document_status(server, "first.txt") == "indexed"

        # Full: a ballast file leaves less than limits.min_free_mb.
        ballast = server.data / "ballast"
        size = free_mb(server) - MIN_FREE_MB // 2
        in_server_namespace(server, "fallocate", "-l", f"{size}m", str(ballast))
        wait_for(lambda: "free some space" in ingestion(server), 10, "disk-full pause")
        write_text(server.kb / "second.txt", "The harbour master logs every arrival.")
        still_answers(server)
        assert document_status(server, "second.txt") is None
        in_server_namespace(server, "rm", str(ballast))
        wait_for(lambda: document_status(server, "second.txt") == "indexed", 30, "second.txt")
        assert ingestion(server) == "running"

        documents = server.documents()
        assert {rel: d["status"] for rel, d in documents.items()} == dict.fromkeys(
            ["first.txt", "second.txt"], "indexed"
        )
        assert "sync step failed" not in server.logs()
    finally:
        assert server.stop() == 0


def test_a_read_only_data_dir_is_seen_as_a_reason_to_pause(tmp_path):
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    check = (
        "from appliance.sync.worker import storage_problem; import sys; "
        "print(storage_problem(__import__('pathlib').Path(sys.argv[1]), 0))"
    )
    script = 'mount -t tmpfs -o size=1m,ro appliance-ro "$0" && exec "$@"'
    result = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(mount_point)]
        + [sys.executable, "-c", check, str(mount_point)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "read-only file system" in result.stdout and "remount it read-write" in result.stdout
    assert storage_problem(mount_point, 0) == ""  # the same folder, writable, outside it
    assert "free some space" in storage_problem(mount_point, 10**12)
