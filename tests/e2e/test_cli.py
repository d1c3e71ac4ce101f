"""The command line on a real kb/, with and beside a running server."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.corpus import make_pdf, write_text
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def appliance(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "appliance", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def test_ingest_docs_ask(tmp_path, models_dir):
    kb, data = tmp_path / "kb", tmp_path / "data"
    make_pdf(kb / "handbook.pdf", ["Contents.", "Full-time staff get 25 days of annual leave."])
    write_text(kb / "notes.xyz", "unsupported")
    common = ["--kb", kb, "--data", data, "--models", models_dir]

    result = appliance("ingest", *common, "--optimize")
    assert result.returncode == 0, result.stderr
    assert "1 indexed, 1 unsupported" in result.stdout
    assert "HNSW" in result.stderr
    assert "2/2" in result.stderr  # the progress bar

    docs = appliance("docs", *common, "--json")
    listed = {d["path"]: d["status"] for d in json.loads(docs.stdout)}
    assert listed == {"handbook.pdf": "indexed", "notes.xyz": "unsupported"}

    asked = appliance("ask", "How many days of annual leave?", *common, "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["answer"].strip()
    assert (answer["citations"][0]["source"], answer["citations"][0]["page"]) == ("handbook.pdf", 2)

    plain = appliance("ask", "annual leave", *common)
    assert "Sources:" in plain.stdout and "handbook.pdf, page 2" in plain.stdout


def test_ask_with_other_embedders_leaves_the_index_and_a_restart_lists_files_as_waiting(
    tmp_path, models_dir
):
    """`ask` from a shell without the service's settings (the multilingual embedder off)
    made the index anew, empty, and the list still said "indexed" (a QA pass). A question
    changes nothing; an index that lost what it held lists its files as waiting."""
    kb, data = tmp_path / "kb", tmp_path / "data"
    write_text(kb / "leave.txt", "Full-time staff get 25 days of annual leave.")
    common = ["--kb", kb, "--data", data, "--models", models_dir]
    assert appliance("ingest", *common).returncode == 0

    other = {"APPLIANCE_MULTILINGUAL__ENABLED": "false"}
    asked = appliance("ask", "How many days of leave?", *common, env=other)
    assert asked.returncode != 0 and "`appliance ask` leaves it as it is" in asked.stderr
    kept = appliance("ask", "How many days of leave?", *common, "--json")
    assert json.loads(kept.stdout)["citations"][0]["source"] == "leave.txt"

    shutil.rmtree(data / "index")  # lost, or made anew by serve with other embedders
    from appliance.app import opened
    from appliance.config import load_settings

    settings = load_settings(
        None,
        env={},
        overrides={"paths.kb": str(kb), "paths.data": str(data), "paths.models": str(models_dir)},
    )
    with opened(settings) as parts:
        assert parts.manifest.get("leave.txt").status == "pending"
        parts.worker.sync_all()
        assert parts.manifest.get("leave.txt").status == "indexed"
        assert parts.index.count("leave.txt") == 1


def test_a_data_dir_without_room_for_the_index_is_refused_in_words(tmp_path, models_dir):
    """On a nearly full disk the engine died opening its index (SIGBUS, exit 135, no word),
    in serve, ingest and doctor alike (a QA pass). Now each says why, before opening it."""
    kb, data = tmp_path / "kb", tmp_path / "data"
    write_text(kb / "leave.txt", "Full-time staff get 25 days of annual leave.")
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(data)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        common = ["--kb", kb, "--data", data, "--models", models_dir]
        ingest = appliance("ingest", *common)
        assert ingest.returncode not in (0, 135, -7), ingest.stderr
        assert "has 40 MB free: the index needs about 128 MB" in ingest.stderr
        doctor = appliance("doctor", *common)
        assert doctor.returncode != 0 and "[FAIL] index: not opened: the data dir" in doctor.stdout
        assert not (data / "index").exists()  # nothing half-made
        # Room enough, but read-only (as ext4 remounts itself after I/O errors): a traceback.
        subprocess.run(["mount", "-o", "remount,size=300m,ro", str(data)], check=True)
        ingest = appliance("ingest", *common)
        assert ingest.returncode != 0 and "cannot be written (Read-only file system)" in (
            ingest.stderr
        )
        assert "Traceback" not in ingest.stderr
    finally:
        subprocess.run(["umount", str(data)], check=True)


def test_a_damaged_index_or_embedder_is_named_with_the_fix(tmp_path, models_dir):
    """A damaged segment or model file gave a raw traceback at start, and doctor a FAIL
    with no fix (a QA pass)."""
    kb, data = tmp_path / "kb", tmp_path / "data"
    write_text(kb / "leave.txt", "Full-time staff get 25 days of annual leave.")
    common = ["--kb", kb, "--data", data, "--models", models_dir]
    assert appliance("ingest", *common).returncode == 0
    for segment in (data / "index" / "segments").glob("*/segment.json"):
        segment.write_text("")  # what a disk error leaves
    ingest = appliance("ingest", *common)
    assert ingest.returncode != 0 and "Traceback" not in ingest.stderr
    assert "the index cannot be opened" in ingest.stderr
    assert "move data/index away" in ingest.stderr
    doctor = appliance("doctor", *common)
    assert "[FAIL] index" in doctor.stdout and "move data/index away" in doctor.stdout

    embedder = tmp_path / "embedder"
    shutil.copytree(models_dir / "embedder", embedder)
    onnx = embedder / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[: 1 << 20])  # cut short
    broken = appliance("ingest", *common, env={"APPLIANCE_EMBEDDER__MODEL_DIR": str(embedder)})
    assert broken.returncode != 0 and "Traceback" not in broken.stderr
    assert f"the embedder in {embedder} cannot be loaded" in broken.stderr


def test_cli_beside_a_running_server_says_so(make_server):
    server = make_server()
    write_text(server.kb / "a.txt", "alpha")
    server.start()
    common = [
        "--config",
        server.config,
        "--kb",
        server.kb,
        "--data",
        server.data,
        "--models",
        server.models,
    ]
    for command in (["ingest"], ["ask", "alpha?"], ["doctor"]):
        result = appliance(*command, *common)
        if command == ["doctor"]:  # a check among others: the index is not checked further
            assert "in use by a running appliance" in result.stdout
        else:
            assert result.returncode == 2
            assert "open in another appliance process" in result.stderr
        assert "Traceback" not in result.stderr
    docs = appliance("docs", *common)  # reads the manifest, works alongside
    assert docs.returncode == 0 and "indexed" in docs.stdout and "a.txt" in docs.stdout
    # none of them touched the server's index: it goes on indexing
    write_text(server.kb / "b.txt", "beta")
    wait_for(lambda: server.documents().get("b.txt", {}).get("status") == "indexed", 60, "b.txt")
    assert server.get("/ready")[0] == 200


def test_ingest_with_kb_gone_says_so_and_keeps_the_index(tmp_path, models_dir):
    kb, data = tmp_path / "kb", tmp_path / "data"
    write_text(kb / "a.txt", "alpha")
    common = ["--kb", kb, "--data", data, "--models", models_dir]
    assert appliance("ingest", *common).returncode == 0
    shutil.rmtree(kb)  # a share not mounted, a mistyped --kb
    result = appliance("ingest", *common)
    assert result.returncode == 2
    assert "kb/" in result.stderr and "is missing" in result.stderr
    assert not kb.exists()  # nothing made in its place
    docs = appliance("docs", *common, "--json")
    assert [d["path"] for d in json.loads(docs.stdout)] == ["a.txt"]


def test_config_errors_are_one_clear_line(tmp_path):
    config = tmp_path / "appliance.yaml"
    config.write_text("generator:\n  n_gpu_layer: 0\n")
    result = appliance("config", "--config", config)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown key 'generator.n_gpu_layer'")


def test_missing_models_are_named(tmp_path):
    result = appliance(
        "ingest", "--kb", tmp_path, "--data", tmp_path / "d", "--models", tmp_path / "nomodels"
    )
    assert result.returncode == 2
    assert "model.onnx is missing" in result.stderr and "appliance models fetch" in result.stderr


def test_serve_refuses_a_busy_port_or_a_held_index_in_plain_words(make_server):
    server = make_server()
    server.start()
    common = ["--kb", server.kb, "--models", server.models]
    same_index = appliance("serve", *common, "--data", server.data, "--port", "1")
    assert same_index.returncode == 2 and "open in another appliance process" in same_index.stderr
    same_port = appliance("serve", *common, "--data", server.root / "d2", "--port", server.port)
    assert same_port.returncode == 2 and f"cannot listen on 127.0.0.1:{server.port}" in (
        same_port.stderr
    )
    assert "Traceback" not in same_index.stderr + same_port.stderr


def test_eval_reports_recall_mrr_and_latency(tmp_path, models_dir):
    kb = tmp_path / "kb"
    make_pdf(
        kb / "manual.pdf",
        [
            "Contents and preface.",
            "Reset the router by holding the button for ten seconds.",
            "Warranty: two years.",
        ],
    )
    write_text(kb / "faq/wifi.md", "# Wifi\n\nThe guest wifi password is printed at reception.")
    write_text(kb / "faq/parking.txt", "Visitors park on level minus two.")
    lines = [
        {
            "id": "q1",
            "question": "How do I reset the router?",
            "gold_file": "manual.pdf",
            "gold_page": 2,
            "answer_phrases": ["ten seconds"],
            "kind": "pdf",
        },
        {
            "id": "q2",
            "question": "Where is the guest wifi password?",
            "gold_file": "faq/wifi.md",
            "gold_page": None,
            "answer_phrases": ["reception"],
        },
        {
            "id": "q3",
            "question": "How long is the warranty?",
            "gold_file": "manual.pdf",
            "gold_page": 1,
            "answer_phrases": [],
            "kind": "pdf",
        },  # wrong page on purpose: a miss
    ]
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "report.json"
    html_report = tmp_path / "report.html"
    result = appliance(
        "eval",
        questions,
        "--kb",
        kb,
        "--models",
        models_dir,
        "--k",
        "1",
        "--json",
        out,
        "--answer",
        "--html",
        html_report,
    )
    assert result.returncode == 0, result.stderr
    assert "recall@1=0.667" in result.stdout and "mrr=0.667" in result.stdout
    report = json.loads(out.read_text())
    assert {"n", "recall_at_k", "mrr", "k", "p50_ms", "p95_ms", "questions"} <= set(report)
    assert report["n"] == 3 and report["k"] == 1
    # Figures per kind, for the questions that have one.
    assert report["groups"] == {"pdf": {"recall_at_k": 0.5, "mrr": 0.5, "first_rate": 0.5}}
    assert "pdf            n=2    recall@1=0.500" in result.stdout
    assert [q["hit"] for q in report["questions"]] == [True, True, False]
    assert report["answer_phrase_rate"] is not None
    assert all(q["answer"] for q in report["questions"])
    page = html_report.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") == 2
    assert "recall@1" in page and "How do I reset the router?" in page
    assert "<script" not in page and "http" not in page  # self-contained, nothing fetched

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "question": "no gold file"}\n')
    failed = appliance("eval", bad, "--kb", kb, "--models", models_dir)
    assert failed.returncode == 2 and "bad.jsonl:1 lacks gold_file" in failed.stderr


def test_eval_measures_answers_and_calibrates_the_gate(tmp_path, models_dir):
    """Answerable and "answerable": false questions: refusal rates, the answer figures, and
    gate weights fitted to the set, printed ready for appliance.yaml."""
    kb = tmp_path / "kb"
    write_text(kb / "leave.md", "# Leave\n\nFull-time staff get 25 days of annual leave.")
    write_text(kb / "wifi.md", "# Wifi\n\nThe guest wifi password is printed at reception.")
    write_text(kb / "parking.txt", "Visitors park on level minus two of the garage.")
    answerable = [
        ("How many days of annual leave do staff get?", "leave.md", "25 days"),
        ("Where can I find the guest wifi password?", "wifi.md", "reception"),
        ("Where do visitors park?", "parking.txt", "minus two"),
    ]
    unanswerable = [
        "How do I book a meeting room in Outlook?",
        "What is the VPN server address?",
        "Who approves overtime in the finance team?",
    ]
    lines = [
        {"id": f"a{n}", "question": q, "gold_file": f, "answer_phrases": [p]}
        for n, (q, f, p) in enumerate(answerable)
    ] + [{"id": f"u{n}", "question": q, "answerable": False} for n, q in enumerate(unanswerable)]
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "report.json"
    env = {"APPLIANCE_ANSWERS__MODE": "extractive"}
    result = appliance(
        "eval", questions, "--kb", kb, "--models", models_dir, "--answer", "--json", out, env=env
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())["answers"]
    assert (figures["answerable"], figures["unanswerable"]) == (3, 3)
    assert figures["modes"]["extractive"] + figures["modes"].get("none", 0) == 6
    for key in ("answer_phrase_rate", "gold_cited_rate", "refusal_rate", "false_refusal_rate"):
        assert 0 <= figures[key] <= 1, key
    assert "unanswerable refused:" in result.stdout

    few = appliance("eval", questions, "--kb", kb, "--models", models_dir, "--calibrate", env=env)
    assert few.returncode == 2 and "too few questions to calibrate the gate" in few.stderr

    # Enough to stand on: 30 answerable (10 facts asked 3 ways) and 15 unanswerable.
    facts = [(f"room{n}.md", f"Meeting room {n} seats {n + 4} people.") for n in range(10)]
    for name, text in facts:
        write_text(kb / name, f"# Room {name[4:-3]}\n\n{text}")
    asks = (
        "How many people does meeting room {n} seat?",
        "Room {n} capacity?",
        "Seats in room {n}?",
    )
    lines = [
        {
            "id": f"r{n}-{i}",
            "question": a.format(n=n),
            "gold_file": name,
            "answer_phrases": [str(n + 4)],
        }
        for n, (name, _) in enumerate(facts)
        for i, a in enumerate(asks)
    ] + [
        {"id": f"u{n}", "question": f"Who cleans the kitchen on floor {n}?", "answerable": False}
        for n in range(15)
    ]
    questions.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    calibrated = appliance(
        "eval", questions, "--kb", kb, "--models", models_dir, "--calibrate", env=env
    )
    assert calibrated.returncode == 0, calibrated.stderr
    assert "gate_weights: [" in calibrated.stdout and "min_answerable: 0." in calibrated.stdout


def test_eval_says_what_is_wrong_with_its_inputs(tmp_path, models_dir):
    """A missing kb/ was made and scored 0.000; a gold_file not in kb/ read as a miss; a
    missing questions file gave a traceback (a QA pass)."""
    kb = tmp_path / "kb"
    write_text(kb / "leave.md", "# Leave\n\nFull-time staff get 25 days of annual leave.")
    questions = tmp_path / "q.jsonl"
    line = {"id": "a", "question": "How much leave?", "gold_file": "kb/leave.md"}
    questions.write_text(json.dumps(line) + "\n")
    missing = appliance("eval", tmp_path / "nope.jsonl", "--kb", kb, "--models", models_dir)
    assert missing.returncode == 2 and "nope.jsonl cannot be read" in missing.stderr
    nokb = appliance("eval", questions, "--kb", tmp_path / "nokb", "--models", models_dir)
    assert nokb.returncode == 2 and "is not a folder" in nokb.stderr
    assert not (tmp_path / "nokb").exists()
    wrong = appliance("eval", questions, "--kb", kb, "--models", models_dir)
    assert wrong.returncode == 0
    assert "1 gold_file(s) are not files under" in wrong.stderr and "kb/leave.md" in wrong.stderr


def test_serve_exits_non_zero_when_start_up_fails(tmp_path, models_dir):
    """A process that can never become ready must exit, so that compose restarts it."""
    models = tmp_path / "models"
    (models / "generator").mkdir(parents=True)
    for name in ("embedder", "embedder-multilingual"):
        (models / name).symlink_to(models_dir / name)
    (models / "generator/broken.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "serve",
            "--kb",
            str(tmp_path / "kb"),
            "--data",
            str(tmp_path / "data"),
            "--models",
            str(models),
            "--port",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "APPLIANCE_GENERATOR__MODEL": "generator/broken.gguf"},
    )
    assert result.returncode == 2
    assert "the appliance cannot run" in result.stderr and "broken.gguf" in result.stderr


def test_a_kb_replaced_by_a_file_pauses_ingestion_and_keeps_answering(make_server):
    server = make_server()
    write_text(server.kb / "a.txt", "The canteen opens at noon.")
    server.start()
    shutil.rmtree(server.kb)
    server.kb.write_text("kb/ replaced by a file: nothing can be watched there")
    wait_for(lambda: "is not a folder" in server.get("/ready")[1]["ingestion"], 20, "the pause")
    assert server.get("/ready")[0] == 200 and server.proc.poll() is None
    assert server.documents()["a.txt"]["status"] == "indexed"
    status, found = server.get("/api/search?q=canteen")
    assert status == 200 and found["citations"][0]["source"] == "a.txt"
    server.kb.unlink()
    server.kb.mkdir()
    write_text(server.kb / "b.txt", "The library opens at nine.")
    wait_for(lambda: set(server.documents()) == {"b.txt"}, 30, "kb/ followed again")
    assert server.get("/ready")[1]["ingestion"] == "running"


def test_a_model_file_replaced_while_running_stops_the_appliance(make_server, models_copy):
    server = make_server()
    server.models = models_copy
    server.start()
    target = models_copy / "embedder/tokenizer_config.json"
    content = target.read_bytes()
    target.unlink()
    target.write_bytes(content)  # same bytes, but a new file: what was loaded is gone
    assert server.proc.wait(30) == 2
    assert "tokenizer_config.json changed or was removed while running" in server.logs()
