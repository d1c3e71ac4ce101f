"""`appliance eval`: how often retrieval finds the right passage, and (--answer) how good the
answers are, over a fixed question set.

Input: JSON lines of {"id", "question", "gold_file", "gold_page", "answer_phrases"}, and of
{"id", "question", "answerable": false} for questions the documents do not answer. A question
is a hit when one of the top-k chunks comes from gold_file (relative to kb/) and, when
gold_page is not null, from that page (1-based physical page, as `pdftotext -f N`).

With --answer: the share of answers holding all their answer phrases, the share citing the
gold file, the share of unanswerable questions refused and of answerable ones refused
(false refusals), answer length and time, and how many answers each mode produced.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from appliance.answer.answerable import Evidence, Gate, fit
from appliance.answer.assistant import Assistant
from appliance.answer.retrieve import Retriever
from appliance.config import Floors
from appliance.errors import ConfigError

REQUIRED = ("id", "question")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold_file: str
    gold_page: int | None = None
    answer_phrases: tuple[str, ...] = ()
    kind: str = ""  # optional grouping for the report (e.g. "keyword", "paraphrase")
    answerable: bool = True


@dataclass
class Result:
    id: str
    question: str
    gold_file: str
    gold_page: int | None
    hit: bool
    rank: int | None  # 1-based rank of the first matching chunk
    ms: float
    retrieved: list[dict]
    answer: str | None = None
    answer_has_phrases: bool | None = None
    kind: str = ""
    answerable: bool = True
    refused: bool | None = None
    cited_gold: bool | None = None
    mode: str = ""
    stopped: str = ""
    replaced_because: str = ""
    answer_ms: float | None = None
    answer_tokens: int | None = None
    probability: float | None = None  # the gate's P(answerable)
    evidence: dict | None = None  # what the gate saw (None: nothing retrieved)


@dataclass
class Report:
    n: int
    k: int
    recall_at_k: float
    mrr: float
    p50_ms: float
    p95_ms: float
    first_rate: float = 0.0  # share of questions whose gold is the first result
    groups: dict[str, dict] = field(default_factory=dict)  # the same figures per `kind`
    answer_phrase_rate: float | None = None
    answers: dict | None = None  # the answer figures, with --answer
    questions: list[Result] = field(default_factory=list)

    def as_json(self) -> dict:
        return asdict(self)


def load_questions(path: Path) -> list[Question]:
    questions = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"the questions file {path} cannot be read: {err.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}:{number} is not valid JSON: {err}") from None
        answerable = raw.get("answerable", True) if isinstance(raw, dict) else True
        required = REQUIRED + (("gold_file",) if answerable else ())
        missing = [key for key in required if not isinstance(raw, dict) or not raw.get(key)]
        if not isinstance(raw, dict) or missing:
            raise ConfigError(f"{path}:{number} lacks {', '.join(missing) or 'an object'}")
        if not isinstance(answerable, bool):
            raise ConfigError(f"{path}:{number}: answerable must be true or false")
        page = raw.get("gold_page")
        if page is not None and (not isinstance(page, int) or page < 1):
            raise ConfigError(f"{path}:{number}: gold_page must be a page number from 1, or null")
        questions.append(
            Question(
                str(raw["id"]),
                raw["question"],
                str(raw.get("gold_file") or "").strip("/"),
                page,
                tuple(raw.get("answer_phrases") or ()),
                str(raw.get("kind") or ""),
                answerable,
            )
        )
    if not questions:
        raise ConfigError(f"{path} holds no questions")
    return questions


def evaluate(
    retriever: Retriever, questions: list[Question], k: int, assistant: Assistant | None = None
) -> Report:
    """Run every question through retrieval, and through the whole answer with `assistant`."""
    results = []
    for q in questions:
        started = time.perf_counter()
        citations = retriever.retrieve(q.question, k).citations
        ms = (time.perf_counter() - started) * 1000
        rank = next(
            (
                c.number
                for c in citations
                if q.answerable
                and c.source == q.gold_file
                and (q.gold_page is None or c.page == q.gold_page)
            ),
            None,
        )
        result = Result(
            q.id,
            q.question,
            q.gold_file,
            q.gold_page,
            rank is not None,
            rank,
            round(ms, 2),
            [{"source": c.source, "page": c.page, "score": c.score} for c in citations],
            kind=q.kind,
            answerable=q.answerable,
        )
        if assistant is not None:
            _answer(assistant, q, k, result)
        results.append(result)
    return _report(results, k, answered=assistant is not None)


def _answer(assistant: Assistant, q: Question, k: int, result: Result) -> None:
    started = time.perf_counter()
    done = assistant.ask(q.question, k)
    result.answer_ms = round((time.perf_counter() - started) * 1000, 1)
    text = done["answer"]
    result.answer = text
    result.mode = done.get("mode", "")
    result.refused = result.mode == "none"
    result.stopped = done.get("stopped", "")
    result.replaced_because = done.get("replaced_because", "")
    result.probability = done.get("answerable")
    result.evidence = done.get("evidence")
    result.answer_tokens = assistant.generator.count_tokens(text)
    if q.answerable:
        result.answer_has_phrases = not result.refused and all(
            p.lower() in text.lower() for p in q.answer_phrases
        )
        result.cited_gold = any(
            c.get("cited") and c["source"] == q.gold_file for c in done.get("citations", [])
        )


def _report(results: list[Result], k: int, answered: bool) -> Report:
    times = sorted(r.ms for r in results)
    n = len(results)
    gold = [r for r in results if r.answerable] or results
    kinds = sorted({r.kind for r in gold if r.kind})
    return Report(
        n=n,
        k=k,
        **_ranking(gold),
        p50_ms=round(statistics.median(times), 2),
        p95_ms=round(times[min(n - 1, int(0.95 * n))], 2),
        groups={kind: _ranking([r for r in gold if r.kind == kind]) for kind in kinds},
        answer_phrase_rate=(
            round(sum(bool(r.answer_has_phrases) for r in gold) / len(gold), 4)
            if answered
            else None
        ),
        answers=_answer_figures(results) if answered else None,
        questions=results,
    )


def _ranking(gold: list[Result]) -> dict:
    return {
        "recall_at_k": round(sum(r.hit for r in gold) / len(gold), 4),
        "mrr": round(sum(1 / r.rank for r in gold if r.rank) / len(gold), 4),
        "first_rate": round(sum(r.rank == 1 for r in gold) / len(gold), 4),
    }


def _answer_figures(results: list[Result]) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    given = [r for r in results if not r.refused]
    times = sorted(r.answer_ms or 0.0 for r in results)
    tokens = sorted(r.answer_tokens or 0 for r in given) or [0]

    def share(rows, test) -> float | None:
        return round(sum(bool(test(r)) for r in rows) / len(rows), 4) if rows else None

    modes: dict[str, int] = {}
    for r in results:
        modes[r.mode or "?"] = modes.get(r.mode or "?", 0) + 1
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_phrase_rate": share(answerable, lambda r: r.answer_has_phrases),
        "gold_cited_rate": share(answerable, lambda r: r.cited_gold),
        "refusal_rate": share(unanswerable, lambda r: r.refused),
        "false_refusal_rate": share(answerable, lambda r: r.refused),
        "answer_tokens_p50": statistics.median(tokens),
        "answer_ms_p50": round(statistics.median(times), 1),
        "answer_ms_p95": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "modes": modes,
        "stopped": {
            reason: sum(r.stopped == reason for r in results)
            for reason in ("end", "repetition", "max_tokens", "unsupported")
        },
        "replaced": sum(bool(r.replaced_because) for r in results),
    }


def format_table(report: Report) -> str:
    lines = [f"{'id':<12} {'hit':<4} {'rank':>4} {'ms':>8}  question"]
    for r in report.questions:
        mark = "yes" if r.hit else "no"
        lines.append(f"{r.id:<12} {mark:<4} {r.rank or '-':>4} {r.ms:>8.1f}  {r.question[:60]}")
    lines.append("")
    lines.append(
        f"n={report.n}  recall@{report.k}={report.recall_at_k:.3f}  mrr={report.mrr:.3f}  "
        f"first={report.first_rate:.3f}  p50={report.p50_ms:.1f} ms  p95={report.p95_ms:.1f} ms"
    )
    for kind, g in report.groups.items():
        count = sum(r.kind == kind and r.answerable for r in report.questions)
        lines.append(
            f"  {kind:<14} n={count:<4} recall@{report.k}={g['recall_at_k']:.3f}  "
            f"mrr={g['mrr']:.3f}  first={g['first_rate']:.3f}"
        )
    if report.answers is not None:
        a = report.answers

        def rate(value) -> str:
            return "-" if value is None else f"{value:.3f}"

        lines += [
            f"answerable {a['answerable']}, unanswerable {a['unanswerable']}",
            f"answers containing all answer_phrases: {rate(a['answer_phrase_rate'])}",
            f"gold file cited: {rate(a['gold_cited_rate'])}",
            f"unanswerable refused: {rate(a['refusal_rate'])}   "
            f"answerable refused: {rate(a['false_refusal_rate'])}",
            f"answer tokens p50 {a['answer_tokens_p50']}   "
            f"answer time p50 {a['answer_ms_p50']:.0f} ms, p95 {a['answer_ms_p95']:.0f} ms",
            f"modes {a['modes']}   stopped {a['stopped']}   replaced {a['replaced']}",
        ]
    return "\n".join(lines)


def calibrate(results: list[Result], floors: Floors, max_false_refusals: float = 0.05) -> dict:
    """Gate weights fitted on labelled results (answerable or not), and the probability
    threshold that refuses the most unanswerable questions while refusing at most
    `max_false_refusals` of the answerable ones. Questions refused before the gate (nothing
    above its floor (config.Floors) and no identifier held, or nothing retrieved) count as
    refused at every threshold, and the weights are fitted on all that were looked at."""

    judged = [(r, Evidence(**r.evidence)) for r in results if r.evidence]
    seen = [(e, r.answerable) for r, e in judged if e.close_enough(floors)]
    gated = {id(r) for r, e in judged if e.close_enough(floors)}
    floor = [r for r in results if id(r) not in gated]
    fitting = [(e, r.answerable) for r, e in judged]
    if len({label for _, label in fitting}) < 2:
        raise ConfigError("calibration needs both answerable and unanswerable questions")
    weights = fit(fitting)
    answerable = sum(label for _, label in seen) + sum(r.answerable for r in floor)
    unanswerable = len(results) - answerable
    table = []
    for step in range(1, 100):
        threshold = step / 100
        gate = Gate(weights, threshold)
        refused = [(label, not gate.answerable(e)) for e, label in seen]
        false = sum(label and no for label, no in refused) + sum(r.answerable for r in floor)
        right = sum(not label and no for label, no in refused) + sum(
            not r.answerable for r in floor
        )
        table.append(
            {
                "min_answerable": threshold,
                "refusal_rate": round(right / max(1, unanswerable), 4),
                "false_refusal_rate": round(false / max(1, answerable), 4),
            }
        )
    allowed = [row for row in table if row["false_refusal_rate"] <= max_false_refusals]
    best = max(allowed or table[:1], key=lambda row: (row["refusal_rate"], -row["min_answerable"]))
    return {"gate_weights": weights, **best, "thresholds": table}
