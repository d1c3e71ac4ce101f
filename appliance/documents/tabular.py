"""Rows of a table (CSV file, spreadsheet sheet) to Sections of "column: value" lines.

Repeating the column name on every row keeps each row understandable on its own
once the chunker has cut the table apart, which a bare "a, b, c" row is not.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from appliance.documents.model import Section
from appliance.documents.outline import HEADING_SEPARATOR, single_line

ROWS_PER_SECTION = 50
FIELD_SEPARATOR = "; "
_LARGEST_EXACT_FLOAT = 2**53
# A line of a table as the readers write it: cells joined by " | " or tabs (Word,
# PowerPoint, HTML, Markdown), or a sheet's "name: value; name: value" (row_line).
_CELLS = re.compile(r"\s\|\s|\t")
_FIELDS = re.compile(r"^[^:;]{1,60}: [^;]*(?:; [^:;]{1,60}: [^;]*)+$")


def is_table_row(line: str) -> bool:
    """Whether a line of text is a row of a table: quoted whole, and never cut apart."""
    return bool(_CELLS.search(line) or _FIELDS.match(line.strip()))


def table_sections(rows: Iterable[tuple[int, Sequence[object]]], title: str) -> list[Section]:
    """Turn numbered rows into Sections of up to ROWS_PER_SECTION non-empty rows.

    The first non-empty row names the columns. Row numbers are the caller's (a
    spreadsheet's own, or a CSV record's counting the header as row 1), so a
    heading like "people > rows 2–51" points at the rows a person would look up.
    Rows are consumed one at a time, so a huge table is never held twice.
    """
    columns: list[str] | None = None
    lines: list[str] = []
    first = last = 0
    sections: list[Section] = []
    for number, values in rows:
        cells = [cell_text(value) for value in values]
        if not any(cells):
            continue
        if columns is None:
            columns = column_names(cells)
            continue
        line = row_line(columns, cells)
        if not lines:
            first = number
        lines.append(line)
        last = number
        if len(lines) == ROWS_PER_SECTION:
            sections.append(_section(lines, title, first, last))
            lines = []
    if lines:
        sections.append(_section(lines, title, first, last))
    return sections


def column_names(header: Sequence[str]) -> list[str]:
    return [name or _unnamed(position) for position, name in enumerate(header)]


def row_line(columns: Sequence[str], cells: Sequence[str]) -> str:
    """ "name: value; name: value" for the non-empty cells of one row."""
    fields = []
    for position, value in enumerate(cells):
        if value:
            name = columns[position] if position < len(columns) else _unnamed(position)
            fields.append(f"{name}: {value}")
    return FIELD_SEPARATOR.join(fields)


def cell_text(value: object) -> str:
    """One line of text for a cell value, written the way a spreadsheet shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < _LARGEST_EXACT_FLOAT:
        return str(int(value))  # 25.0 is "25" in the sheet
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return single_line(str(value))


def _unnamed(position: int) -> str:
    return f"column {position + 1}"


def _section(lines: list[str], title: str, first: int, last: int) -> Section:
    span = f"row {first}" if first == last else f"rows {first}–{last}"
    heading = HEADING_SEPARATOR.join(part for part in (title, span) if part)
    return Section(text="\n".join(lines), page=None, heading=heading)
