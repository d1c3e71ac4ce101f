"""The deploy tier (pytest -m deploy; scripts/test.sh runs it after the suite): the real CPU
image (scripts/build_test_image.sh builds it first) under compose.edge.yml and through the
bundle, with Debian's Docker and docker-compose, the tiny default models and the real kb/.

- compose: healthy, a cited answer, kill -9 of the server -> restarted with the index intact,
  SIGSTOP -> healed by the entrypoint's watchdog, down/up keeps the data;
- the bundle: made from the image, installed onto a clean prefix, installed again, an upgrade
  to a new version, and a rollback to the old one.

Outside the loopback-only namespace of the main run: containers are reached on the host's
loopback, through the ports compose publishes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.scanned import TRAVEL, page_picture

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
DOCKER = "/usr/bin/docker"
IMAGE = "appliance:test-cpu"
WATCHDOG = {"APPLIANCE_WATCHDOG_INTERVAL": "2", "APPLIANCE_WATCHDOG_FAILURES": "3"}
HEALED_WITHIN_S = 3 * (2 + 5) + 30  # failures × (interval + probe timeout) + a restart


def sh(*cmd, cwd=None, timeout=600, check=True) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def image() -> str:
    if subprocess.run([DOCKER, "image", "inspect", IMAGE], capture_output=True).returncode:
        pytest.fail(f"no {IMAGE}: run scripts/build_test_image.sh first (scripts/test.sh does)")
    return IMAGE


def models_copy(dest: Path, models_dir: Path) -> None:
    """Real files (the container cannot follow links out of its mounts)."""
    for name in ("embedder", "embedder-multilingual", "generator"):
        shutil.copytree(models_dir / name, dest / name, symlinks=False)
    if (models_dir / "SHA256SUMS").is_file():
        shutil.copy(models_dir / "SHA256SUMS", dest / "SHA256SUMS")


def write_env(folder: Path, port: int, version: str) -> None:
    text = (ROOT / ".env.example").read_text()
    lines = [
        line
        for line in text.splitlines()
        if not line.startswith(("APPLIANCE_VERSION=", "APPLIANCE_PORT="))
    ]
    lines += [f"APPLIANCE_VERSION={version}", f"APPLIANCE_PORT={port}"]
    lines += [f"{k}={v}" for k, v in WATCHDOG.items()]
    (folder / ".env").write_text("\n".join(lines) + "\n")


class Box:
    """A folder laid out as on the appliance box, and its compose project."""

    def __init__(self, folder: Path, project: str, port: int):
        self.folder, self.project, self.port = folder, project, port
        self.url = f"http://127.0.0.1:{port}"

    def compose(self, *args, timeout=600, check=True) -> str:
        command = ["docker-compose", "-p", self.project, "-f", "compose.edge.yml"]
        return sh(
            *command, "--profile", "cpu", *args, cwd=self.folder, timeout=timeout, check=check
        )

    def container(self) -> str:
        return self.compose("ps", "-q", "appliance-cpu").strip()

    def state(self) -> tuple[str, str, int]:
        out = sh(
            DOCKER,
            "inspect",
            "-f",
            "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} "
            "{{.RestartCount}}",
            self.container(),
        )
        status, health, restarts = out.split()
        return status, health, int(restarts)

    def wait_healthy(self, timeout: float = 240) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            status, health, _ = self.state()
            if (status, health) == ("running", "healthy"):
                return time.monotonic() - started
            time.sleep(1)
        logs = sh(DOCKER, "logs", "--tail", "40", self.container(), check=False)
        raise AssertionError(f"not healthy after {timeout} s: {self.state()}\n{logs}")

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def ask(self, question: str) -> dict:
        request = urllib.request.Request(
            self.url + "/api/ask",
            json.dumps({"question": question}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def server_pid(self) -> int:
        """The server's process id on the host (the container's PID 1 is its init)."""
        out = sh(DOCKER, "top", self.container(), "-eo", "pid,args")
        return next(
            int(line.split()[0]) for line in out.splitlines()[1:] if "appliance serve" in line
        )

    def down(self) -> None:
        self.compose("down", "-v", check=False)


@pytest.fixture
def box(tmp_path, image, models_dir):
    folder = tmp_path / "box"
    shutil.copytree(ROOT / "kb", folder / "kb")
    (folder / "models").mkdir()
    for name in ("compose.edge.yml", "appliance.yaml"):
        shutil.copy(ROOT / name, folder / name)
    models_copy(folder / "models", models_dir)
    os.chmod(folder / "kb", 0o777)  # uid 10001 in the container
    sh("chmod", "-R", "a+rX", folder)
    port = free_port()
    write_env(folder, port, image.split(":")[1].removesuffix("-cpu"))
    b = Box(folder, f"deploy{port}", port)
    yield b
    b.down()


def documents(box: Box) -> dict:
    return {d["path"]: d for d in box.get("/api/documents")["documents"]}


def test_compose_serves_heals_and_keeps_its_data(box):
    page_picture(TRAVEL).save(box.folder / "kb/scan.png")  # read by the image's Tesseract
    box.compose("up", "-d", "appliance-cpu")
    print(f"healthy {box.wait_healthy():.0f} s after up -d")
    reply = box.ask("Which file types can I drop into the folder?")
    assert any(c.get("cited") and c["source"] == "welcome.md" for c in reply["citations"])
    request = urllib.request.Request(box.url + "/", headers={"Accept-Language": "zh-CN"})
    with urllib.request.urlopen(request, timeout=30) as response:  # the page, in Chinese
        assert "<title>知识库助手</title>" in response.read().decode()
    started = time.monotonic()
    while documents(box)["scan.png"]["status"] != "indexed":
        assert time.monotonic() - started < 60, documents(box)["scan.png"]
        time.sleep(1)
    indexed = documents(box)["welcome.md"]["indexed_at"]

    os.kill(box.server_pid(), signal.SIGKILL)  # kill -9: no flush, no goodbye
    started = time.monotonic()
    while box.state()[2] < 1:
        assert time.monotonic() - started < 60, f"not restarted: {box.state()}"
        time.sleep(0.5)
    print(f"restarted {time.monotonic() - started:.1f} s after kill -9")
    box.wait_healthy()
    assert documents(box)["welcome.md"]["indexed_at"] == indexed  # nothing re-indexed

    os.kill(box.server_pid(), signal.SIGSTOP)  # hung: answers nothing, exits never
    started = time.monotonic()
    while box.state()[2] < 2:
        assert time.monotonic() - started < HEALED_WITHIN_S, f"not healed: {box.state()}"
        time.sleep(0.5)
    print(f"watchdog restarted it {time.monotonic() - started:.1f} s after SIGSTOP")
    box.wait_healthy()
    logs = sh(DOCKER, "logs", box.container())
    assert "watchdog: the server is hung" in logs

    box.compose("down")  # keeps the named volume
    box.compose("up", "-d", "appliance-cpu")
    box.wait_healthy()
    assert documents(box)["welcome.md"]["indexed_at"] == indexed


def test_bundle_install_reinstall_upgrade_and_rollback(tmp_path, image, models_dir):
    models = tmp_path / "models"
    models.mkdir()
    models_copy(models, models_dir)
    dist = tmp_path / "dist"

    def bundle(version: str) -> Path:
        sh(DOCKER, "tag", image, f"appliance:{version}-cpu")
        tar = tmp_path / f"image-{version}.tar"
        sh(DOCKER, "save", "-o", tar, f"appliance:{version}-cpu", timeout=900)
        sh(
            ROOT / "scripts" / "make_bundle.sh",
            "--cpu",
            "--version",
            version,
            "--models",
            models,
            "--image-tar",
            tar,
            "--out",
            dist,
            timeout=900,
        )
        tar.unlink()
        return dist / f"appliance-bundle-{version}.tar"

    prefix = tmp_path / "opt-appliance"
    prefix.mkdir()
    port = free_port()
    write_env(prefix, port, "none")  # kept by the installer, which sets APPLIANCE_VERSION
    shutil.copytree(ROOT / "kb", prefix / "kb")  # kept too: the documents are the operator's
    sh("chmod", "-R", "a+rX", prefix)
    box = Box(prefix, prefix.name, port)  # compose names the project after the folder

    def install(tar: Path) -> str:
        installer = ROOT / "scripts" / "install_bundle.sh"
        return sh(
            installer, "--prefix", prefix, "--variant", "cpu", "--timeout", "300", tar, timeout=900
        )

    try:
        first = bundle("1.0.0")
        for _ in range(2):  # a fresh install, then the same bundle on the running appliance
            out = install(first)
            assert "the appliance 1.0.0 is ready" in out, out
        assert box.ask("Which file types can I drop into the folder?")["citations"]

        out = install(bundle("1.1.0"))
        assert "the appliance 1.1.0 is ready" in out, out
        assert sh(DOCKER, "inspect", "-f", "{{.Config.Image}}", box.container()).strip() == (
            "appliance:1.1.0-cpu"
        )

        env = (
            (prefix / ".env")
            .read_text()
            .replace("APPLIANCE_VERSION=1.1.0", "APPLIANCE_VERSION=1.0.0")
        )
        (prefix / ".env").write_text(env)
        box.compose("up", "-d", "appliance-cpu")  # the rollback deploy.md describes
        box.wait_healthy()
        assert sh(DOCKER, "inspect", "-f", "{{.Config.Image}}", box.container()).strip() == (
            "appliance:1.0.0-cpu"
        )
    finally:
        box.down()
        for version in ("1.0.0", "1.1.0"):
            sh(DOCKER, "rmi", f"appliance:{version}-cpu", check=False)
