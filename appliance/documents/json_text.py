"""JSON and JSON Lines to Sections of "path.to.key: value" lines.

Each line carries its full path, so a value stays findable and understandable
after chunking; strings are kept whole because splitting them would cut sentences.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from appliance.documents.model import Section, UnreadableDocument
from appliance.documents.outline import HEADING_SEPARATOR
from appliance.documents.text_decoding import open_text, read_text

LINES_PER_SECTION = 50
RECORDS_PER_SECTION = 50


def json_sections(path: Path) -> list[Section]:
    text = read_text(path)
    if not text.strip():
        return []
    # A JSONDecodeError is left to read_document, whose message then carries the parser's.
    document = json.loads(text)
    if isinstance(document, dict):
        groups = [(str(key), list(flatten(value, str(key)))) for key, value in document.items()]
    elif isinstance(document, list):
        groups = [("", list(flatten(item, f"[{index}]"))) for index, item in enumerate(document)]
    else:
        groups = [("", list(flatten(document)))]
    return _pack(groups)


def json_lines_sections(path: Path) -> list[Section]:
    """One JSON value per line; blank lines are allowed, a broken line fails the file."""
    sections: list[Section] = []
    lines: list[str] = []
    first = last = 0
    with open_text(path) as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UnreadableDocument(
                    f"{path.name} could not be read as JSON Lines: line {number} is not valid "
                    f"JSON ({error.msg} at column {error.colno}); fix or remove that line."
                ) from error
            if not lines:
                first = number
            lines.append("\n".join(flatten(record)))
            last = number
            if len(lines) == RECORDS_PER_SECTION:
                sections.append(_lines_section(path.stem, lines, first, last))
                lines = []
    if lines:
        sections.append(_lines_section(path.stem, lines, first, last))
    return sections


def flatten(value: object, path: str = "") -> Iterator[str]:
    """Yield "path: value" for every scalar under value, in document order.

    Iterative rather than recursive, so deeply nested input cannot overflow the stack.
    """
    stack: list[tuple[str, object]] = [(path, value)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict) and value:
            children = [(_key_path(path, str(key)), child) for key, child in value.items()]
        elif isinstance(value, list) and value:
            children = [(f"{path}[{index}]", child) for index, child in enumerate(value)]
        else:
            yield f"{path}: {_scalar(value)}" if path else _scalar(value)
            continue
        stack.extend(reversed(children))


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    # JSON spellings (true, null, {}) rather than Python's (True, None).
    return json.dumps(value, ensure_ascii=False)


def _pack(groups: list[tuple[str, list[str]]]) -> list[Section]:
    """Put whole top-level entries together into Sections of about LINES_PER_SECTION lines.

    A Section holding one top-level key is headed by that key; an entry longer than
    a Section is split across several, all with its heading.
    """
    sections: list[Section] = []
    pending: list[tuple[str, list[str]]] = []
    size = 0
    for key, lines in groups:
        if pending and size + len(lines) > LINES_PER_SECTION:
            sections.append(_group_section(pending))
            pending, size = [], 0
        while len(lines) > LINES_PER_SECTION:
            sections.append(_group_section([(key, lines[:LINES_PER_SECTION])]))
            lines = lines[LINES_PER_SECTION:]
        if lines:
            pending.append((key, lines))
            size += len(lines)
    if pending:
        sections.append(_group_section(pending))
    return sections


def _group_section(groups: list[tuple[str, list[str]]]) -> Section:
    heading = groups[0][0] if len(groups) == 1 else ""
    # A blank line between entries lets the chunker prefer to end a window there.
    text = "\n\n".join("\n".join(lines) for _, lines in groups)
    return Section(text=text, page=None, heading=heading)


def _lines_section(title: str, records: list[str], first: int, last: int) -> Section:
    span = f"line {first}" if first == last else f"lines {first}–{last}"
    return Section(
        text="\n\n".join(records), page=None, heading=HEADING_SEPARATOR.join((title, span))
    )
