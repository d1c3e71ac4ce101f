"""`appliance eval`: how often retrieval finds the right passage, over a fixed question set.

Input: JSON lines of {"id", "question", "gold_file", "gold_page", "answer_phrases"}. A
question is a hit when one of the top-k chunks comes from gold_file (relative to kb/) and,
when gold_page is not null, from that page (1-based physical page, as `pdftotext -f N`).
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from appliance.answer.assistant import Assistant
from appliance.answer.retrieve import Retriever
from appliance.config import ConfigError

REQUIRED = ("id", "question", "gold_file")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold_file: str
    gold_page: int | None = None
    answer_phrases: tuple[str, ...] = ()
    kind: str = ""  # optional grouping for the report (e.g. "keyword", "paraphrase")


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


@dataclass
class Report:
    n: int
    k: int
    recall_at_k: float
    mrr: float
    p50_ms: float
    p95_ms: float
    answer_phrase_rate: float | None = None
    questions: list[Result] = field(default_factory=list)

    def as_json(self) -> dict:
        return asdict(self)


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}:{number} is not valid JSON: {err}") from None
        missing = [key for key in REQUIRED if not raw.get(key)]
        if not isinstance(raw, dict) or missing:
            raise ConfigError(f"{path}:{number} lacks {', '.join(missing) or 'an object'}")
        page = raw.get("gold_page")
        if page is not None and (not isinstance(page, int) or page < 1):
            raise ConfigError(f"{path}:{number}: gold_page must be a page number from 1, or null")
        questions.append(
            Question(
                str(raw["id"]),
                raw["question"],
                raw["gold_file"].strip("/"),
                page,
                tuple(raw.get("answer_phrases") or ()),
                str(raw.get("kind") or ""),
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
                if c.source == q.gold_file and (q.gold_page is None or c.page == q.gold_page)
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
        )
        if assistant is not None:
            text = assistant.ask(q.question, k)["answer"]
            result.answer = text
            result.answer_has_phrases = all(p.lower() in text.lower() for p in q.answer_phrases)
        results.append(result)
    return _report(results, k, answered=assistant is not None)


def _report(results: list[Result], k: int, answered: bool) -> Report:
    times = sorted(r.ms for r in results)
    n = len(results)
    return Report(
        n=n,
        k=k,
        recall_at_k=round(sum(r.hit for r in results) / n, 4),
        mrr=round(sum(1 / r.rank for r in results if r.rank) / n, 4),
        p50_ms=round(statistics.median(times), 2),
        p95_ms=round(times[min(n - 1, int(0.95 * n))], 2),
        answer_phrase_rate=(
            round(sum(bool(r.answer_has_phrases) for r in results) / n, 4) if answered else None
        ),
        questions=results,
    )


def format_table(report: Report) -> str:
    lines = [f"{'id':<12} {'hit':<4} {'rank':>4} {'ms':>8}  question"]
    for r in report.questions:
        mark = "yes" if r.hit else "no"
        lines.append(f"{r.id:<12} {mark:<4} {r.rank or '-':>4} {r.ms:>8.1f}  {r.question[:60]}")
    lines.append("")
    lines.append(
        f"n={report.n}  recall@{report.k}={report.recall_at_k:.3f}  mrr={report.mrr:.3f}  "
        f"p50={report.p50_ms:.1f} ms  p95={report.p95_ms:.1f} ms"
    )
    if report.answer_phrase_rate is not None:
        lines.append(f"answers containing all answer_phrases: {report.answer_phrase_rate:.3f}")
    return "\n".join(lines)
