"""Answer quality on the labelled benchmark sets, per answer mode, with the default models:

- answer-phrase rate and gold-file-cited rate (answerable questions),
- refusal rate (questions labelled "answerable": false) and false-refusal rate,
- answer tokens p50, answer time p50/p95, answers per mode, how generation ended.

    .venv/bin/python scripts/bench_answer_quality.py [--sets python-docs,debian-reference-zh]
        [--modes extractive,auto] [--limit N] [--json OUT]

Each set is benchmarks/<set>/kb (fetch it first: scripts/fetch_python_docs.sh,
scripts/fetch_debian_reference_zh.sh) with benchmarks/<set>/questions.jsonl and, if present,
unanswerable.jsonl. Indexes are kept in /tmp/appliance-bench-<set> between runs. The time
of an extractive answer is the baseline the other modes are compared with, in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.app import Appliance  # noqa: E402
from appliance.config import load_settings  # noqa: E402
from appliance.evaluate import evaluate, load_questions  # noqa: E402

ROWS = [
    ("answer phrases present", "answer_phrase_rate", "{:.1%}"),
    ("gold file cited", "gold_cited_rate", "{:.1%}"),
    ("unanswerable refused", "refusal_rate", "{:.1%}"),
    ("answerable refused", "false_refusal_rate", "{:.1%}"),
    ("answer tokens p50", "answer_tokens_p50", "{:.0f}"),
    ("answer ms p50", "answer_ms_p50", "{:.0f}"),
    ("answer ms p95", "answer_ms_p95", "{:.0f}"),
]


def questions_of(folder: Path, limit: int | None):
    lines = []
    for name in ("questions.jsonl", "unanswerable.jsonl"):
        if (folder / name).is_file():
            lines += (folder / name).read_text(encoding="utf-8").splitlines()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    questions = load_questions(Path(f.name))
    Path(f.name).unlink()
    if limit:  # the same share of each kind
        answerable = [q for q in questions if q.answerable][:limit]
        questions = answerable + [q for q in questions if not q.answerable][: limit // 2]
    return questions


def run(set_name: str, mode: str, limit: int | None) -> dict:
    folder = ROOT / "benchmarks" / set_name
    if not (folder / "kb").is_dir():
        raise SystemExit(f"{folder}/kb is missing: fetch the corpus first (see its README)")
    settings = load_settings(
        None,
        env={},
        overrides={
            "paths.kb": str(folder / "kb"),
            "paths.data": f"/tmp/appliance-bench-{set_name}",
            "paths.models": str(ROOT / "models"),
            "answers.mode": mode,
        },
    )
    appliance = Appliance(settings)
    appliance.open_index()
    try:
        appliance.worker.sync_all()
        appliance.load_generator()
        report = evaluate(
            appliance.retriever,
            questions_of(folder, limit),
            settings.retrieval.k,
            appliance.assistant,
        )
    finally:
        appliance.close()
    return {"set": set_name, "mode": mode, "n": report.n, **report.answers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="python-docs,debian-reference-zh")
    parser.add_argument("--modes", default="extractive,auto")
    parser.add_argument("--limit", type=int, help="at most this many answerable questions a set")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    results = [
        run(set_name, mode, args.limit)
        for set_name in args.sets.split(",")
        for mode in args.modes.split(",")
    ]
    width = 24
    print(f"\n{'':{width}}" + "".join(f"{r['set'][:14] + ' ' + r['mode']:>26}" for r in results))
    for label, key, fmt in ROWS:
        cells = "".join(
            f"{(fmt.format(r[key]) if r[key] is not None else '-'):>26}" for r in results
        )
        print(f"{label:{width}}{cells}")
    print(f"{'answers by mode':{width}}" + "".join(f"{str(r['modes']):>26}" for r in results))
    print(
        f"{'generation ended':{width}}"
        + "".join(f"{str({k: v for k, v in r['stopped'].items() if v}):>26}" for r in results)
    )
    baseline = {r["set"]: r["answer_ms_p50"] for r in results if r["mode"] == "extractive"}
    for r in results:
        if r["mode"] != "extractive" and baseline.get(r["set"]):
            ratio = r["answer_ms_p50"] / baseline[r["set"]]
            print(f"{r['set']} {r['mode']}: answer time p50 {ratio:.0f}x the extractive answer's")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
