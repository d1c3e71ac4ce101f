"""A loop guard for generated answers. Small models fall into loops ("- Drop files into the
folder: …" forty times, "可以确定，你可以确定，…"); the answer is cut where the loop begins,
and generation stops, instead of running to generator.max_tokens.

Two checks on the text so far, after each token:
- the tail is one unit repeated REPEATS times in a row (digits ignored, so "1. x 2. x 3. x"
  counts), a unit being 4 to 240 characters with at least two letters in it;
- the last WINDOW words are mostly the same few 4-word phrases (a loop with small variations).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

REPEATS = 3
MIN_UNIT, MAX_UNIT = 4, 240
WINDOW = 80  # words
MIN_DISTINCT = 0.3  # of the window's 4-word phrases that must be distinct
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_WORD = re.compile(r"\S+")


def loop_start(text: str) -> int | None:
    """Where a loop at the end of `text` begins (the text is kept up to there, one copy of the
    repeated part included), or None when the text does not end in a loop."""
    exact = _repeated_tail(_DIGIT.sub("#", text))
    if exact is not None:
        return exact
    return _low_diversity(text)


def _repeated_tail(text: str) -> int | None:
    for size in range(MIN_UNIT, min(MAX_UNIT, len(text) // REPEATS) + 1):
        unit = text[-size:]
        if len(_LETTER.findall(unit)) < 2:
            continue
        if all(text[-(n + 1) * size : -n * size] == unit for n in range(1, REPEATS)):
            return len(text) - (REPEATS - 1) * size
    return None


def _low_diversity(text: str) -> int | None:
    words = list(_WORD.finditer(text))
    if len(words) < WINDOW:
        return None
    window = [w.group().lower() for w in words[-WINDOW:]]
    phrases = [tuple(window[i : i + 4]) for i in range(len(window) - 3)]
    if len(set(phrases)) / len(phrases) >= MIN_DISTINCT:
        return None
    # Keep the text up to the second time its most common phrase begins.
    common = Counter(phrases).most_common(1)[0][0]
    starts = [
        i
        for i in range(len(words) - 3)
        if tuple(w.group().lower() for w in words[i : i + 4]) == common
    ]
    return words[starts[1]].start() if len(starts) > 1 else None


@dataclass
class Guard:
    """Watches a stream of generated text: `watch` passes its pieces on until the text starts
    to loop (cut where the loop begins), or `doomed(text)` gives a reason to give up on it,
    or the stream ends; then the stream is closed, which stops the model."""

    max_tokens: int
    text: str = ""  # what is kept
    tokens: int = 0
    stopped: str = ""  # "end", "max_tokens", "repetition" or "unsupported"
    reason: str = ""  # with "unsupported": doomed's reason

    def watch(
        self, pieces: Iterator[str], doomed: Callable[[str, int], str] = lambda text, n: ""
    ) -> Iterator[str]:
        try:
            for piece in pieces:
                self.tokens += 1
                draft = self.text + piece
                loop = loop_start(draft)
                if loop is not None:
                    self.text, self.stopped = draft[:loop], "repetition"
                    return
                self.reason = doomed(draft, self.tokens)
                if self.reason:
                    self.text, self.stopped = draft, "unsupported"
                    return
                self.text = draft
                yield piece
            self.stopped = "max_tokens" if self.tokens >= self.max_tokens else "end"
        finally:
            pieces.close()
