"""Turns a stream of headings and text into Sections with heading paths.

Markdown, HTML and DOCX all describe structure the same way (a heading at some
level, then body text), so they share this one collector.
"""

from __future__ import annotations

import re

from appliance.documents.model import Section

HEADING_SEPARATOR = " > "

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy_text(text: str) -> str:
    """Collapse runs of spaces, trim every line and keep at most one blank line in a row.

    Line breaks survive because the chunker uses blank lines as paragraph ends.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def single_line(text: str) -> str:
    return " ".join(text.split())


class SectionCollector:
    """Accumulates body text under the current heading path.

    A heading at level N closes every open heading at level N or deeper, so the
    path always reads from the outermost heading to the innermost one.
    """

    def __init__(self, page: int | None = None) -> None:
        self._page = page
        self._open_headings: list[tuple[int, str]] = []
        self._pending: list[str] = []
        self._sections: list[Section] = []

    def heading(self, level: int, title: str) -> None:
        title = single_line(title)
        if not title:
            return
        self._flush()
        while self._open_headings and self._open_headings[-1][0] >= level:
            self._open_headings.pop()
        self._open_headings.append((level, title))

    def text(self, text: str) -> None:
        self._pending.append(text)

    def finish(self) -> list[Section]:
        self._flush()
        return list(self._sections)

    def _flush(self) -> None:
        body = tidy_text("".join(self._pending))
        self._pending.clear()
        if body:
            path = HEADING_SEPARATOR.join(title for _, title in self._open_headings)
            self._sections.append(Section(text=body, page=self._page, heading=path))
