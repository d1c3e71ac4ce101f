"""A passage cut into the units an answer can quote: sentences, list items, table rows.

Chunks keep their line breaks (documents/chunker.py), so a line that starts with a list
marker is an item, a line of cells (" | ", tabs, or a sheet's "name: value; name: value")
is a row, and other lines are prose, joined within their paragraph (a PDF breaks lines
mid-sentence) and split into sentences after . ! ? and a space, or after the CJK 。！？；
with no space needed. Abbreviations (e.g., i.e., Dr., initials) do not end a sentence, and
neither does a dot inside a word (3.11, os.path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appliance.documents.tabular import is_table_row

SENTENCE, ITEM, ROW = "sentence", "item", "row"

_LIST_ITEM = re.compile(r"^(?:[-*•·▪◦‣–]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)]|[①-⑳])\s+\S")
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n")
# What closes around a sentence's end stays with it: quotes, brackets, and Markdown's
# emphasis ("**Q: How do I reset my password?**").
_CJK_END = re.compile(r"[。！？；!?][」』”’）)*_]*")
_LATIN_END = re.compile(r"(?<=[\w)\]\"'”’%*_])[.!?][\"'”’)\]*_]*(?=\s+\S)")  # not "(.)"
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs cf mr mrs ms dr prof st no nr fig approx incl resp ca al".split()
)


@dataclass(frozen=True)
class Unit:
    text: str  # verbatim from the passage (whitespace runs as one space)
    kind: str  # SENTENCE, ITEM or ROW
    block: int  # the items of one list, or the rows of one table, share their block


def units(text: str) -> list[Unit]:
    found: list[Unit] = []
    block = 0
    previous = ""  # the kind of the last line: a table's rows may come a paragraph each
    for paragraph in _PARAGRAPH.split(text):
        prose: list[str] = []
        for line in (" ".join(raw.split()) for raw in paragraph.split("\n")):
            if not line:
                continue
            kind = ITEM if _LIST_ITEM.match(line) else ROW if is_table_row(line) else SENTENCE
            if kind == SENTENCE:
                prose.append(line)
                previous = ""
                continue
            if prose:
                block = _add_sentences(found, _join_lines(prose), block)
                prose = []
            if kind != previous:
                block += 1
            found.append(Unit(line, kind, block))
            previous = kind
        if prose:
            block = _add_sentences(found, _join_lines(prose), block)
    return found


def _join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one run of prose: a line break inside Chinese or Japanese
    text is no space."""
    text = lines[0]
    for line in lines[1:]:
        text += line if _CJK.match(text[-1]) and _CJK.match(line[0]) else " " + line
    return text


def split_sentences(text: str) -> list[str]:
    """Sentences of a run of prose, in order, verbatim."""
    sentences, start = [], 0
    for end in _ends(text):
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _add_sentences(found: list[Unit], prose: str, block: int) -> int:
    for sentence in split_sentences(prose):
        block += 1
        found.append(Unit(sentence, SENTENCE, block))
    return block


def _ends(text: str) -> list[int]:
    ends = {m.end() for m in _CJK_END.finditer(text)}
    for m in _LATIN_END.finditer(text):
        if not _abbreviation_before(text, m.start()):
            ends.add(m.end())
    if text.count("**") % 2 == 0:  # not within bold: "**Q: My account is locked. What now?**"
        ends = {end for end in ends if text.count("**", 0, end) % 2 == 0}
    return sorted(ends)


def _abbreviation_before(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = re.search(r"(\S+)$", text[:dot])
    if word is None:
        return False
    token = word.group(1).lower().lstrip("(\"'")
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())
