"""Splits Sections into overlapping word windows for retrieval."""

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
        words, breaks_after = _words_with_breaks(section.text)
        for window in _windows(words, breaks_after, chunk_words, overlap_words):
            chunks.append(
                Chunk(
                    text=" ".join(window),
                    source=source,
                    page=section.page,
                    heading=section.heading,
                    index=len(chunks),
                )
            )
    return chunks


def _words_with_breaks(text: str) -> tuple[list[str], set[int]]:
    """Split text into words and note which word positions end a sentence or paragraph."""
    words: list[str] = []
    breaks_after: set[int] = set()
    for paragraph in _PARAGRAPH_BREAK.split(text):
        for word in paragraph.split():
            words.append(word)
            if _SENTENCE_END.search(word):
                breaks_after.add(len(words) - 1)
        if words:
            breaks_after.add(len(words) - 1)
    return words, breaks_after


def _windows(
    words: list[str], breaks_after: set[int], chunk_words: int, overlap_words: int
) -> list[list[str]]:
    windows: list[list[str]] = []
    start = 0
    while start < len(words):
        end = min(start + chunk_words, len(words))
        if end < len(words):
            end = _nicer_end(start, end, breaks_after, chunk_words, overlap_words)
        windows.append(words[start:end])
        if end >= len(words):
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
