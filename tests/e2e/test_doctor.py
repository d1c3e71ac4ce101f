"""`appliance doctor` on a healthy setup and on each kind of broken one."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import write_text
from tests.scanned import needs_ocr

pytestmark = pytest.mark.e2e


def doctor(*args):
    return subprocess.run(
        [sys.executable, "-m", "appliance", "doctor", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def box(tmp_path, models_copy):
    """A kb/, a data dir and a models/ of links to the real files (safe to break)."""
    copy = models_copy
    write_text(tmp_path / "kb/a.txt", "alpha")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {"kb": tmp_path / "kb", "data": tmp_path / "data", "models": copy, "port": port}


def write_config(box, text: str) -> Path:
    path = box["kb"].parent / "doctor.yaml"
    path.write_text(text)
    return path


def flags(box, **changes):
    values = {**box, **changes}
    return [item for key, value in values.items() for item in (f"--{key}", value)]


def test_a_healthy_box_passes(box):
    result = doctor(*flags(box))
    assert result.returncode == 0, result.stdout
    assert "all checks passed" in result.stdout
    assert "[ok  ] embedder" in result.stdout and "[ok  ] index" in result.stdout
    # This build has no GPU support: on a GPU box a warning (with the rebuild), on a box
    # without one (this one) nothing to fix.
    if Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi"):
        assert "[warn] generator" in result.stdout and "CMAKE_ARGS" in result.stdout
    else:
        assert "[ok  ] generator" in result.stdout and "no GPU here" in result.stdout


def test_a_missing_model_fails_with_the_fix(box):
    (box["models"] / "embedder/model.onnx").unlink()
    result = doctor(*flags(box))
    assert result.returncode == 1
    assert "[FAIL] model files" in result.stdout and "model.onnx is missing" in result.stdout
    assert 'fix: run "appliance models fetch"' in result.stdout


def test_a_wrong_checksum_fails(box):
    target = box["models"] / "embedder/config.json"
    target.unlink()
    target.write_text("{}")
    result = doctor(*flags(box))
    assert result.returncode == 1 and "config.json is corrupt" in result.stdout


def test_a_wrong_embedder_dim_fails_and_costs_no_index(box):
    """embedder.dim not the model's size once made serve and doctor alike wipe the index as
    one of another embedder (hours of embedding again on 2 cores); now it is refused."""

    def run(command, env=None):
        args = [sys.executable, "-m", "appliance", command, *map(str, flags(box))]
        if command == "ingest":
            args = [a for a in args if a not in ("--port", str(box["port"]))]
        return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)

    assert run("ingest").returncode == 0
    wrong = {**os.environ, "APPLIANCE_EMBEDDER__DIM": "512"}
    checked = run("doctor", wrong)
    assert checked.returncode == 1
    assert "[FAIL] embedder" in checked.stdout and "set embedder.dim: 384" in checked.stdout
    assert "[warn] index" in checked.stdout  # not made anew by a check
    ingested = run("ingest", wrong)
    assert ingested.returncode == 2 and "set embedder.dim: 384" in ingested.stderr
    healthy = run("doctor")
    assert healthy.returncode == 0, healthy.stdout
    assert "opens; 1 chunks; matches kb/ and the manifest" in healthy.stdout


def test_a_data_dir_not_made_yet_is_reported_and_left_unmade(box, tmp_path):
    """A misspelt paths.data was made by doctor, with an empty index, and reported as
    "writable", "opens; empty": the typo went unnoticed."""
    typo = tmp_path / "dta"
    result = doctor(*flags(box, data=typo))
    assert result.returncode == 0, result.stdout
    assert "[warn] data dir" in result.stdout and "does not exist yet" in result.stdout
    assert "correct paths.data" in result.stdout
    assert "[ok  ] index" in result.stdout and "none yet" in result.stdout
    assert not typo.exists()


def test_a_missing_model_of_ones_own_names_its_setting_not_fetch(box):
    result = doctor(*flags(box), "--config", write_config(box, "generator:\n  model: mine.gguf\n"))
    assert result.returncode == 1
    assert "[FAIL] model files" in result.stdout and "correct generator.model" in result.stdout
    assert "appliance models fetch" not in result.stdout.split("fix:")[-1]


def test_an_unusable_data_dir_fails(box):
    result = doctor(*flags(box, data="/proc/appliance-data"))
    assert result.returncode == 1 and "[FAIL] data dir" in result.stdout


def test_a_busy_port_and_a_bad_config_fail(box, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = doctor(*flags(box, port=taken.getsockname()[1]))
    assert result.returncode == 1 and "[FAIL] port" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("generator:\n  n_gpu_layer: 0\n")
    result = doctor("--config", bad)
    assert result.returncode == 1
    assert "[FAIL] config: unknown key 'generator.n_gpu_layer'" in result.stdout


def test_a_crash_of_the_model_check_is_a_failed_check_with_its_reason():
    """The generator is checked in a child process: a native crash there (a CUDA driver, a
    broken build) is reported, and the other checks still run."""
    import subprocess

    from appliance.doctor import _crash

    crashed = subprocess.CompletedProcess([], -11, b"", b"")
    assert _crash(crashed) == "loading or running the model crashed (SIGSEGV)"
    failed = subprocess.CompletedProcess([], 1, b"", b"Traceback ...\nValueError: bad magic\n")
    assert _crash(failed) == "loading the model failed: ValueError: bad magic"


def test_the_gpu_report_reads_llama_cpps_own_log():
    """Lines in llama.cpp's own format (llama.cpp, llama-model.cpp), as a CUDA build prints
    them on an H200 for a 32-block model: doctor says what llama.cpp did (it counts the
    output layer too), not what the config asked for."""
    from appliance.doctor import offload_report

    log = (
        "llama_model_load_from_file_impl: using device CUDA0 (NVIDIA H200) "
        "(0000:00:07.0) - 143155 MiB free\n"
        "load_tensors: offloading 32 repeating layers to GPU\n"
        "load_tensors: offloaded 33/33 layers to GPU\n"
    )
    assert offload_report(log, blocks=32) == {
        "layers": 33,
        "offloaded": 33,
        "devices": ["CUDA0: NVIDIA H200, 140 GiB free"],
    }
    partial = log.replace("offloaded 33/33", "offloaded 20/33")
    assert offload_report(partial, blocks=32)["offloaded"] == 20
    assert offload_report("load_tensors: CPU model buffer", blocks=32) == {
        "layers": 32,
        "offloaded": 0,
        "devices": [],
    }


def test_a_model_killed_by_an_illegal_instruction_names_the_cpu_build():
    """SIGILL from the generator probe: the llama.cpp build assumes instructions the CPU
    lacks; the report says so and how to rebuild, not just "crashed"."""
    import signal as signals

    from appliance.doctor import _crash

    child = subprocess.CompletedProcess(["probe"], -signals.SIGILL, b"", b"")
    message = _crash(child)
    assert "SIGILL" in message and "CPU_FLAGS" in message and "scripts/setup.sh" in message
    child = subprocess.CompletedProcess(["probe"], -signals.SIGSEGV, b"", b"")
    assert _crash(child) == "loading or running the model crashed (SIGSEGV)"


def test_ocr_is_reported_and_a_missing_language_is_a_warning_with_the_fix(box):
    needs_ocr("eng")
    result = doctor(*flags(box))
    assert "[ok  ] ocr: tesseract" in result.stdout and "reads eng" in result.stdout
    config = box["kb"].parent / "appliance.yaml"
    config.write_text("ocr:\n  languages: eng+kor\n")
    result = doctor("--config", config, *flags(box))
    assert result.returncode == 0, result.stdout  # scans wait; everything else works
    assert "[warn] ocr: OCR cannot run here: its language kor" in result.stdout
    assert "fix: Install it (apt-get install tesseract-ocr-kor)" in result.stdout
