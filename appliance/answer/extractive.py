"""Extractive answers: the sentences, list items or table rows of the retrieved passages that
answer the question, quoted verbatim with their [n] citations. No model writes anything, so
the answer is always grounded, and it takes milliseconds.

A unit scores by how much of the question it covers: the question's terms it contains (as
BM25's multilingual tokenizer cuts and stems them, the same as the index), each weighted by
how rare it is among the candidate units (IDF), as a share of the question's total weight;
weighted a little by how relevant its passage is. The best unit is quoted, with up to three
more that score at least half as well. An item of a list or a row of a table brings its whole
list or table (up to a limit) and the sentence that introduces it; a sentence followed by a
command ("$ sudo update-alternatives --config editor") brings the command: documentation
says how in words and then shows it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from appliance.answer.retrieve import Citation
from appliance.answer.sentences import ITEM, SENTENCE, Unit, units
from appliance.answer.wording import language_of

MAX_QUOTES = 4
MAX_CHARS = 900
MAX_BLOCK_UNITS = 12  # of one list or table
NEAR_BEST = 0.5  # a further quote must score this share of the best one
CODE_REACH = 2  # a command this many units after a quote comes with it
_COMMAND = re.compile(r"^(?:\$|#|%|>>>) ")  # a shell or interpreter prompt
LABEL_CHARS = 240  # a function signature can be long
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_ENDS_SENTENCE = re.compile(r"[.!?。！？；:：]$")


@dataclass(frozen=True)
class Quote:
    unit: Unit
    number: int  # the [n] of its passage
    position: int  # its place in the passage
    score: float


@dataclass(frozen=True)
class Extract:
    text: str  # the answer: the quotes, each with its [n]
    quotes: list[Quote]
    coverage: float  # the best unit's share of the question's terms, 0 to 1
    passage_coverage: float  # the same for the best whole passage
    scored: list[Quote] = field(default_factory=list)  # every unit of every passage

    def focused(self, passages: Sequence[Citation], words: int) -> list[Citation]:
        """The passages cut to their units closest to the question, about `words` words
        each, in the order of the document (with the term lines above them): what a model
        reads quickly and is kept on the point by. A short passage stays whole."""
        out = []
        for c in passages:
            mine = [q for q in self.scored if q.number == c.number]
            if words <= 0 or _size(c.text) <= words or not mine:
                out.append(c)
                continue
            kept, size = set(), 0
            for q in sorted(mine, key=lambda q: -q.score):
                if size >= words:
                    break
                kept.add(q.position)
                size += _size(q.unit.text)
                label = _before(mine, q)
                if label is not None and _is_label(label.unit):
                    kept.add(label.position)
            text = "\n".join(q.unit.text for q in mine if q.position in kept)
            out.append(replace(c, text=text))
        return out


def extract(
    question: str, passages: Sequence[Citation], terms: Callable[[str], set[int]]
) -> Extract:
    """`terms(text)`: the text's terms as BM25 token ids (Embedder.terms)."""
    asked = terms(question)
    candidates = [
        (c, position, unit)
        for c in passages
        for position, unit in enumerate(units(c.text))
        if unit.text.strip()
    ]
    if not asked or not candidates:
        return Extract("", [], 0.0, 0.0)
    unit_terms = [terms(unit.text) for _, _, unit in candidates]
    weight = _idf(asked, unit_terms)
    total = sum(weight.values()) or 1.0
    best_relevance = max((c.relevance for c in passages), default=0.0) or 1.0
    scored = []
    for (c, position, unit), found in zip(candidates, unit_terms, strict=True):
        covered = sum(weight[t] for t in asked & found) / total
        prior = 0.75 + 0.25 * max(0.0, c.relevance) / best_relevance
        scored.append(Quote(unit, c.number, position, covered * prior))
    passage_coverage = max(sum(weight[t] for t in asked & terms(c.text)) / total for c in passages)
    quotes = _choose(scored)
    coverage = max(q.score for q in scored)
    return Extract(
        _format(quotes, passages, language_of(question)),
        quotes,
        round(coverage, 4),
        round(passage_coverage, 4),
        scored,
    )


def _idf(asked: set[int], unit_terms: list[set[int]]) -> dict[int, float]:
    n = len(unit_terms)
    return {
        t: math.log(1 + (n - df + 0.5) / (df + 0.5))
        for t in asked
        for df in [sum(t in found for found in unit_terms)]
    }


def _choose(scored: list[Quote]) -> list[Quote]:
    ranked = sorted(scored, key=lambda q: -q.score)
    best = ranked[0]
    if best.score <= 0:
        return []
    chosen = [best]
    for q in ranked[1:]:
        if len(chosen) >= MAX_QUOTES or q.score < NEAR_BEST * best.score:
            break
        if q.unit.text not in {c.unit.text for c in chosen}:
            chosen.append(q)
    return _with_blocks(chosen, scored)


def _with_blocks(chosen: list[Quote], scored: list[Quote]) -> list[Quote]:
    """Whole lists and tables for a chosen item or row, with their lead-in sentence; then
    in the order of the documents, within the length limit."""
    wanted: dict[tuple[int, int], Quote] = {}
    for q in chosen:
        wanted[(q.number, q.position)] = q
        for s in _up_to_command(scored, q):
            wanted.setdefault((s.number, s.position), s)
        label = _before(scored, q)
        if label is not None and _is_label(label.unit):
            # "os.path.splitext(path)" above "Split the pathname path into a pair…": the
            # term a description describes is on the line before it.
            wanted.setdefault((label.number, label.position), label)
        if q.unit.kind == SENTENCE:
            following = _after(scored, q)
            if q.unit.text.endswith((":", "：")) and following and following.unit.kind != SENTENCE:
                q = following  # a sentence that introduces a list brings the list
            else:
                continue
        same = [s for s in scored if s.number == q.number and s.unit.block == q.unit.block][
            :MAX_BLOCK_UNITS
        ]
        for s in same:
            wanted.setdefault((s.number, s.position), s)
        first = min(s.position for s in same)
        lead = next((s for s in scored if s.number == q.number and s.position == first - 1), None)
        if lead is not None and lead.unit.kind == SENTENCE:
            wanted.setdefault((lead.number, lead.position), lead)
    ordered, length = [], 0
    for key in sorted(wanted):
        length += len(wanted[key].unit.text)
        if ordered and length > MAX_CHARS:
            break
        ordered.append(wanted[key])
    return ordered


def _up_to_command(scored: list[Quote], q: Quote) -> list[Quote]:
    """The units after `q` up to a command line within CODE_REACH units ("You can change it
    with this command." then "$ sudo update-alternatives --config editor"); none without."""
    after = sorted(
        (s for s in scored if s.number == q.number and 0 < s.position - q.position <= CODE_REACH),
        key=lambda s: s.position,
    )
    for i, s in enumerate(after):
        if _COMMAND.match(s.unit.text):
            return after[: i + 1]
    return []


def _before(scored: list[Quote], q: Quote) -> Quote | None:
    return next((s for s in scored if s.number == q.number and s.position == q.position - 1), None)


def _is_label(unit: Unit) -> bool:
    """A term, signature or title line: short, and no sentence."""
    text = unit.text.rstrip()
    return unit.kind == SENTENCE and len(text) <= LABEL_CHARS and not _ENDS_SENTENCE.search(text)


def _after(scored: list[Quote], q: Quote) -> Quote | None:
    return next((s for s in scored if s.number == q.number and s.position == q.position + 1), None)


def _format(quotes: list[Quote], passages: Sequence[Citation], language: str = "en") -> str:
    """Quotes grouped by passage; prose as quoted sentences, lists and tables as lines; each
    group followed by where it is from, in the question's language."""
    if not quotes:
        return ""
    where = {c.number: _where(c, language) for c in passages}
    blocks, current = [], None
    for q in quotes:
        if current is None or current[0] != q.number:
            current = (q.number, [])
            blocks.append(current)
        current[1].append(q.unit)
    parts = []
    for number, group in blocks:
        lines = [
            f"“{u.text}”" if u.kind == SENTENCE else (u.text if u.kind == ITEM else f"- {u.text}")
            for u in group
        ]
        parts.append("\n".join(lines) + f" [{number}]\n— {where[number]}")
    return "\n\n".join(parts)


def _size(text: str) -> int:
    """Words, counting a pair of Chinese or Japanese characters as one."""
    return len(text.split()) + len(_CJK.findall(text)) // 2


def _where(c: Citation, language: str) -> str:
    if not c.page:
        return c.source
    return f"{c.source}，第 {c.page} 页" if language == "zh" else f"{c.source}, page {c.page}"
