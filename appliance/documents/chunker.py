"""Splits Sections into overlapping word windows for retrieval. A window keeps the line and
paragraph breaks of its text (other runs of whitespace become one space)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from appliance.documents.model import Chunk, Section

# A window may end early at a sentence or paragraph end found in its last fifth,
# so chunks tend to stop at natural boundaries without getting much shorter.
_BREAK_SEARCH_FRACTION = 0.2
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")


def chunk_sections(
    sections: Sequence[Section],
    source: str,
    chunk_words: int = 180,
    overlap_words: int = 30,
) -> list[Chunk]:
    """Cut every section into windows of at most chunk_words words.

    Consecutive windows of a section share overlap_words words. Windows never
    span sections, so each chunk keeps exactly one page and one heading path.
    Chunks are numbered 0..n-1 across the whole document.
    """
    if not (chunk_words > overlap_words >= 0):
        raise ValueError(
            "chunk_words must be greater than overlap_words, and overlap_words must not be "
            f"negative (got chunk_words={chunk_words}, overlap_words={overlap_words})."
        )
    chunks: list[Chunk] = []
    for section in sections:
        words, breaks_after, line_ends = _words_with_breaks(section.text)
        for start, end in _windows(len(words), breaks_after, chunk_words, overlap_words):
            chunks.append(
                Chunk(
                    text=_joined(words, start, end, line_ends),
                    source=source,
                    page=section.page,
                    heading=section.heading,
                    index=len(chunks),
                )
            )
    return chunks


def _words_with_breaks(text: str) -> tuple[list[str], set[int], dict[int, str]]:
    """Split text into words; note which word positions end a sentence or paragraph, and
    which end a line ("\n") or a paragraph ("\n\n"): lists, table rows and paragraphs keep
    their lines in the chunk, for the page and for quoting sentences and items."""
    words: list[str] = []
    breaks_after: set[int] = set()
    line_ends: dict[int, str] = {}
    for paragraph in _PARAGRAPH_BREAK.split(text):
        for line in paragraph.split("\n"):
            for word in line.split():
                words.append(word)
                if _SENTENCE_END.search(word):
                    breaks_after.add(len(words) - 1)
            if words:
                line_ends[len(words) - 1] = "\n"
        if words:
            breaks_after.add(len(words) - 1)
            line_ends[len(words) - 1] = "\n\n"
    return words, breaks_after, line_ends


def _joined(words: list[str], start: int, end: int, line_ends: dict[int, str]) -> str:
    pieces = []
    for position in range(start, end):
        pieces.append(words[position])
        if position < end - 1:
            pieces.append(line_ends.get(position, " "))
    return "".join(pieces)


def _windows(
    count: int, breaks_after: set[int], chunk_words: int, overlap_words: int
) -> list[tuple[int, int]]:
    """(start, end) word positions of each window."""
    windows: list[tuple[int, int]] = []
    start = 0
    while start < count:
        end = min(start + chunk_words, count)
        if end < count:
            end = _nicer_end(start, end, breaks_after, chunk_words, overlap_words)
        windows.append((start, end))
        if end >= count:
            break
        start = end - overlap_words
    return windows


def _nicer_end(
    start: int, end: int, breaks_after: set[int], chunk_words: int, overlap_words: int
) -> int:
    # The earliest allowed end must still move the next window forward past the overlap.
    earliest = max(start + overlap_words + 1, end - int(chunk_words * _BREAK_SEARCH_FRACTION))
    for candidate in range(end, earliest - 1, -1):
        if candidate - 1 in breaks_after:
            return candidate
    return end
