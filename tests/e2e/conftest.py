"""The real server as a subprocess, on a free port, with its own kb/ and data dir."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

TEST_CONFIG = """
watcher:
  settle_s: 0.3
  rescan_interval_s: 5
generator:
  max_tokens: 48
  temperature: 0.0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def document_events(log_text: str) -> list[str]:
    """The paths of a server log's "document" events (one per file indexed or skipped)."""
    paths = []
    for line in log_text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == "document":
            paths.append(record.get("path"))
    return paths


class Server:
    def __init__(self, root: Path, models: Path, extra_config: str = ""):
        self.root = root
        self.kb = root / "kb"
        self.data = root / "data"
        self.models = models
        self.config = root / "appliance.yaml"
        self.kb.mkdir(parents=True, exist_ok=True)
        self.config.write_text(TEST_CONFIG + extra_config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = root / "server.log"
        self.prefix: list[str] = []  # e.g. unshare: the server in its own mount namespace

    def start(self, wait: bool = True, timeout: float = 120) -> Server:
        command = self.prefix + [
            sys.executable,
            "-m",
            "appliance",
            "serve",
            "--config",
            str(self.config),
            "--kb",
            str(self.kb),
            "--data",
            str(self.data),
            "--models",
            str(self.models),
            "--port",
            str(self.port),
        ]
        self.proc = subprocess.Popen(
            command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=os.environ.copy()
        )
        if wait:
            wait_for(self._ready, timeout, f"{self.url}/ready (log: {self.log})")
        return self

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        self.proc.kill()
        self.proc.wait()

    def _ready(self, synced: bool = True) -> bool:
        """/ready says 200; with `synced`, its start-up sync is done too (a restarted server
        answers before it is, and tests want it done unless they say otherwise)."""
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
        try:
            status, body = self.get("/ready")
        except OSError:
            return False
        return status == 200 and (body["checks"]["startup_sync_done"] or not synced)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else 0

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def get(self, path: str) -> tuple[int, dict]:
        return self._call(urllib.request.Request(self.url + path))

    def post(self, path: str, body: object) -> tuple[int, dict]:
        data = json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        return self._call(request)

    def stream(self, question: str) -> list[tuple[str, object]]:
        """POST /api/ask/stream and parse the Server-Sent Events."""
        data = json.dumps({"question": question}).encode()
        request = urllib.request.Request(
            self.url + "/api/ask/stream",
            data=data,
            headers={"Content-Type": "application/json"},
        )
        events, kind = [], None
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            for raw in response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line[len("data: ") :])))
        return events

    def documents(self) -> dict[str, dict]:
        return {d["path"]: d for d in self.get("/api/documents")[1]["documents"]}

    @staticmethod
    def _call(request) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")


@pytest.fixture
def make_server(tmp_path, models_dir):
    servers = []

    def make(root: Path | None = None, extra_config: str = "") -> Server:
        server = Server(root or tmp_path, models_dir, extra_config)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def tickets():
    """The ticket API the actions tests call, on loopback (tests/e2e/ticket_api.py)."""
    from tests.e2e.ticket_api import TicketApi

    api = TicketApi()
    yield api
    api.close()
