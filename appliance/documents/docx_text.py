"""DOCX to Sections with python-docx: heading styles open sections, tables become rows of text."""

from __future__ import annotations

import re
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from appliance.documents.model import Section
from appliance.documents.outline import SectionCollector, single_line

_HEADING_STYLE = re.compile(r"^heading\s*(\d)", re.IGNORECASE)
_TITLE_LEVEL = 0  # a "Title" paragraph sits above "Heading 1"
CELL_SEPARATOR = " | "


def docx_sections(path: Path) -> list[Section]:
    document = docx.Document(str(path))
    collector = SectionCollector()
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            level = _heading_level(block)
            if level is None:
                collector.text(block.text + "\n\n")
            else:
                collector.heading(level, block.text)
        elif isinstance(block, Table):
            collector.text(_table_text(block) + "\n\n")
    return collector.finish()


def _heading_level(paragraph: Paragraph) -> int | None:
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return _TITLE_LEVEL
    match = _HEADING_STYLE.match(name)
    return int(match.group(1)) if match else None


def _table_text(table: Table) -> str:
    rows = []
    for row in table.rows:
        cells = []
        seen = set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; keep it once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = single_line(cell.text)
            if text:
                cells.append(text)
        if cells:
            rows.append(CELL_SEPARATOR.join(cells))
    return "\n".join(rows)
