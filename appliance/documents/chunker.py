"""Splits Sections into overlapping windows for retrieval, measured in the embedder's tokens,
so that every language gets chunks of the intended size: Chinese and Japanese have no spaces
between words, and a window of whitespace "words" there was a whole paragraph. A window
keeps the line and paragraph breaks of its text (other runs of whitespace become one space)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from appliance.documents.model import Chunk, Section
from appliance.documents.tabular import is_table_row

# Counts the tokens of each piece of text (a word, or one CJK character).
TokenCounter = Callable[[Sequence[str]], Sequence[int]]

# A window may end early at a sentence or paragraph end found in its last fifth,
# so chunks tend to stop at natural boundaries without getting much shorter.
_BREAK_SEARCH_FRACTION = 0.2
_SENTENCE_END = re.compile(r"(?:[.!?:;][\"'”’)\]]*|[。！？；…][」』）”’]*)$")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")
# Scripts written without spaces: each character is a piece of its own. Hangul has spaces.
_CJK = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
)
_CJK_CHAR = re.compile(f"[{_CJK}]")
# A piece outgrowing a window (5 MB of minified data on one line) is a chunk of its own, that
# the embedder truncates: cutting it up would make thousands of chunks of noise to embed.
_PIECE = re.compile(f"[{_CJK}]|[^{_CJK}]+")


def rough_token_counts(pieces: Sequence[str]) -> list[int]:
    """Tokens of each piece without a tokenizer: a CJK character is one, a word one per
    five characters. The indexer counts with the embedder's own tokenizer instead."""
    return [1 if _CJK_CHAR.match(p) else max(1, math.ceil(len(p) / 5)) for p in pieces]


def rough_prefix(text: str, tokens: int) -> str:
    """The start of `text` that holds at most about `tokens` tokens by rough_token_counts: a
    CJK character is one, five other characters are one."""
    used = 0
    for piece in _PIECE.finditer(text):
        if _CJK_CHAR.match(piece.group()):
            if used + 1 > tokens:
                return text[: piece.start()]
            used += 1
        elif used + math.ceil(len(piece.group()) / 5) > tokens:
            return text[: piece.start() + (tokens - used) * 5]
        else:
            used += math.ceil(len(piece.group()) / 5)
    return text


def chunk_sections(
    sections: Sequence[Section],
    source: str,
    chunk_tokens: int = 200,
    overlap_tokens: int = 30,
    count: TokenCounter = rough_token_counts,
) -> list[Chunk]:
    """Cut every section into windows of at most chunk_tokens tokens, as `count` measures.

    Consecutive windows of a section share about overlap_tokens tokens. Windows never
    span sections, so each chunk keeps exactly one page and one heading path.
    Chunks are numbered 0..n-1 across the whole document.
    """
    if not (chunk_tokens > overlap_tokens >= 0):
        raise ValueError(
            "chunk_tokens must be greater than overlap_tokens, and overlap_tokens must not be "
            f"negative (got chunk_tokens={chunk_tokens}, overlap_tokens={overlap_tokens})."
        )
    chunks: list[Chunk] = []
    for section in sections:
        pieces, after, breaks_after, in_rows = _pieces(section.text)
        if not pieces:
            continue
        costs = _costs(pieces, count)
        for start, end in _windows(costs, breaks_after, in_rows, chunk_tokens, overlap_tokens):
            chunks.append(
                Chunk(
                    text=_joined(pieces, after, start, end),
                    source=source,
                    page=section.page,
                    heading=section.heading,
                    index=len(chunks),
                    ocr=section.ocr,
                )
            )
    return chunks


def _pieces(text: str) -> tuple[list[str], list[str], set[int], set[int]]:
    """Split text into pieces (words, single CJK characters), each with the separator that
    follows it ("", " ", "\n" at a line end, "\n\n" at a paragraph end: lists, table rows
    and paragraphs keep their lines, for the page and for quoting sentences and items), and
    note which pieces end a sentence or paragraph. A table row ends only at its line's end
    (its "Approval needed:" ends no sentence), and the pieces of a row after its first are
    noted too: no window starts there ("No" without the row it answers)."""
    pieces: list[str] = []
    after: list[str] = []
    breaks_after: set[int] = set()
    in_rows: set[int] = set()
    for paragraph in _PARAGRAPH_BREAK.split(text):
        for line in paragraph.split("\n"):
            row = is_table_row(line)
            first = len(pieces)
            for word in line.split():
                for piece in _PIECE.findall(word):
                    pieces.append(piece)
                    after.append("")
                    if row and len(pieces) - 1 > first:
                        in_rows.add(len(pieces) - 1)
                    elif not row and _SENTENCE_END.search(piece):
                        breaks_after.add(len(pieces) - 1)
                after[-1] = " "
            if pieces:
                after[-1] = "\n"
                if row and len(pieces) > first:
                    breaks_after.add(len(pieces) - 1)
        if pieces:
            after[-1] = "\n\n"
            breaks_after.add(len(pieces) - 1)
    return pieces, after, breaks_after, in_rows


def _costs(pieces: list[str], count: TokenCounter) -> list[int]:
    """Each piece's tokens, counting each distinct piece once."""
    distinct = list(dict.fromkeys(pieces))
    cost = dict(zip(distinct, count(distinct), strict=True))
    return [max(1, cost[p]) for p in pieces]


def _joined(pieces: list[str], after: list[str], start: int, end: int) -> str:
    parts = []
    for position in range(start, end):
        parts.append(pieces[position])
        if position < end - 1:
            parts.append(after[position])
    return "".join(parts)


def _windows(
    costs: list[int],
    breaks_after: set[int],
    in_rows: set[int],
    chunk_tokens: int,
    overlap_tokens: int,
) -> list[tuple[int, int]]:
    """(start, end) piece positions of each window; none starts inside a table row (less
    overlap instead)."""
    total = [0]
    for cost in costs:
        total.append(total[-1] + cost)
    count = len(costs)
    windows: list[tuple[int, int]] = []
    start = 0
    while start < count:
        end = start + 1  # a window holds at least one piece, however long
        while end < count and total[end + 1] - total[start] <= chunk_tokens:
            end += 1
        if end < count:
            end = _nicer_end(start, end, breaks_after, total, chunk_tokens)
        if end < count and end in in_rows:  # it would cut a row: end at the last row's end
            end = next((e for e in range(end - 1, start, -1) if e - 1 in breaks_after), end)
        windows.append((start, end))
        if end >= count:
            break
        following = end
        while following - 1 > start and total[end] - total[following - 1] <= overlap_tokens:
            following -= 1
        # Less overlap where the next piece would not fit beside it: each window moves on.
        while following < end and total[end + 1] - total[following] > chunk_tokens:
            following += 1
        while following < end and following in in_rows:
            following += 1
        start = following
    return windows


def _nicer_end(
    start: int, end: int, breaks_after: set[int], total: list[int], chunk_tokens: int
) -> int:
    """The last sentence or paragraph end within the window's last fifth, else `end`."""
    earliest = total[end] - int(chunk_tokens * _BREAK_SEARCH_FRACTION)
    candidate = end
    while candidate > start + 1 and total[candidate] >= earliest:
        if candidate - 1 in breaks_after:
            return candidate
        candidate -= 1
    return end
