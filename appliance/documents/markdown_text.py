"""Markdown to Sections: ATX headings (`#`..`######`) open sections."""

from __future__ import annotations

import re

from appliance.documents.model import Section
from appliance.documents.outline import SectionCollector

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def markdown_sections(text: str) -> list[Section]:
    collector = SectionCollector()
    open_fence = ""
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            # A fence closes only with the same character, at least as long.
            if not open_fence:
                open_fence = marker
            elif marker[0] == open_fence[0] and len(marker) >= len(open_fence):
                open_fence = ""
            collector.text("\n")
            continue
        heading = None if open_fence else _ATX_HEADING.match(line)
        if heading:
            collector.heading(len(heading.group(1)), _strip_inline_markup(heading.group(2) or ""))
        else:
            collector.text(_strip_inline_markup(line) + "\n")
    return collector.finish()


def _strip_inline_markup(line: str) -> str:
    # Link targets are noise for retrieval; the visible text is what people search for.
    return _LINK.sub(r"\1", _IMAGE.sub(r"\1", line))
