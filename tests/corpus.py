"""Builders for tiny but real documents, so tests exercise the actual parsers.

The PDF writer is hand-rolled (no extra dependency): one Helvetica font, one
content stream per page, and a correct cross-reference table.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import docx
import openpyxl
import pptx

_PDF_LINE_CHARS = 90
_PDF_PAGE_SIZE = (612, 792)  # US Letter in points
_PDF_LEFT, _PDF_TOP, _PDF_LEADING, _PDF_FONT_SIZE = 50, 740, 14, 11


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_pdf(
    path: Path, pages: list[str], outline: list[tuple[int, str, int, int | None]] = ()
) -> Path:
    """Write a PDF with one page per string; long text is wrapped, "\\n" starts a new line.
    `outline`: bookmarks as (level, title, page index, line on the page or None for the
    page's top), in order; a level-1 entry is a child of the level-0 entry before it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_pdf_bytes([_content_stream(text) for text in pages], outline=outline))
    return path


def make_pdf_from_content(path: Path, content_streams: list[bytes]) -> Path:
    """Write a PDF whose pages carry the given raw content streams (font /F1 is Helvetica).

    For tests that need exact glyph placement, e.g. table cells a text extractor might glue.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_pdf_bytes(content_streams))
    return path


def make_password_protected_pdf(path: Path) -> Path:
    """Write a PDF that claims a user password, so no reader can open it without one.

    The content is not really encrypted: the password check fails before any
    content is decrypted, which is all a reader test needs.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    encrypt = (
        f"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 /O <{'11' * 32}> /U <{'22' * 32}> >>"
    )
    path.write_bytes(_pdf_bytes([_content_stream("secret")], encrypt=encrypt))
    return path


def make_docx(path: Path, blocks: list[tuple[str, str]]) -> Path:
    """Write a DOCX from ("h1" | "h2" | "p", text) blocks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = docx.Document()
    for kind, text in blocks:
        if kind == "p":
            document.add_paragraph(text)
        elif kind in ("h1", "h2"):
            document.add_heading(text, level=int(kind[1]))
        else:
            raise ValueError(f"unknown block kind {kind!r}; use 'h1', 'h2' or 'p'")
    document.save(str(path))
    return path


DOCX_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w='
    b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)
DOCX_TAIL = b"</w:body></w:document>"


def docx_with_body(path: Path, write_body: Callable[[IO[bytes]], None], level: int = 6) -> Path:
    """A real DOCX package (python-docx's own parts) whose word/document.xml is
    DOCX_HEAD + what `write_body` writes + DOCX_TAIL, streamed: it may be hundreds of MB."""
    parts = io.BytesIO()
    docx.Document().save(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        zipfile.ZipFile(parts) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as dst,
    ):
        for item in src.infolist():
            if item.filename != "word/document.xml":
                dst.writestr(item, src.read(item.filename))
                continue
            with dst.open("word/document.xml", "w", force_zip64=True) as xml:
                xml.write(DOCX_HEAD)
                write_body(xml)
                xml.write(DOCX_TAIL)
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """Write an XLSX with one sheet per entry, rows written from A1 down (None = empty cell)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def make_pptx(
    path: Path, slides: list[tuple[str, str]], notes: dict[int, str] | None = None
) -> Path:
    """Write a PPTX of "Title and Content" slides from (title, body) pairs.

    An empty title leaves the title placeholder empty; notes maps a 1-based slide
    number to its speaker notes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    presentation = pptx.Presentation()
    layout = presentation.slide_layouts[1]  # "Title and Content"
    for number, (title, body) in enumerate(slides, start=1):
        slide = presentation.slides.add_slide(layout)
        if title:
            slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes and number in notes:
            slide.notes_slide.notes_text_frame.text = notes[number]
    presentation.save(str(path))
    return path


def _pdf_bytes(
    content_streams: list[bytes],
    encrypt: str | None = None,
    outline: list[tuple[int, str, int, int | None]] = (),
) -> bytes:
    # Objects 1-3 are fixed; each page then takes two: the page and its content stream.
    page_ids = [4 + 2 * n for n in range(len(content_streams))]
    width, height = _PDF_PAGE_SIZE
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{i} 0 R' for i in page_ids)}] "
        f"/Count {len(content_streams)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for page_id, stream in zip(page_ids, content_streams, strict=True):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    if outline:
        objects[0] = f"<< /Type /Catalog /Pages 2 0 R /Outlines {len(objects) + 1} 0 R >>".encode()
        objects += _outline_objects(outline, len(objects) + 1, page_ids)
    if encrypt is not None:
        objects.append(encrypt.encode())

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    trailer = f"/Size {len(objects) + 1} /Root 1 0 R"
    if encrypt is not None:
        trailer += f" /Encrypt {len(objects)} 0 R /ID [<{'ab' * 16}> <{'ab' * 16}>]"
    out += f"trailer\n<< {trailer} >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


def _outline_objects(
    entries: list[tuple[int, str, int, int | None]], root: int, page_ids: list[int]
) -> list[bytes]:
    """The /Outlines dictionary (object `root`) and one object per entry after it."""
    ids = [root + 1 + n for n in range(len(entries))]
    parents, chapter = [], root
    for item, (level, *_rest) in zip(ids, entries, strict=True):
        parents.append(root if level == 0 else chapter)
        chapter = item if level == 0 else chapter
    children: dict[int, list[int]] = {}
    for item, parent in zip(ids, parents, strict=True):
        children.setdefault(parent, []).append(item)

    def links(item: int) -> str:
        kids = children.get(item, [])
        return f"/First {kids[0]} 0 R /Last {kids[-1]} 0 R /Count {len(kids)}" if kids else ""

    objects = [f"<< /Type /Outlines {links(root)} >>".encode()]
    for item, parent, (_level, title, page, line) in zip(ids, parents, entries, strict=True):
        siblings = children[parent]
        at = siblings.index(item)
        near = (f"/Prev {siblings[at - 1]} 0 R " if at else "") + (
            f"/Next {siblings[at + 1]} 0 R " if at + 1 < len(siblings) else ""
        )
        top = "null" if line is None else _PDF_TOP - line * _PDF_LEADING + _PDF_FONT_SIZE
        objects.append(
            f"<< /Title ({_pdf_string(title)}) /Parent {parent} 0 R {near}{links(item)} "
            f"/Dest [{page_ids[page]} 0 R /XYZ 0 {top} 0] >>".encode()
        )
    return objects


def _content_stream(text: str) -> bytes:
    lines = []
    for paragraph in text.split("\n"):
        lines.extend(textwrap.wrap(paragraph, _PDF_LINE_CHARS) or [""])
    ops = [
        "BT",
        f"/F1 {_PDF_FONT_SIZE} Tf",
        f"{_PDF_LEADING} TL",
        f"{_PDF_LEFT} {_PDF_TOP} Td",
    ]
    for line in lines:
        ops.append(f"({_pdf_string(line)}) Tj T*")
    ops.append("ET")
    # WinAnsi covers Latin-1; anything outside it becomes "?" rather than failing the test setup.
    return "\n".join(ops).encode("cp1252", errors="replace")


def _pdf_string(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
