"""Answer quality on the labelled benchmark sets, per answer mode, with the default models:

- answer-phrase rate and gold-file-cited rate (answerable questions),
- refusal rate (questions labelled "answerable": false) and false-refusal rate,
- answer tokens p50, answer time p50/p95, answers per mode, how generation ended.

    .venv/bin/python scripts/bench_answer_quality.py [--sets python-docs,debian-reference-zh]
        [--modes extractive,auto] [--limit N] [--json OUT] [--calibrate] [--config FILE]

--calibrate fits the answerability gate on all the sets' questions together (answers.gate_weights
and answers.min_answerable: the shipped defaults come from this, over the sets in benchmarks/
but pdf-manual) and prints what the fitted gate refuses in each set; then what each set gets
from a gate fitted on the other sets alone, as documents the gate never saw would.

Each set is benchmarks/<set>/kb (fetch it first: scripts/fetch_python_docs.sh,
scripts/fetch_debian_reference_zh.sh) with benchmarks/<set>/questions.jsonl and, if present,
unanswerable.jsonl. Indexes are kept in /tmp/appliance-bench-<set> between runs (with
--config, e.g. another embedder: /tmp/appliance-bench-<set>-<config file name>). The time
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

from appliance.app import opened  # noqa: E402
from appliance.config import load_settings  # noqa: E402
from appliance.evaluate import Report, calibrate, evaluate, load_questions  # noqa: E402

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


def run(
    set_name: str, mode: str, limit: int | None, config: Path | None = None
) -> tuple[dict, Report]:
    folder = ROOT / "benchmarks" / set_name
    if not (folder / "kb").is_dir():
        raise SystemExit(f"{folder}/kb is missing: fetch the corpus first (see its README)")
    data = f"/tmp/appliance-bench-{set_name}" + (f"-{config.stem}" if config else "")
    settings = load_settings(
        config,
        env={},
        overrides={
            "paths.kb": str(folder / "kb"),
            "paths.data": data,
            "paths.models": str(ROOT / "models"),
            "answers.mode": mode,
        },
    )
    with opened(settings) as parts:
        parts.worker.sync_all()
        report = evaluate(
            parts.retriever,
            questions_of(folder, limit),
            settings.retrieval.k,
            parts.load_generator(),
        )
    return {"set": set_name, "mode": mode, "n": report.n, **report.answers}, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="python-docs,debian-reference-zh")
    parser.add_argument("--modes", default="extractive,auto")
    parser.add_argument("--limit", type=int, help="at most this many answerable questions a set")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--calibrate", action="store_true", help="fit the gate on all sets")
    parser.add_argument("--config", type=Path, help="an appliance.yaml (e.g. another embedder)")
    args = parser.parse_args()
    if args.calibrate:
        sets = args.sets.split(",")
        reports = [run(s, "extractive", args.limit, args.config)[1] for s in sets]
        if args.json:  # every question with its evidence, to study the gate
            per_set = {s: r.as_json()["questions"] for s, r in zip(sets, reports, strict=True)}
            args.json.write_text(json.dumps(per_set, indent=2, ensure_ascii=False))
        return fit_gate(sets, reports, args.config)
    results = [
        run(set_name, mode, args.limit, args.config)[0]
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


def fit_gate(sets: list[str], reports: list[Report], config: Path | None) -> None:
    """Gate weights fitted on every set's questions at once, and the threshold that refuses
    the most unanswerable questions while refusing at most 5 % of each set's answerable ones
    (pooled, one large set could hide a small one's false refusals). Then each set judged by a
    gate fitted on the others alone: what to expect of documents the gate never saw."""
    floors = load_settings(config, env={}).relevance_floors
    weights, best = _fitted(reports, floors)
    print(f"\n{'set':24}{'answerable refused':>20}{'unanswerable refused':>22}")
    for set_name, marks in zip(sets, _refused(weights, best, reports, floors), strict=True):
        print(f"{set_name:24}{_cells(marks)}")
    print(f"\n  gate_weights: {weights}\n  min_answerable: {best}")
    print(f"\nfitted on the other sets{'':6}{'answerable refused':>20}{'unanswerable refused':>22}")
    pooled: dict[bool, list[bool]] = {True: [], False: []}
    for n, set_name in enumerate(sets):
        others = reports[:n] + reports[n + 1 :]
        if len({r.answerable for report in others for r in report.questions}) < 2:
            continue
        marks = _refused(*_fitted(others, floors), [reports[n]], floors)[0]
        for label in pooled:
            pooled[label] += marks[label]
        print(f"{set_name:30}{_cells(marks)}")
    print(f"{'all, each judged unseen':30}{_cells(pooled)}")


def _fitted(reports: list[Report], floors) -> tuple[list[float], float]:
    """The gate fitted on `reports`, and its threshold by the rule fit_gate states."""
    weights = calibrate([r for report in reports for r in report.questions], floors)["gate_weights"]
    thresholds = [step / 100 for step in range(1, 100)]
    marks = {t: _refused(weights, t, reports, floors) for t in thresholds}
    allowed = [t for t in thresholds if all(_share(m[True]) <= 0.05 for m in marks[t])]
    best = max(allowed or thresholds[:1], key=lambda t: sum(sum(m[False]) for m in marks[t]))
    return weights, best


def _refused(weights, threshold: float, reports: list[Report], floors) -> list[dict]:
    """Per report: for the answerable (True) and unanswerable (False) questions, whether each
    is refused, as served (nothing close enough, or below the gate's threshold)."""
    from appliance.answer.answerable import Evidence, Gate

    gate = Gate(weights, threshold)
    per_set = []
    for report in reports:
        marks: dict[bool, list[bool]] = {True: [], False: []}
        for r in report.questions:
            evidence = Evidence(**r.evidence) if r.evidence else None
            low = evidence is None or not evidence.close_enough(floors)
            marks[r.answerable].append(low or not gate.answerable(evidence))
        per_set.append(marks)
    return per_set


def _share(marks: list[bool]) -> float:
    return sum(marks) / len(marks) if marks else 0.0


def _cells(marks: dict[bool, list[bool]]) -> str:
    cells = [f"{_share(v):.1%} of {len(v)}" if v else "-" for v in (marks[True], marks[False])]
    return f"{cells[0]:>20}{cells[1]:>22}"


if __name__ == "__main__":
    main()
