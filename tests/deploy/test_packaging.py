"""Deployment packaging: compose file, Dockerfile, shell scripts, model fetching, the bundle
(made, verified, installed without Docker) and backup/restore of a real data dir.

No Docker engine is needed: the docker steps themselves are only verified on a GPU box (see
docs/deploy.md). Needs the Debian packages docker-compose and shellcheck.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
COMPOSE = ROOT / "compose.edge.yml"
DEPLOY_SCRIPTS = ["entrypoint.sh", "make_bundle.sh", "install_bundle.sh", "backup.sh", "restore.sh"]
APT_HINT = "install it: apt-get install -y {}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


# ---------------------------------------------------------------- compose.edge.yml


def test_compose_appliance_service(compose):
    svc = compose["services"]["appliance"]
    assert svc["image"] == "appliance:${APPLIANCE_VERSION:-latest}"
    assert svc["pull_policy"] == "never"
    assert svc["build"]["context"] == "."
    assert svc["restart"] == "unless-stopped"
    assert svc["env_file"] == ".env"
    assert svc["ports"] == ["${APPLIANCE_BIND:-127.0.0.1}:${APPLIANCE_PORT:-8000}:8000"]
    assert svc["environment"]["APPLIANCE_SERVER__HOST"] == "0.0.0.0"
    assert "profiles" not in svc  # the default: `docker compose up -d` starts it
    assert svc["stop_grace_period"] == "30s"
    assert svc["mem_limit"]
    assert svc["logging"]["driver"] == "json-file"
    assert svc["logging"]["options"]["max-size"] and svc["logging"]["options"]["max-file"]


def test_compose_volumes(compose):
    for name in ("appliance", "appliance-cpu", "appliance-cluster"):
        volumes = compose["services"][name]["volumes"]
        assert "./kb:/app/kb" in volumes
        assert "./models:/app/models:ro" in volumes
        assert "appliance-data:/app/data" in volumes
        assert "./appliance.yaml:/app/appliance.yaml:ro" in volumes
    assert "appliance-data" in compose["volumes"]


def _seconds(text: str) -> int:
    return sum(
        int(n) * {"s": 1, "m": 60, "h": 3600}[u] for n, u in re.findall(r"(\d+)([smh])", text)
    )


def test_compose_healthcheck(compose):
    hc = compose["services"]["appliance"]["healthcheck"]
    test = " ".join(hc["test"])
    assert hc["test"][0] == "CMD" and hc["test"][1] == "python"  # exists in the image
    assert "http://127.0.0.1:8000/ready" in test and "urllib" in test
    assert _seconds(hc["timeout"]) <= 10
    assert hc["retries"] >= 3
    assert _seconds(hc["start_period"]) >= 180  # loading an 8B model


def test_compose_gpu_reservation(compose):
    for name in ("appliance", "appliance-cluster"):
        devices = compose["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_compose_cpu_variant(compose):
    cpu = compose["services"]["appliance-cpu"]
    assert cpu["profiles"] == ["cpu"]
    assert "deploy" not in cpu
    assert cpu["environment"]["APPLIANCE_GENERATOR__N_GPU_LAYERS"] == "0"
    assert cpu["build"]["args"]["GPU"] == "0"
    assert cpu["image"].endswith("-cpu")
    assert cpu["pull_policy"] == "never" and cpu["restart"] == "unless-stopped"


def test_compose_cluster_profile(compose):
    qdrant = compose["services"]["qdrant"]
    assert qdrant["profiles"] == ["cluster"]
    assert qdrant["image"].startswith("qdrant/qdrant:")
    assert qdrant["pull_policy"] == "never"
    assert "/readyz" in " ".join(qdrant["healthcheck"]["test"])
    assert "qdrant-data:/qdrant/storage" in qdrant["volumes"]
    app = compose["services"]["appliance-cluster"]
    assert app["profiles"] == ["cluster"]
    assert app["depends_on"] == {"qdrant": {"condition": "service_healthy"}}
    assert app["environment"]["APPLIANCE_INDEX__BACKEND"] == "qdrant"
    assert app["environment"]["APPLIANCE_INDEX__QDRANT_URL"] == "http://qdrant:6333"


def test_env_example_documents_every_compose_variable():
    names = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    assert {"APPLIANCE_VERSION", "APPLIANCE_BIND", "APPLIANCE_PORT"} <= names
    example = (ROOT / ".env.example").read_text()
    for name in names | {
        "APPLIANCE_GENERATOR__API_KEY",
        "APPLIANCE_INDEX__QDRANT_API_KEY",
        "APPLIANCE_SKIP_DOCTOR",
    }:
        assert re.search(rf"^#? ?{name}=", example, re.M), f"{name} not in .env.example"
    for line in example.splitlines():  # compose v1 keeps inline comments in values
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z_]+=[^\s#'\"]*", line), line


@pytest.mark.e2e  # docker-compose, as a process
def test_docker_compose_config(tmp_path):
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is missing: " + APT_HINT.format("docker-compose"))
    shutil.copy(COMPOSE, tmp_path / "compose.edge.yml")
    shutil.copy(ROOT / "appliance.yaml", tmp_path / "appliance.yaml")
    env = (
        (ROOT / ".env.example")
        .read_text()
        .replace("APPLIANCE_VERSION=latest", "APPLIANCE_VERSION=9.9.9")
    )
    (tmp_path / ".env").write_text(
        env.replace("APPLIANCE_BIND=127.0.0.1", "APPLIANCE_BIND=0.0.0.0")
    )
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLIANCE_", "QDRANT"))}
    result = run([exe, "-f", "compose.edge.yml", "config"], cwd=tmp_path, env=clean_env)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    app = config["services"]["appliance"]
    assert app["image"] == "appliance:9.9.9"
    assert config["services"]["appliance-cpu"]["image"] == "appliance:9.9.9-cpu"
    assert any(str(p).startswith("0.0.0.0:8000:8000") for p in app["ports"])
    assert f"{tmp_path}/models:/app/models:ro" in app["volumes"]
    # also valid without a .env: every variable has a default
    (tmp_path / ".env").write_text("")
    result = run([exe, "-f", "compose.edge.yml", "config", "-q"], cwd=tmp_path, env=clean_env)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I)
    assert len(froms) >= 3  # multi-stage
    assert re.search(r"^ARG CUDA_VERSION=", text, re.M) and re.search(r"^ARG GPU=1", text, re.M)
    assert any("${CUDA_VERSION}-devel" in image for image, _ in froms)
    assert any("${CUDA_VERSION}-runtime" in image for image, _ in froms)
    assert any(image == "build-gpu${GPU}" for image, _ in froms)
    assert any(image == "runtime-gpu${GPU}" for image, _ in froms)
    assert "python:3.11-slim" in text  # the CPU variant
    assert "-DGGML_CUDA=on" in text and "pip wheel" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*", text, re.M)
    assert "/ready" in text[text.index("HEALTHCHECK") :]
    assert re.search(r'^ENTRYPOINT \["/app/scripts/entrypoint.sh"\]', text, re.M)
    for line in re.findall(r"^(?:COPY|ADD)\s.*", text, re.M):
        assert "models" not in line and not re.search(r"\sADD\s|^ADD", line), line
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :].count("!models/") == 0 and "*" in ignore


# ---------------------------------------------------------------- shell scripts


def test_shellcheck():
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.fail("shellcheck is missing: " + APT_HINT.format("shellcheck"))
    scripts = sorted(SCRIPTS.glob("*.sh"))
    result = run([exe, *map(str, scripts)])
    assert result.returncode == 0, result.stdout
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script} is not executable"


def test_entrypoint_runs_doctor_then_serve(tmp_path):
    """The entrypoint against a fake `appliance`: doctor first, serve only if it passed."""
    log = tmp_path / "calls"
    fake = tmp_path / "bin" / "appliance"
    fake.parent.mkdir()
    fake.write_text(
        f'#!/bin/sh\necho "$*" >> {log}\n[ "$1" = doctor ] && exit "${{DOCTOR_RC:-0}}"\nexit 0\n'
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    entry = str(SCRIPTS / "entrypoint.sh")
    assert run([entry, "--port", "8000"], env=env).returncode == 0
    assert log.read_text().splitlines() == ["doctor", "serve --port 8000"]
    log.unlink()
    result = run([entry], env={**env, "DOCTOR_RC": "1"})
    assert result.returncode == 1 and "not starting" in result.stdout  # stderr → stdout
    assert log.read_text().splitlines() == ["doctor"]
    log.unlink()
    assert run([entry, "docs", "--json"], env=env).returncode == 0
    assert log.read_text().splitlines() == ["docs --json"]


# ---------------------------------------------------------------- scripts/fetch_models.py


def _load_fetch_models():
    spec = importlib.util.spec_from_file_location("fetch_models", SCRIPTS / "fetch_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class FakeHub(http.server.ThreadingHTTPServer):
    """Serves files at /<repo>/resolve/<rev>/<path> with Range support; can cut the first
    response of a file short, and announce a (right or wrong) X-Linked-Etag."""

    def __init__(self, files: dict[str, bytes]):
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.files = files
        self.requests: list[tuple[str, str]] = []  # (path, Range header)
        self.cut_once: set[str] = set()
        self.etags: dict[str, str] = {}


class _HubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        hub: FakeHub = self.server
        rng = self.headers.get("Range", "")
        hub.requests.append((self.path, rng))
        body = hub.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = int(rng[len("bytes=") : -1]) if rng else 0
        if start >= len(body) and rng:
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        if self.path in hub.etags:
            self.send_header("X-Linked-Etag", f'"{hub.etags[self.path]}"')
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path in hub.cut_once:  # half the file, then the connection drops
            hub.cut_once.discard(self.path)
            self.wfile.write(body[start : start + (len(body) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body[start:])


@pytest.fixture
def hub():
    gguf = b"GGUF" + os.urandom(300_000)
    files = {
        "/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF/resolve/main/"
        "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf": gguf,
        "/Xenova/bge-small-en-v1.5/resolve/main/onnx/model.onnx": os.urandom(50_000),
    }
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "config.json",
        "special_tokens_map.json",
    ):
        files[f"/Xenova/bge-small-en-v1.5/resolve/main/{name}"] = f'{{"{name}": 1}}'.encode()
    server = FakeHub(files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_fetch_models_resume_and_checksums(hub, tmp_path, capsys):
    fm = _load_fetch_models()
    models = tmp_path / "models"
    models.mkdir()
    (models / "SHA256SUMS").write_text(f"{'0' * 64}  other/kept.bin\n")  # other lines are kept
    base = f"http://127.0.0.1:{hub.server_address[1]}"
    gguf_path = next(p for p in hub.files if p.endswith(".gguf"))
    hub.cut_once.add(gguf_path)
    hub.etags[gguf_path] = hashlib.sha256(hub.files[gguf_path]).hexdigest()
    args = ["--models", str(models), "--base-url", base, "--backoff", "0", "--token", ""]
    assert fm.main(args) == 0
    out = capsys.readouterr().out
    assert "resume" in out
    assert any(p == gguf_path and r.startswith("bytes=") for p, r in hub.requests)
    expected = {
        "generator/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf": hub.files[gguf_path],
        "bge-small-en-v1.5/model.onnx": hub.files[
            "/Xenova/bge-small-en-v1.5/resolve/main/onnx/model.onnx"
        ],
    }
    for name, body in expected.items():
        assert (models / name).read_bytes() == body
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "config.json",
        "special_tokens_map.json",
    ):
        assert (models / "bge-small-en-v1.5" / name).is_file()
    assert not list(models.rglob("*.part"))
    sums = fm.read_sums(models)
    assert sums["other/kept.bin"] == "0" * 64
    assert len(sums) == 7
    for name, digest in sums.items():
        if name != "other/kept.bin":
            assert sha256(models / name) == digest
    (models / "other" / "kept.bin").parent.mkdir()
    (models / "other" / "kept.bin").write_bytes(b"")
    (models / "SHA256SUMS").write_text(
        (models / "SHA256SUMS").read_text().replace("0" * 64, hashlib.sha256(b"").hexdigest())
    )
    # the manifest is in sha256sum format: the standard tool agrees
    assert run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=models).returncode == 0
    assert "model_dir: bge-small-en-v1.5" in out and "pooling: cls" in out and "dim: 384" in out
    assert "model: generator/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf" in out

    # a second run downloads nothing
    hub.requests.clear()
    assert fm.main(args) == 0
    assert hub.requests == []
    # --verify re-hashes; a changed byte is named
    assert fm.main(["--models", str(models), "--verify"]) == 0
    onnx = models / "bge-small-en-v1.5" / "model.onnx"
    body = onnx.read_bytes()
    onnx.write_bytes(bytes([body[0] ^ 0xFF]) + body[1:])  # a changed byte, whatever it was
    capsys.readouterr()
    assert fm.main(["--models", str(models), "--verify"]) == 1
    assert "bge-small-en-v1.5/model.onnx" in capsys.readouterr().err
    # ... and the next fetch replaces it
    assert fm.main(args) == 0
    assert fm.main(["--models", str(models), "--verify"]) == 0


def test_fetch_models_resumes_a_part_file_and_rejects_a_wrong_hash(hub, tmp_path):
    fm = _load_fetch_models()
    models = tmp_path / "models"
    base = f"http://127.0.0.1:{hub.server_address[1]}"
    gguf_path = next(p for p in hub.files if p.endswith(".gguf"))
    body = hub.files[gguf_path]
    target = models / "generator" / "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"
    target.parent.mkdir(parents=True)
    target.with_name(target.name + ".part").write_bytes(body[:1000])  # an earlier, broken run
    args = ["--models", str(models), "--base-url", base, "--skip-embedder", "--backoff", "0"]
    assert fm.main(args) == 0
    assert hub.requests == [(gguf_path, "bytes=1000-")]
    assert target.read_bytes() == body

    hub.etags[gguf_path] = "f" * 64  # the hub says another sha256: refuse the file
    target.unlink()
    assert fm.main(args) == 1
    assert not target.exists() and not target.with_name(target.name + ".part").exists()

    hub.requests.clear()  # a missing file is not retried
    assert fm.main([*args, "--generator-file", "nope.gguf"]) == 1
    assert len(hub.requests) == 1


# ---------------------------------------------------------------- bundle: make and install


@pytest.fixture
def bundle(tmp_path) -> Path:
    models = tmp_path / "src-models"
    (models / "generator").mkdir(parents=True)
    (models / "embedder").mkdir()
    (models / "generator" / "m.gguf").write_bytes(os.urandom(4096))
    (models / "embedder" / "model.onnx").write_bytes(os.urandom(2048))
    (models / ".wheels").mkdir()
    (models / ".wheels" / "cache.whl").write_bytes(b"not bundled")
    (models / "generator" / "x.gguf.part").write_bytes(b"not bundled")
    image = tmp_path / "image.tar"  # stands in for `docker save` output
    with tarfile.open(image, "w") as tar:
        manifest = tmp_path / "manifest.json"
        manifest.write_text('[{"RepoTags": ["appliance:1.0.0"]}]')
        tar.add(manifest, "manifest.json")
    out = tmp_path / "dist"
    result = run(
        [
            str(SCRIPTS / "make_bundle.sh"),
            "--version",
            "1.0.0",
            "--models",
            str(models),
            "--image-tar",
            str(image),
            "--out",
            str(out),
        ]
    )
    assert result.returncode == 0, result.stderr + result.stdout
    tarball = out / "appliance-bundle-1.0.0.tar"
    assert f"bundle: {tarball}" in result.stdout
    return tarball


def test_make_bundle_content(bundle, tmp_path):
    with tarfile.open(bundle) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
        tar.extractall(tmp_path / "x", filter="data")
    top = "appliance-bundle-1.0.0/"
    assert {
        top + n
        for n in [
            "SHA256SUMS",
            "VERSION",
            "compose.edge.yml",
            "appliance.yaml",
            ".env.example",
            "constraints.txt",
            "DEPLOY.md",
            "images/appliance-1.0.0.tar.gz",
            "models/SHA256SUMS",
            "models/generator/m.gguf",
            "models/embedder/model.onnx",
            "scripts/install_bundle.sh",
            "scripts/backup.sh",
            "scripts/restore.sh",
        ]
    } == names
    b = tmp_path / "x" / "appliance-bundle-1.0.0"
    assert run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=b).returncode == 0
    assert run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=b / "models").returncode == 0
    listed = {line.split("  ", 1)[1] for line in (b / "SHA256SUMS").read_text().splitlines()}
    assert {top + n for n in listed} == names - {top + "SHA256SUMS"}
    assert "variant=gpu" in (b / "VERSION").read_text()
    assert "image=appliance:1.0.0" in (b / "VERSION").read_text()
    assert run(["gzip", "-t", str(b / "images" / "appliance-1.0.0.tar.gz")]).returncode == 0
    assert (b / "compose.edge.yml").read_bytes() == COMPOSE.read_bytes()
    assert (b / "constraints.txt").read_bytes() == (ROOT / "constraints.txt").read_bytes()


def test_install_bundle_lays_out_and_keeps_local_files(bundle, tmp_path):
    prefix = tmp_path / "opt" / "appliance"
    install = [str(SCRIPTS / "install_bundle.sh"), "--no-docker", "--prefix", str(prefix)]
    result = run([*install, "--sha256", sha256(bundle), str(bundle)])
    assert result.returncode == 0, result.stderr + result.stdout
    for name in ["compose.edge.yml", "appliance.yaml", ".env", ".env.example", "VERSION"]:
        assert (prefix / name).is_file(), name
    for name in ["kb", "backups", "models/generator", "models/embedder"]:
        assert (prefix / name).is_dir(), name
    for name in ["install_bundle.sh", "backup.sh", "restore.sh"]:
        assert os.access(prefix / "scripts" / name, os.X_OK)
    assert "APPLIANCE_VERSION=1.0.0" in (prefix / ".env").read_text().splitlines()
    assert oct((prefix / ".env").stat().st_mode)[-3:] == "600"
    assert run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=prefix / "models").returncode == 0
    assert "http://127.0.0.1:8000/" in result.stdout
    assert not list(prefix.glob(".install.*"))  # the unpacked bundle is cleaned up

    # upgrade: .env and appliance.yaml stay (the version line is updated), kb/ untouched
    (prefix / ".env").write_text("APPLIANCE_BIND=0.0.0.0\nAPPLIANCE_VERSION=0.9\nSECRET=x\n")
    (prefix / "appliance.yaml").write_text("server:\n  port: 8000\n")
    (prefix / "kb" / "doc.md").write_text("keep me")
    result = run([*install, str(bundle)])
    assert result.returncode == 0, result.stderr
    assert (
        prefix / ".env"
    ).read_text() == "APPLIANCE_BIND=0.0.0.0\nAPPLIANCE_VERSION=1.0.0\nSECRET=x\n"
    assert (prefix / "appliance.yaml").read_text() == "server:\n  port: 8000\n"
    assert (prefix / "appliance.yaml.dist").read_bytes() == (ROOT / "appliance.yaml").read_bytes()
    assert (prefix / "kb" / "doc.md").read_text() == "keep me"
    assert "8000" in result.stdout and "127.0.0.1:8000" not in result.stdout


def test_install_bundle_refuses_tampered_files(bundle, tmp_path):
    x = tmp_path / "x"
    x.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(x, filter="data")
    b = x / "appliance-bundle-1.0.0"
    model = b / "models" / "embedder" / "model.onnx"
    body = model.read_bytes()
    model.write_bytes(bytes([body[0] ^ 0xFF]) + body[1:])  # a changed byte, whatever it was
    (b / "scripts" / "extra.sh").write_text("echo sneaked in\n")
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(tampered, "w") as tar:
        tar.add(b, "appliance-bundle-1.0.0")
    prefix = tmp_path / "prefix"
    install = [str(SCRIPTS / "install_bundle.sh"), "--no-docker", "--prefix", str(prefix)]
    result = run([*install, str(tampered)])
    assert result.returncode != 0
    assert "CORRUPT  models/embedder/model.onnx" in result.stderr
    assert "UNLISTED scripts/extra.sh" in result.stderr
    assert sorted(p.name for p in prefix.iterdir()) == []  # nothing installed
    result = run([*install, "--sha256", "0" * 64, str(bundle)])
    assert result.returncode != 0 and "expected" in result.stderr
    assert not (prefix / "models").exists()


# ---------------------------------------------------------------- backup / restore


def _ingest(kb: Path, data: Path) -> str:
    result = run(
        [sys.executable, "-m", "appliance", "ingest", "--kb", str(kb), "--data", str(data)]
        + ["--models", str(ROOT / "models")],
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.e2e  # `appliance ingest`, backup.sh and restore.sh, as processes
def test_backup_restore_round_trip_while_in_use(tmp_path, models_dir):
    kb, data = tmp_path / "kb", tmp_path / "data"
    kb.mkdir()
    (kb / "leave.md").write_text("# Leave\n\nAnnual leave is 25 days per year.\n")
    (kb / "it.md").write_text("# IT\n\nThe VPN is at vpn.example.com.\n")
    _ingest(kb, data)
    (data / "queries.jsonl").write_text('{"question": "leave?"}\n')
    db = sqlite3.connect(data / "manifest.sqlite3")
    assert db.execute("select count(*) from sqlite_master").fetchone()[0] > 0
    db.close()

    # a writer keeps writing (WAL mode) and a reader holds a read transaction during the backup
    writer = sqlite3.connect(data / "queries.sqlite3", isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("create table probe(n integer)")
    reader = sqlite3.connect(data / "manifest.sqlite3", isolation_level=None)
    reader.execute("begin")
    reader.execute("select count(*) from sqlite_master").fetchone()
    stop = threading.Event()

    def write():
        w = sqlite3.connect(data / "queries.sqlite3", isolation_level=None)
        n = 0
        while not stop.is_set():
            w.execute("insert into probe values (?)", (n,))
            n += 1
        w.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        result = run([str(SCRIPTS / "backup.sh"), str(data), str(tmp_path / "backups")])
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr + result.stdout
    backup = Path(result.stdout.strip().splitlines()[-1].removeprefix("backup: "))
    assert sorted(p.name for p in backup.iterdir()) == [
        "BACKUP_INFO",
        "SHA256SUMS",
        "index",
        "manifest.sqlite3",
        "queries.jsonl",
        "queries.sqlite3",
    ]
    copy = sqlite3.connect(backup / "queries.sqlite3")
    assert copy.execute("pragma integrity_check").fetchone()[0] == "ok"
    copied = copy.execute("select count(*) from probe").fetchone()[0]
    copy.close()
    assert 0 <= copied <= writer.execute("select count(*) from probe").fetchone()[0]
    assert "index_consistent=yes" in (backup / "BACKUP_INFO").read_text()
    assert not list(backup.glob("*-wal")) and not list(backup.glob("*-shm"))

    # restore refuses while this process still has the databases open
    refused = run([str(SCRIPTS / "restore.sh"), str(backup), str(data)])
    assert refused.returncode != 0 and "stop the appliance first" in refused.stderr
    reader.execute("rollback")
    reader.close()
    writer.close()

    # lose the data dir, restore it, and the appliance finds everything up to date
    shutil.rmtree(data)
    data.mkdir()
    result = run([str(SCRIPTS / "restore.sh"), str(backup), str(data)])
    assert result.returncode == 0, result.stderr + result.stdout
    assert (data / "queries.jsonl").read_text() == '{"question": "leave?"}\n'
    assert "0 file(s) updated; 2 indexed" in _ingest(kb, data)

    # without the index: restore moves the current data aside and the index is rebuilt
    result = run([str(SCRIPTS / "restore.sh"), "--no-index", str(backup), str(data)])
    assert result.returncode == 0, result.stderr
    assert not (data / "index").exists()
    assert len(list(tmp_path.glob("data.pre-restore-*"))) == 1
    assert "2 indexed" in _ingest(kb, data)

    # a damaged backup is refused
    with (backup / "queries.jsonl").open("a") as f:
        f.write("tampered\n")
    result = run([str(SCRIPTS / "restore.sh"), "--force", str(backup), str(data)])
    assert result.returncode != 0 and "damaged" in result.stderr


# ---------------------------------------------------------------- constraints.txt


def test_every_dependency_is_pinned_within_pyproject():
    """constraints.txt (scripts/lock.sh) pins each dependency and test dependency of
    pyproject.toml to one version that pyproject allows: setup.sh, the Dockerfile and the
    bundle install exactly what the tests passed with."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["test"]]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(name)] = version
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt: run scripts/lock.sh"
        assert requirement.specifier.contains(pins[name]), (
            f"constraints.txt pins {requirement.name}=={pins[name]}, outside pyproject's "
            f"{requirement.specifier}"
        )
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "-c constraints.txt" in setup
    assert (ROOT / "Dockerfile").read_text().count("-c constraints.txt") == 2


def test_every_file_of_the_page_is_in_the_package():
    """The wheel (which the image installs) carries every file under web/static, the
    language catalogues included: package-data globs do not reach into sub-folders."""
    import tomllib
    from pathlib import PurePosixPath

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = [PurePosixPath(p) for p in config["tool"]["setuptools"]["package-data"]["appliance"]]
    static = ROOT / "appliance/web/static"
    files = [PurePosixPath(p.relative_to(ROOT / "appliance").as_posix()) for p in static.rglob("*")]
    missing = [
        str(f)
        for f in files
        if (ROOT / "appliance" / f).is_file()
        and not any(f.match(str(p)) and len(f.parts) == len(p.parts) for p in patterns)
    ]
    assert missing == []
