"""PPTX to Sections with python-pptx: one Section per slide, page = slide number."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.shapes.base import BaseShape
from pptx.slide import Slide

from appliance.documents.docx_text import CELL_SEPARATOR
from appliance.documents.model import Section
from appliance.documents.outline import single_line, tidy_text


def pptx_sections(path: Path) -> list[Section]:
    presentation = pptx.Presentation(str(path))
    sections = []
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        title = _title(title_shape)
        # Shapes are fresh proxy objects on every access, so compare ids, not identity.
        title_id = title_shape.shape_id if title_shape is not None else None
        blocks = [
            text
            for shape in slide.shapes
            if shape.shape_id != title_id
            for text in _shape_texts(shape)
        ]
        blocks.extend(_notes(slide))
        # A section-divider slide has only its title, which is then its text too.
        text = tidy_text("\n\n".join(blocks)) or title
        if text:
            sections.append(Section(text=text, page=number, heading=title))
    return sections


def _title(shape: BaseShape | None) -> str:
    if shape is None or not shape.has_text_frame:
        return ""
    return single_line(shape.text_frame.text)


def _shape_texts(shape: BaseShape) -> Iterator[str]:
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for member in shape.shapes:
            yield from _shape_texts(member)
    elif shape.has_table:
        yield _table_text(shape.table)
    elif shape.has_text_frame:
        yield _frame_text(shape.text_frame)


def _table_text(table) -> str:
    rows = []
    for row in table.rows:
        # A merged cell's spanned neighbours are empty placeholders; skip them.
        cells = [single_line(cell.text) for cell in row.cells if not cell.is_spanned]
        cells = [cell for cell in cells if cell]
        if cells:
            rows.append(CELL_SEPARATOR.join(cells))
    return "\n".join(rows)


def _frame_text(frame) -> str:
    # python-pptx writes a soft line break (Shift+Enter) as a vertical tab.
    return frame.text.replace("\v", "\n")


def _notes(slide: Slide) -> Iterator[str]:
    if slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        if frame is not None:
            yield _frame_text(frame)
