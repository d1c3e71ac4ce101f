"""`appliance doctor`: one report of everything that stops a box from working, each failure
with what to do about it. The container runs it before serving (scripts/entrypoint.sh)."""

from __future__ import annotations

import ipaddress
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance import models
from appliance.config import Settings
from appliance.errors import INDEX_DAMAGED_FIX

MIN_FREE_GB = 1.0
PROBE_TIMEOUT_S = 300  # loading an 8B model from a slow disk takes a while


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # worth knowing, not a failure


# What to do when a check fails with the library's own error (a file damaged on disk).
CRASHED_FIXES = {
    "index": INDEX_DAMAGED_FIX,
    "embedder": "put the embedder's files back (appliance models fetch, for the defaults)",
}


def run_checks(settings: Settings) -> list[Check]:
    results = [_models(settings)]
    needs_models = [_generator, _embedder] if results[0].ok else []
    for check in [*needs_models, _ocr, _data_dir, _kb, _index, _port, access_check]:
        try:
            results.append(check(settings))
        except Exception as err:  # a check that crashes is a failed check, with the reason
            name = check.__name__.strip("_")
            reason = f"{type(err).__name__}: {err}"
            results.append(Check(name, False, reason, CRASHED_FIXES.get(name, "")))
    return results


def _models(s: Settings) -> Check:
    problems = models.verify(s)
    if problems:
        fetch = any(models.fix_hint() in p for p in problems)  # a default model's problem
        fix = models.fix_hint() if fetch else "copy the file there, or correct the setting named"
        return Check("model files", False, "; ".join(problems), fix)
    return Check("model files", True, "present, checksums match")


def _generator(s: Settings) -> Check:
    g = s.generator
    if g.backend == "openai":
        from openai import OpenAI

        client = OpenAI(base_url=g.api_base, api_key=g.api_key or "none", timeout=10, max_retries=0)
        names = [m.id for m in client.models.list()]
        return Check("generator", True, f"{g.api_base} answers; models: {', '.join(names)}")
    # In a child process: a native crash there (a CUDA driver, a broken build) is a failed
    # check with its reason, and this process never holds CUDA while the embedder loads.
    try:
        child = subprocess.run(
            [sys.executable, "-m", "appliance.doctor"],
            input=pickle.dumps(s),
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return Check(
            "generator",
            False,
            f"{g.model} did not load and answer within {PROBE_TIMEOUT_S} s",
            "check the model file and the machine's memory",
        )
    lines = child.stdout.decode("utf-8", "replace").strip().splitlines()
    if child.returncode != 0 or not lines:
        return Check("generator", False, _crash(child), _CRASH_FIX)
    found = json.loads(lines[-1])
    if "error" in found:
        return Check("generator", False, found["error"], _CRASH_FIX)
    where = (
        f"{found['offloaded']} of {found['layers']} layers on the GPU"
        + "".join(f"; {d}" for d in found["devices"])
        if found["offloaded"]
        else "on the CPU"
    )
    detail = (
        f"{g.model} loads and answers; {where}; "
        f"{s.limits.max_concurrent_requests} answers × {g.n_ctx} tokens of context"
    )
    if g.n_gpu_layers != 0 and not found["gpu_build"] and not _nvidia_gpu():
        return Check("generator", True, f"{detail} (no GPU here: n_gpu_layers has nothing to do)")
    if g.n_gpu_layers != 0 and not found["gpu_build"]:
        return Check(
            "generator",
            True,
            f"{detail}: this llama-cpp-python build has no GPU support, so n_gpu_layers "
            f"({g.n_gpu_layers}) is ignored",
            "on a GPU box run scripts/setup.sh again where nvcc is found (it rebuilds with "
            'CUDA), or reinstall with CMAKE_ARGS="-DGGML_CUDA=on" pip install '
            "--force-reinstall --no-cache-dir llama-cpp-python",
            warning=True,
        )
    return Check("generator", True, detail)


def _nvidia_gpu() -> bool:
    """An NVIDIA GPU is there (its device node or its tool), whatever this build can do."""
    return Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi") is not None


_CRASH_FIX = (
    "run `appliance doctor` again to see whether it persists; check the GPU driver "
    "(nvidia-smi), generator.n_gpu_layers (0 runs on the CPU) and the model file"
)


def _crash(child: subprocess.CompletedProcess) -> str:
    """Why the generator probe died, in a sentence: its signal, or its last error line."""
    if child.returncode < 0:
        try:
            name = signal.Signals(-child.returncode).name
        except ValueError:
            name = f"signal {-child.returncode}"
        if name == "SIGILL":
            return (
                "loading or running the model crashed (SIGILL): this llama.cpp build uses "
                f"processor instructions this CPU lacks ({_missing_cpu_flags() or 'unknown'}); "
                "rebuild it for this CPU: scripts/setup.sh on this box, or the Dockerfile's "
                "CPU_FLAGS build arg"
            )
        return f"loading or running the model crashed ({name})"
    errors = child.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"loading the model failed: {errors[-1] if errors else f'exit {child.returncode}'}"


BUILD_CPU_FLAGS = ("avx", "avx2", "fma", "f16c")  # what the portable builds assume


def _missing_cpu_flags() -> str:
    """The instruction sets the portable llama.cpp builds assume and this CPU lacks."""
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return ""
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")),
        [],
    )
    return ", ".join(f.upper() for f in BUILD_CPU_FLAGS if f not in flags)


def _embedder(s: Settings) -> Check:
    from appliance.index.embedder import Embedder

    embedder = Embedder(s.embedder, s.embedder_dir, s.multilingual_embedder)
    problem = embedder.dimension_problem()
    if problem:
        return Check("embedder", False, *problem)
    where = "on the GPU (CUDA)" if embedder.device == "gpu" else "on the CPU"
    used = [s.embedder] + ([s.multilingual] if s.multilingual_embedder else [])
    loaded = " and ".join(f"{e.model_dir} ({e.dim} dimensions)" for e in used)
    return Check("embedder", True, f"{loaded} load; {where}")


def _ocr(s: Settings) -> Check:
    """OCR is optional: without it scans get a status saying so, and everything else works."""
    from appliance.documents import ocr

    if not s.ocr.enabled:
        return Check(
            "ocr", True, "off (ocr.enabled: false): scanned pages and pictures are not read"
        )
    problem = ocr.problem(s.ocr.languages)
    if problem:
        detail, _, fix = problem.partition(". ")
        return Check("ocr", True, detail, fix, warning=True)
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, timeout=30)
    first = (version.stdout or version.stderr).splitlines()[0].strip()
    installed = ", ".join(sorted(ocr.installed_languages()))
    return Check("ocr", True, f"{first}; reads {s.ocr.languages} (installed: {installed})")


def _data_dir(s: Settings) -> Check:
    data = s.paths.data
    if not data.exists():  # made at the first start; a check makes nothing
        parent = next(p for p in data.parents if p.exists())
        try:  # can it be made? (tried, and taken back)
            os.rmdir(tempfile.mkdtemp(dir=parent, prefix=".doctor-"))
        except OSError:
            return Check(
                "data dir",
                False,
                f"{data} does not exist, and {parent} is not writable: it cannot be made",
                f"create {data}, writable by user {os.getuid()} (or mount a volume there)",
            )
        return Check(
            "data dir",
            True,
            f"{data} does not exist yet: the first start makes it, and indexes kb/ there",
            "if an index was expected there, correct paths.data",
            warning=True,
        )
    try:
        with tempfile.NamedTemporaryFile(dir=data, prefix=".doctor-"):
            pass
    except OSError as err:
        return Check(
            "data dir",
            False,
            f"{data} is not writable: {err.strerror}",
            f"make {data} writable by user {os.getuid()} (or mount a volume there)",
        )
    free_gb = shutil.disk_usage(data).free / 1e9
    if free_gb < MIN_FREE_GB:
        return Check(
            "data dir",
            False,
            f"{data}: only {free_gb:.2f} GB free",
            "free disk space: the index and the logs grow with kb/",
        )
    return Check("data dir", True, f"{data} writable, {free_gb:.0f} GB free")


def _kb(s: Settings) -> Check:
    kb = s.paths.kb
    if not kb.is_dir():
        return Check("kb", False, f"{kb} does not exist", f"create it: mkdir -p {kb}")
    try:
        count = sum(len(files) for _, _, files in os.walk(kb))
    except OSError as err:
        return Check("kb", False, f"{kb} cannot be read: {err.strerror}", "fix its permissions")
    if not os.access(kb, os.R_OK | os.X_OK):
        return Check("kb", False, f"{kb} cannot be read", "fix its permissions")
    return Check("kb", True, f"{kb} readable, {count} files")


def _index(s: Settings) -> Check:
    from appliance.app import manifest_path, open_store, why_the_index_cannot_open
    from appliance.errors import IndexLocked, IndexMismatch
    from appliance.sync.manifest import Manifest
    from appliance.sync.pipeline import Pipeline
    from appliance.sync.reconcile import stale_paths

    if not s.paths.data.exists():
        return Check("index", True, "none yet: the first start makes it")
    if problem := why_the_index_cannot_open(s):
        return Check("index", False, f"not opened: {problem}", "as the line says")
    try:
        store = open_store(s, remake=False)  # a check changes nothing
    except IndexLocked:
        return Check(
            "index", True, "in use by a running appliance (not checked further)", warning=True
        )
    except IndexMismatch as err:
        return Check("index", True, str(err), warning=True)
    try:
        if not manifest_path(s).is_file():
            return Check("index", True, f"opens; empty ({store.count()} chunks)")
        manifest = Manifest(manifest_path(s), readonly=True)
        try:
            stale = stale_paths(Pipeline(s, manifest, store, embedder=None), s.watcher.ignore)
        finally:
            manifest.close()
        detail = f"opens; {store.count()} chunks"
        if stale:
            return Check(
                "index",
                True,
                f"{detail}; {len(stale)} files differ from kb/ "
                f"(e.g. {stale[0]}): the next start-up sync updates them",
                warning=True,
            )
        return Check("index", True, f"{detail}; matches kb/ and the manifest")
    finally:
        store.close()


def _port(s: Settings) -> Check:
    host, port = s.server.host, s.server.port
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            return Check(
                "port",
                False,
                f"cannot listen on {host}:{port}: {err.strerror}",
                "stop what uses it, or set server.port / --port",
            )
    return Check("port", True, f"{host}:{port} is free")


def access_check(s: Settings) -> Check:
    """Who may read what: this machine only, whoever has the access token, or users by folder."""
    from appliance.users import Users, users_path

    path = users_path(s.paths.data)
    users = []
    if path.exists():
        store = Users(path)
        users = store.all()
        store.close()
    token = bool(s.server.access_token)
    if users:
        admin = "the access token and " if token else ""
        admins = sum(u.admin for u in users)
        return Check(
            "access",
            True,
            f"by folder: {len(users)} user(s); {admin}{admins} admin user(s) see all of kb/, "
            "the others kb/'s top level and their folders (appliance users list)",
        )
    if token:
        return Check(
            "access",
            True,
            "the access token is needed, and shows all of kb/ (appliance users add: by folder)",
        )
    host = s.server.host
    if host == "localhost" or _is_loopback(host):
        return Check("access", True, f"no sign-in: only this machine reaches the page ({host})")
    return Check(
        "access",
        True,
        f"no sign-in, and server.host {host} serves the network: anyone who reaches port "
        f"{s.server.port} reads all of kb/",
        "set APPLIANCE_ACCESS_TOKEN in .env, or add users (appliance users add)",
        warning=True,
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def report(checks: list[Check], write: Callable[[str], None] = print) -> int:
    for c in checks:
        mark = "ok  " if c.ok and not c.warning else ("warn" if c.ok else "FAIL")
        write(f"[{mark}] {c.name}: {c.detail}")
        if c.fix and (not c.ok or c.warning):
            write(f"       fix: {c.fix}")
    failed = [c for c in checks if not c.ok]
    write(f"{len(failed)} problem(s)" if failed else "all checks passed")
    return 1 if failed else 0


def offload_report(log: str, blocks: int) -> dict:
    """What llama.cpp's load log says: layers offloaded of how many (it counts the output
    layer too: "offloaded 33/33 layers to GPU" for 32 blocks), and each device used with its
    free memory."""
    offloaded = re.search(r"offloaded (\d+)/(\d+) layers to GPU", log)
    devices = re.findall(r"using device (\S+) \((.+?)\).*?(\d+) MiB free", log)
    return {
        "layers": int(offloaded[2]) if offloaded else blocks,
        "offloaded": int(offloaded[1]) if offloaded else 0,
        "devices": [f"{d}: {name}, {int(mib) / 1024:.0f} GiB free" for d, name, mib in devices],
    }


def _probe_generator() -> None:
    """The child's side: load the generator as `serve` does, answer a few tokens, and print
    what llama.cpp reported: layers offloaded, devices used, whether the build has a GPU."""
    import ctypes

    import llama_cpp

    settings = pickle.loads(sys.stdin.buffer.read())
    said: list[str] = []

    @llama_cpp.llama_log_callback
    def listen(level, text, user_data):
        said.append(text.decode("utf-8", "replace"))

    llama_cpp.llama_log_set(listen, ctypes.c_void_p(0))
    from appliance.answer.generators import GeneratorError, LlamaGenerator

    try:
        generator = LlamaGenerator(
            settings.generator,
            settings.generator_model_path,
            settings.limits.max_concurrent_requests,
        )
        "".join(generator.stream([{"role": "user", "content": "Say OK."}], max_tokens=4))
    except (GeneratorError, ValueError, OSError) as err:
        print(json.dumps({"error": str(err)}))
        return
    metadata = generator.decoder.model.metadata()
    blocks = int(next((v for k, v in metadata.items() if k.endswith(".block_count")), 0))
    report = offload_report("".join(said), blocks)
    print(json.dumps(report | {"gpu_build": bool(llama_cpp.llama_supports_gpu_offload())}))
    generator.close()


if __name__ == "__main__":
    _probe_generator()
