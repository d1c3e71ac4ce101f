"""The trust score of an answer, from 0 to 1 (README, "Trust score").

    trust = 0.4 × support + 0.3 × citations + 0.3 × relevance

- support: the share of the answer's sentences whose words mostly (≥ 50% of the content
  words) appear in the passages it cites (in all passages given, when it cites none). A
  sentence that asks (the question restated: it claims nothing) and the line saying where
  quotes are from ("— hr/leave.md") are not counted; an answer with nothing else (the
  question echoed, then "[1] no.") has no support;
- citations: the share of [n] markers that name a passage the model was given, and 0 when
  the answer cites nothing (an uncited answer cannot be checked by the reader);
- relevance: how close the passages are to the question: the best cosine similarity,
  mapped from the relevance floor of its embedder (config.Floors: 0) to 0.7 (1).
A sentence stating a number or amount its passages do not hold is not supported ("EUR 10"
where the passage says EUR 220), however many of its words they share.
An answer saying nothing was found scores 0: there is nothing to trust, and it is logged as
a knowledge gap instead.

The page shows a level, not the score: `backed` (it cites only sources it was given, and
they back at least BACKED_SUPPORT of its sentences), `partly` (it cites a real source that
backs at least PARTLY_SUPPORT), else `not_backed`: an answer citing no real source is never
shown as backed, whatever its score. A quoted answer (answer/extractive.py) is `quoted`:
its words are the documents' own, so that they back it says nothing; whether the quotes
answer the question is the reader's to judge, and the page says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from appliance.answer.retrieve import Citation
from appliance.answer.sentences import split_sentences

_CITE = re.compile(r"\[(\d+)\]")
_CITE_MARK = re.compile(r"\s*\[\d+\]")
_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_ASKS = re.compile(r"[?？][\"'”’)）」』*_]*$")  # a sentence that asks, in its quotes
ATTRIBUTION = "— "  # a quote's source line (extractive._format): not a claim
_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "were will with you your they their not can may".split()
)
FULL_RELEVANCE = 0.7
NO_CITATION = "the model's answer cites no source"
BACKED, PARTLY, NOT_BACKED, QUOTED = "backed", "partly", "not_backed", "quoted"
BACKED_SUPPORT, PARTLY_SUPPORT = 0.75, 0.4


@dataclass(frozen=True)
class Trust:
    score: float
    support: float
    citations: float
    relevance: float
    cited: list[int]
    invalid_citations: list[int]
    level: str = NOT_BACKED

    def as_dict(self) -> dict:
        return asdict(self)


def cited_numbers(answer: str) -> list[int]:
    return sorted({int(n) for n in _CITE.findall(answer)})


def assess(answer: str, passages: Sequence[Citation], floor: float) -> Trust:
    numbers = cited_numbers(answer)
    given = {c.number: c for c in passages}
    valid = [n for n in numbers if n in given]
    invalid = [n for n in numbers if n not in given]
    citations = len(valid) / len(numbers) if numbers else 0.0
    basis = [given[n] for n in valid] or list(passages)
    support = _support(answer, basis)
    best = max((c.relevance for c in passages), default=0.0)
    span = max(FULL_RELEVANCE - floor, 1e-6)
    relevance = min(1.0, max(0.0, (best - floor) / span))
    score = 0.4 * support + 0.3 * citations + 0.3 * relevance
    cited_support = _support(answer, [given[n] for n in valid]) if valid else 0.0
    if cited_support >= BACKED_SUPPORT and not invalid:
        level = BACKED
    elif cited_support >= PARTLY_SUPPORT:
        level = PARTLY
    else:
        level = NOT_BACKED
    return Trust(
        round(score, 3),
        round(support, 3),
        round(citations, 3),
        round(relevance, 3),
        valid,
        invalid,
        level,
    )


def citation_problem(answer: str, given: set[int]) -> str:
    """What is wrong with the citations of a model's answer: none, or some of sources it was
    not given; "" when every [n] names a passage it was given."""
    numbers = cited_numbers(answer)
    if not numbers:
        return NO_CITATION
    invalid = [f"[{n}]" for n in numbers if n not in given]
    if invalid:
        return f"the model's answer cites sources it was not given ({', '.join(invalid)})"
    return ""


def unsupported_reason(answer: str, passages: Sequence[Citation], min_support: float) -> str:
    """Why the passages a generated answer cites do not back it, in words for the reader;
    "" when they do: it cites only passages it was given, at least `min_support` of its
    sentences are mostly made of the cited passages' words, and every number it states is
    in them."""
    given = {c.number: c for c in passages}
    problem = citation_problem(answer, set(given))
    if problem:
        return problem
    cited = [given[n] for n in cited_numbers(answer)]
    text = " ".join(c.text for c in cited)
    unknown = [n for n in _NUMBER.findall(_CITE.sub("", answer)) if n not in text]
    if unknown:
        return (
            "the model's answer states numbers the cited passages do not hold "
            f"({', '.join(unknown[:3])})"
        )
    support = _support(answer, cited)
    if support < min_support:
        return f"the cited passages back only {support:.0%} of the model's answer"
    return ""


def _content_words(text: str) -> set[str]:
    words = set()
    for w in _WORD.findall(text.lower()):
        if _CJK.search(w):  # no spaces between words: pairs of characters stand for them
            words |= {w[i : i + 2] for i in range(max(1, len(w) - 1))}
        elif w not in _STOP:
            words.add(w)
    return words


def _support(answer: str, passages: Sequence[Citation]) -> float:
    known = set().union(*(_content_words(c.text) for c in passages)) if passages else set()
    text = " ".join(c.text for c in passages)
    prose = _CITE_MARK.sub("", answer)  # "night [3]. Parking" → "night. Parking": two sentences
    sentences = [
        s
        for line in prose.splitlines()
        if not line.lstrip().startswith(ATTRIBUTION)
        for s in split_sentences(line)
        if len(_content_words(s)) >= 3 and not _ASKS.search(s.strip())
    ]
    if not sentences:
        return 0.0
    supported = 0
    for sentence in sentences:
        words = _content_words(sentence)
        if any(n not in text for n in _NUMBER.findall(sentence)):
            continue  # an amount or number its passages do not state
        if words and len(words & known) / len(words) >= 0.5:
            supported += 1
    return supported / len(sentences)
