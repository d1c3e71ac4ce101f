"""Extractive answers: the sentences, list items or table rows of the retrieved passages that
answer the question, quoted verbatim with their [n] citations. No model writes anything, so
the answer is always grounded, and it takes milliseconds.

A unit scores by how much of the question it covers: the question's terms it contains (as
BM25's multilingual tokenizer cuts and stems them, the same as the index), each weighted by
how rare it is among the candidate units (IDF), as a share of the question's total weight;
weighted a little by how relevant its passage is, and a little more when it names something
the question does not (a function, an option, a path: uuid4(), --exec, /etc/apt/preferences),
since documentation answers "how do I…" with what to use. A question not in English also
counts the unit's closeness in meaning (the multilingual embedder's cosine): there the
documents often say in other words what it asks ("ディレクトリを中身ごとコピー" against
"再帰的にディレクトリをコピーする"). When the question names
identifiers with a number in them (INC-2023-02684) and passages hold them, only those
passages are quoted, not their neighbours (INC-2023-02685). The best unit is quoted, with
up to three more that score at least a third as well, best first while they fit the length
limit.

Each quote brings what it needs to be read:
- an item of a list or a row of a table, its whole list or table (up to a limit) and the
  sentence that introduces it; that sentence, the list or table after it (past a caption:
  "Table 12.15." "Memory leak detection tools");
- a sentence in a description, the term or signature it describes ("textwrap.dedent(text)"
  a few sentences above "This can be used to make triple-quoted strings line up…"); a term,
  signature or title, the sentences that describe it;
- a sentence followed by a command ("$ sudo update-alternatives --config editor"), the
  command; a sentence that announces what follows ("…as follows:", "如下"), the lines of
  configuration or code after it: documentation says how in words and then shows it;
- a question (a FAQ's "Q: How do I reset my password?", which restates the user's and so
  scores best), the sentences after it up to the next question: its answer.
A list or table, or what a sentence announces, may go on past the passage's end: then from
the next chunk of the document (on the same page), which is never quoted for itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from appliance.answer.retrieve import Citation
from appliance.answer.sentences import ITEM, ROW, SENTENCE, Unit, units
from appliance.answer.trust import ATTRIBUTION
from appliance.answer.wording import PHRASES, language_of
from appliance.index.identifiers import holds, identifiers, is_numbered, numbered_identifiers

MAX_QUOTES = 4
OUTDATED_WEIGHT = 0.5  # a unit of a document that says it no longer applies
MAX_CHARS = 900
MAX_BLOCK_UNITS = 12  # of one list or table
# A further quote must score this share of the best one. At 0.5 the benchmarks' answers held
# their answer phrase 3 points less often in English and 2 in Chinese, 4-8 % shorter.
NEAR_BEST = 0.35
CAPTION_REACH = 2  # a list or table this many captions after a quote is its
CAPTION_CHARS = 60
CODE_REACH = 2  # a command this many units after a quote comes with it
LABEL_REACH = 5  # a quote this many sentences under a term or signature brings it
DESCRIPTION_UNITS = 2  # a quoted term, signature or title brings this many sentences
_COMMAND = re.compile(r"^(?:\$|#|%|>>>) ")  # a shell or interpreter prompt
# A sentence that says something is shown next: "…set it as follows:", "请在本机执行如下命令."
_ANNOUNCES = re.compile(
    r"[:：]$|如下|下面|以下|次の|the following|as follows|wie folgt|folgende|comme suit|ci-dessous",
    re.IGNORECASE,
)
NAMES_BONUS = 0.2  # measured on the benchmark sets: 0.1 gains less, 0.4 loses gold files
# A question not in English: a unit's cosine with it (multilingual embedder), times this, is
# added to its score. Man pages' answer phrases 34 % → 41 %, Chinese book 56.6 % → 58.2 %;
# from 0.45 to 1.0 the same within a point or two.
SIMILARITY_WEIGHT = 0.6
_OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*|\b\w+\(\)")  # --exec, -L, uuid4()
LABEL_CHARS = 240  # a function signature can be long
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_ENDS_SENTENCE = re.compile(r"[.!?。！？；:：]$")
_ASKS = re.compile(r"[?？][\"'”’)）」』*_]*$")  # a question, in its quotes or emphasis
ANSWER_UNITS = 3  # a quoted question brings this many sentences after it, its answer


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
    # The [n] of the passages that hold all the question's numbered identifiers (a ticket).
    holding: frozenset[int] = frozenset()

    def focused(self, passages: Sequence[Citation], words: int) -> list[Citation]:
        """The passages cut to their units closest to the question, about `words` words
        each, in the order of the document (with the term lines above them): what a model
        reads quickly and is kept on the point by. A short passage stays whole."""
        out = []
        for c in passages:
            mine = {q.position: q for q in self.scored if q.number == c.number}
            if words <= 0 or _size(c.text) <= words or not mine:
                out.append(c)
                continue
            kept, size = set(), 0
            for q in sorted(mine.values(), key=lambda q: -q.score):
                if size >= words:
                    break
                kept.add(q.position)
                size += _size(q.unit.text)
                label = _label_above(mine, q)
                if label is not None:
                    kept.add(label.position)
            text = "\n".join(q.unit.text for q in mine.values() if q.position in kept)
            out.append(replace(c, text=text))
        return out


def extract(
    question: str,
    passages: Sequence[Citation],
    terms: Callable[[str], set[int]],
    following: Mapping[int, str] | None = None,
    similarity: Callable[[list[str]], list[float] | None] | None = None,
    wording: str | None = None,
    judged: int | None = None,
    outdated: frozenset[int] = frozenset(),
) -> Extract:
    """`terms(text)`: the text's terms as BM25 token ids and its identifiers (Embedder.terms).
    `following`: the text of the chunk after each passage ([n] → text), where the document
    goes on: a quote at a passage's end brings what it needs from there. `similarity(texts)`:
    each text's cosine with the question by the multilingual embedder, None for a question
    in English (Embedder.multilingual_similarity). `wording`: the language to say where
    each quote is from in (wording.language_of; by default read from the question's script).
    `judged`: the coverage signals are measured on the first `judged` passages alone (the
    search's own; the further passages of a file the question names are quoted from, not
    judged by), by default on all. `outdated`: the passages whose document says it no longer
    applies (answer/outdated.py): their units weigh less, and their source is marked."""
    asked = terms(question)
    candidates = [
        (c, position, unit)
        for c in passages
        for position, unit in enumerate(units(c.text))
        if unit.text.strip()
    ]
    if not asked or not candidates:
        return Extract("", [], 0.0, 0.0)
    after = [
        (c, position, unit)
        for c in passages
        for position, unit in _continuation(c.text, (following or {}).get(c.number))
    ]
    unit_terms = [terms(unit.text) for _, _, unit in candidates]
    judging = [judged is None or c.number <= judged for c, _, _ in candidates]
    weight = _idf(asked, [found for found, j in zip(unit_terms, judging, strict=True) if j])
    total = sum(weight.values()) or 1.0
    best_relevance = max((c.relevance for c in passages[:judged]), default=0.0) or 1.0
    texts = [unit.text for _, _, unit in candidates]
    close = (similarity(texts) if similarity else None) or [0.0] * len(candidates)
    scored, coverage = [], 0.0
    for (c, position, unit), found, cosine, judge in zip(
        candidates, unit_terms, close, judging, strict=True
    ):
        covered = sum(weight[t] for t in asked & found) / total
        score = covered * (0.75 + 0.25 * max(0.0, c.relevance) / best_relevance)
        if judge:
            coverage = max(coverage, score)
        score += SIMILARITY_WEIGHT * max(0.0, cosine)
        if _names_something_new(unit.text, question):
            score *= 1 + NAMES_BONUS
        if c.number in outdated:
            score *= OUTDATED_WEIGHT
        scored.append(Quote(unit, c.number, position, score))
    passage_coverage = max(
        sum(weight[t] for t in asked & terms(c.text)) / total for c in passages[:judged]
    )
    # Asked about INC-2023-02684, quote the passages that hold it, not its neighbours'.
    numbered = numbered_identifiers(question)
    holding = frozenset(
        c.number for c in passages if numbered and all(c.holds(i) for i in numbered)
    )
    # The next chunk's units are never quoted for themselves (they are not what was found),
    # only where a quote needs them: a list or table going on, what a sentence announces.
    onward = [Quote(unit, c.number, position, 0.0) for c, position, unit in after]
    quotes = _choose(scored, holding or None, onward, numbered)
    return Extract(
        _format(quotes, passages, wording or language_of(question), outdated),
        quotes,
        round(coverage, 4),
        round(passage_coverage, 4),
        scored,
        holding,
    )


def _names_something_new(text: str, question: str) -> bool:
    """Whether `text` names a function, option or path that the question does not: what to
    use. An identifier with a number in it (INC-2023-02685, v2.1.43) is a value, not that."""
    return any(w not in question and not is_numbered(w) for w in identifiers(text)) or any(
        o not in question for o in _OPTION.findall(text)
    )


def _continuation(text: str, following: str | None) -> list[tuple[int, Unit]]:
    """The units of `following` (the next chunk, which starts with the end of `text`: chunks
    overlap) past those of `text`, numbered on from them."""
    if not following:
        return []
    overlap = next(
        (n for n in range(min(len(text), len(following)), 0, -1) if text.endswith(following[:n])),
        0,
    )
    own = len(units(text))
    joined = units(text + following[overlap:])
    return [
        (position, u) for position, u in enumerate(joined) if position >= own and u.text.strip()
    ]


def _idf(asked: set[int], unit_terms: list[set[int]]) -> dict[int, float]:
    n = len(unit_terms)
    return {
        t: math.log(1 + (n - df + 0.5) / (df + 0.5))
        for t in asked
        for df in [sum(t in found for found in unit_terms)]
    }


def _choose(
    scored: list[Quote],
    allowed: frozenset[int] | None = None,
    onward: Sequence[Quote] = (),
    numbered: Sequence[str] = (),
) -> list[Quote]:
    """The quotes, from the passages numbered in `allowed` (None: from any); `onward`: the
    units of the chunks after the passages, which quotes bring where they need them;
    `numbered`: the question's identifiers with a number in them (_companions)."""
    ranked = sorted(
        (q for q in scored if allowed is None or q.number in allowed), key=lambda q: -q.score
    )
    if not ranked:
        return []
    if any(_row_named(q.unit, numbered) for q in ranked):  # the other rows answer no question
        ranked = [q for q in ranked if q.unit.kind != ROW or _row_named(q.unit, numbered)]
    best = ranked[0]
    if best.score <= 0:
        return []
    chosen = [best]
    for q in ranked[1:]:
        if len(chosen) >= MAX_QUOTES or q.score < NEAR_BEST * best.score:
            break
        # Chunks overlap: a sentence may be found whole in one passage and from its middle
        # in the next. It is quoted once, whole (units have their whitespace evened).
        text = q.unit.text
        same = [i for i, c in enumerate(chosen) if text in c.unit.text or c.unit.text in text]
        if not same:
            chosen.append(q)
        elif len(same) == 1 and len(text) > len(chosen[same[0]].unit.text):
            chosen[same[0]] = q
    return _with_blocks(chosen, scored, onward, numbered)


def _row_named(unit: Unit, numbered: Sequence[str]) -> bool:
    """Whether `unit` is a table row holding the values the question names (a date, a ticket,
    a part number: mostly digits), not a plain number, which many rows hold (2025, 20), nor
    a name with a digit in it (iproute2, UTF-8), which a table's header may hold."""
    telling = [i for i in numbered if not i.isdigit() and 2 * sum(c.isdigit() for c in i) >= len(i)]
    return unit.kind == ROW and bool(telling) and all(holds(unit.text, i) for i in telling)


def _with_blocks(
    chosen: list[Quote],
    scored: list[Quote],
    onward: Sequence[Quote] = (),
    numbered: Sequence[str] = (),
) -> list[Quote]:
    """Each quote with what it needs to be read: the term it describes, what it introduces,
    its whole list or table with the lead-in. Quotes are taken best first while they fit the
    length limit (a long list never crowds out a better quote), in the order of the documents.
    A list, a table or what a sentence announces goes on into `onward` (the next chunk)."""
    passages: dict[int, dict[int, Quote]] = {}
    for s in scored:
        passages.setdefault(s.number, {})[s.position] = s
    going_on = {number: dict(mine) for number, mine in passages.items()}
    for s in onward:
        going_on.setdefault(s.number, {})[s.position] = s
    kept: dict[tuple[int, int], Quote] = {}
    length = 0
    companions = [_companions(passages[q.number], q, going_on[q.number], numbered) for q in chosen]
    answered = [[q, *_answer_after(going_on[q.number], q)] for q in chosen]
    for group in answered + companions:
        for s in group:
            key = (s.number, s.position)
            if key in kept:
                continue
            if kept and length + len(s.unit.text) > MAX_CHARS:
                break
            kept[key] = s
            length += len(s.unit.text)
    return [kept[key] for key in sorted(kept)]


def _companions(
    mine: dict[int, Quote],
    q: Quote,
    going_on: dict[int, Quote] | None = None,
    numbered: Sequence[str] = (),
) -> list[Quote]:
    """What the quote `q` needs to be read, most needed first. `mine`: the units of its
    passage by position (as for the helpers below); `going_on`: those and the next chunk's,
    where a list or table goes on, or what a sentence announces. A row holding what the
    question names with a number (a date, a ticket, a part number) is quoted with its
    table's first row (the header of a table of cells), not with the rest of the table."""
    going_on = going_on or mine
    # Past the passage's end, a sentence reaches only for what it announces ("如下：").
    ahead = going_on if q.unit.kind != SENTENCE or _ANNOUNCES.search(q.unit.text) else mine
    label = _label_above(mine, q)
    found = ([label] if label is not None else []) + _shown_after(ahead, q)
    if _is_label(q.unit):
        found += _described_below(mine, q)
    if q.unit.kind == SENTENCE:
        following = _block_after(ahead, q)
        if following is None:
            return found
        q = following  # the sentence before a list or table introduces it
    same = sorted(
        (s for s in going_on.values() if s.unit.block == q.unit.block), key=lambda s: s.position
    )
    if _row_named(q.unit, numbered):
        header = same[0] is not q and " | " in same[0].unit.text  # "name: value" rows need none
        return found + ([same[0]] if header else [])
    lead = mine.get(same[0].position - 1)
    if lead is not None and lead.unit.kind == SENTENCE:
        found.append(lead)
    return found + same[:MAX_BLOCK_UNITS]


def _block_after(mine: dict[int, Quote], q: Quote) -> Quote | None:
    """The first item or row of the list or table right after `q`, past a caption or two."""
    for position in range(q.position + 1, q.position + 1 + CAPTION_REACH + 1):
        s = mine.get(position)
        if s is None:
            return None
        if s.unit.kind != SENTENCE:
            return s
        if len(s.unit.text) > CAPTION_CHARS:
            return None
    return None


def _shown_after(mine: dict[int, Quote], q: Quote) -> list[Quote]:
    """What `q` introduces: the units after it up to a command line within CODE_REACH units
    ("You can change it with this command." then "$ sudo update-alternatives --config
    editor"); or, after a sentence that announces what follows ("…like this:", "如下"), the
    lines that follow it that are no sentences (a configuration, a command)."""
    reach = range(q.position + 1, q.position + 1 + CODE_REACH)
    after = [mine[position] for position in reach if position in mine]
    for i, s in enumerate(after):
        if _COMMAND.match(s.unit.text):
            return after[: i + 1]
    if q.unit.kind != SENTENCE or not _ANNOUNCES.search(q.unit.text):
        return []
    shown = []
    for s in after:
        if s.unit.kind != SENTENCE or _ENDS_SENTENCE.search(s.unit.text.rstrip()):
            break
        shown.append(s)
    return shown


def _answer_after(mine: dict[int, Quote], q: Quote) -> list[Quote]:
    """When `q` is a question (a FAQ's), what answers it: the units after it, up to the next
    question (at most ANSWER_UNITS, and the next chunk's too)."""
    if not _ASKS.search(q.unit.text):
        return []
    found = []
    for position in range(q.position + 1, q.position + 1 + ANSWER_UNITS):
        s = mine.get(position)
        if s is None or _ASKS.search(s.unit.text):
            break
        found.append(s)
    return found


def _described_below(mine: dict[int, Quote], q: Quote) -> list[Quote]:
    """The sentences under the term, signature or title `q`, up to the next one (at most
    DESCRIPTION_UNITS)."""
    found = []
    for position in range(q.position + 1, q.position + 1 + DESCRIPTION_UNITS):
        s = mine.get(position)
        if s is None or s.unit.kind != SENTENCE or _is_label(s.unit):
            break
        found.append(s)
    return found


def _label_above(mine: dict[int, Quote], q: Quote) -> Quote | None:
    """The term or signature that the sentence `q` describes: "textwrap.dedent(text)" above
    "Remove any common leading whitespace…" and the sentences after it. A description is
    prose under its label, so the search stops at a list, a table or LABEL_REACH sentences."""
    for position in range(q.position - 1, max(-1, q.position - 1 - LABEL_REACH), -1):
        s = mine.get(position)
        if s is None or s.unit.kind != SENTENCE:
            return None
        if _is_label(s.unit):
            return s
    return None


def _is_label(unit: Unit) -> bool:
    """A term, signature or title line: short, and no sentence."""
    text = unit.text.rstrip()
    return unit.kind == SENTENCE and len(text) <= LABEL_CHARS and not _ENDS_SENTENCE.search(text)


def _format(
    quotes: list[Quote],
    passages: Sequence[Citation],
    language: str = "en",
    outdated: frozenset[int] = frozenset(),
) -> str:
    """Quotes grouped by passage; prose as quoted sentences, lists and tables as lines; each
    group followed by where it is from, in the question's language; the quotes of documents
    that say they no longer apply come last, marked so."""
    if not quotes:
        return ""
    where = {c.number: _where(c, language) for c in passages}
    for number in outdated & where.keys():
        where[number] = PHRASES["outdated"][language].format(where=where[number])
    blocks, current = [], None
    for q in quotes:
        if current is None or current[0] != q.number:
            current = (q.number, [])
            blocks.append(current)
        current[1].append(q.unit)
    parts = []
    for number, group in sorted(blocks, key=lambda block: block[0] in outdated):  # them last
        lines = [
            f"“{u.text}”" if u.kind == SENTENCE else (u.text if u.kind == ITEM else f"- {u.text}")
            for u in group
        ]
        parts.append("\n".join(lines) + f" [{number}]\n{ATTRIBUTION}{where[number]}")
    return "\n\n".join(parts)


def _size(text: str) -> int:
    """Words, counting a pair of Chinese or Japanese characters as one."""
    return len(text.split()) + len(_CJK.findall(text)) // 2


def _where(c: Citation, language: str) -> str:
    if not c.page:
        return c.source
    return PHRASES["page"][language].format(source=c.source, page=c.page)
