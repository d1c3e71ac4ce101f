"""One reader per file format, chosen by suffix.

Every reader returns the document's non-empty Sections; a document with no text
at all yields [] and the caller decides how to report it.
"""

from __future__ import annotations

import re
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from appliance.documents.csv_text import csv_sections
from appliance.documents.docx_text import docx_sections
from appliance.documents.html_text import html_sections
from appliance.documents.json_text import json_lines_sections, json_sections
from appliance.documents.markdown_text import markdown_sections
from appliance.documents.model import DocumentError, Section, UnreadableDocument, UnsupportedFormat
from appliance.documents.ocr import OcrJob
from appliance.documents.office_package import check_office_package
from appliance.documents.outline import tidy_text
from appliance.documents.pdf_text import is_scanned, open_pdf, outline, page_text, render_page
from appliance.documents.pptx_text import pptx_sections
from appliance.documents.scans import image_sections, ocr_pages
from appliance.documents.text_decoding import check_not_binary, read_text
from appliance.documents.text_decoding import decode_text as decode_text  # kept importable here
from appliance.documents.xlsx_text import xlsx_sections


def read_txt(path: Path) -> list[Section]:
    return _non_empty([Section(text=tidy_text(read_text(path)), page=None, heading="")])


def read_markdown(path: Path) -> list[Section]:
    return _non_empty(markdown_sections(read_text(path)))


def read_html(path: Path) -> list[Section]:
    data = path.read_bytes()
    check_not_binary(path, data)
    return _non_empty(html_sections(data))


def read_pdf(path: Path, ocr: OcrJob | None = None) -> list[Section]:
    """Every page's text layer; with `ocr`, the pages that are scans are read by OCR.
    Where the PDF has an outline (bookmarks), each part of a page is under the heading path
    it belongs to, as in HTML: a page where "Installing packages" starts halfway is two
    sections, and the passages know which section they are from."""
    with open_pdf(path) as document:
        sections = list(_outlined_pages(document))
        texts = {s.page: "" for s in sections}
        for s in sections:
            texts[s.page] += s.text
        sections = _without_running_lines(sections)
        if ocr is not None:
            scanned = [i for i in range(len(document)) if is_scanned(document, i, texts[i + 1])]
            pictures = [
                (i + 1, lambda i=i: render_page(document, i, ocr.options.dpi)) for i in scanned
            ]
            read_by_ocr = {number for number, _ in pictures}
            sections = [s for s in sections if s.page not in read_by_ocr]
            sections += ocr_pages(ocr, pictures)
    return _non_empty(sorted(sections, key=lambda s: s.page))


def read_image(path: Path, ocr: OcrJob | None = None) -> list[Section]:
    return _non_empty(image_sections(path, ocr))


def read_docx(path: Path) -> list[Section]:
    check_office_package(path, _FORMAT_NAMES[".docx"])
    return _non_empty(docx_sections(path))


def read_csv(path: Path) -> list[Section]:
    return _non_empty(csv_sections(path))


def read_json(path: Path) -> list[Section]:
    return _non_empty(json_sections(path))


def read_json_lines(path: Path) -> list[Section]:
    return _non_empty(json_lines_sections(path))


def read_xlsx(path: Path) -> list[Section]:
    check_office_package(path, _FORMAT_NAMES[".xlsx"])
    return _non_empty(xlsx_sections(path))


def read_pptx(path: Path) -> list[Section]:
    check_office_package(path, _FORMAT_NAMES[".pptx"])
    return _non_empty(pptx_sections(path))


READERS: dict[str, Callable[[Path], list[Section]]] = {
    ".txt": read_txt,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".csv": read_csv,
    ".json": read_json,
    ".jsonl": read_json_lines,
    ".ndjson": read_json_lines,
    ".xlsx": read_xlsx,
    ".pptx": read_pptx,
    ".png": read_image,
    ".jpg": read_image,
    ".jpeg": read_image,
    ".tif": read_image,
    ".tiff": read_image,
    ".bmp": read_image,
}

# Formats whose pages may be pictures, read by OCR: their readers take the OcrJob.
SCANNED_SUFFIXES = frozenset(s for s, r in READERS.items() if r in (read_pdf, read_image))

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(READERS)

_FORMAT_NAMES = {
    ".txt": "text",
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".html": "HTML",
    ".htm": "HTML",
    ".pdf": "PDF",
    ".docx": "DOCX",
    ".csv": "CSV",
    ".json": "JSON",
    ".jsonl": "JSON Lines",
    ".ndjson": "JSON Lines",
    ".xlsx": "XLSX",
    ".pptx": "PPTX",
    ".png": "PNG image",
    ".jpg": "JPEG image",
    ".jpeg": "JPEG image",
    ".tif": "TIFF image",
    ".tiff": "TIFF image",
    ".bmp": "BMP image",
}


def read_document(path: Path, ocr: OcrJob | None = None) -> list[Section]:
    """Read a supported file into Sections; with `ocr`, scanned pages and pictures are read
    by OCR as the job says (without, a picture is an error and a scanned page has no text).

    Raises UnsupportedFormat for suffixes without a reader and UnreadableDocument
    when the file cannot be opened or parsed (corrupt, encrypted, unreadable).
    An empty (zero-byte) file of any supported format gives [], like one without text.
    """
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFormat(
            f"{path.name} was skipped because {suffix or 'files without a suffix'} "
            f"is not a supported format (supported: {supported})."
        )
    if _is_empty_file(path):
        return []
    try:
        return reader(path, ocr) if suffix in SCANNED_SUFFIXES else reader(path)
    except (DocumentError, MemoryError):  # out of memory is not a fault of the file
        raise
    except Exception as error:
        # An OSError with an errno is the file system (the file went away or changed
        # permissions mid-read); some libraries raise errno-less OSErrors for bad content.
        if isinstance(error, OSError) and error.errno is not None:
            raise UnreadableDocument(
                f"{path.name} could not be opened: {_reason(error)}"
            ) from error
        # Each library has its own error types; all of them mean "unreadable".
        raise UnreadableDocument(
            f"{path.name} could not be read as {_FORMAT_NAMES[suffix]}: {_reason(error)}"
        ) from error


def _is_empty_file(path: Path) -> bool:
    """Check that path is a regular file we may open; True when it holds no bytes.

    Opening it here, before any library does, gives one plain message for a missing
    file, a symlink loop, a folder or a permission problem; libraries word those
    differently or (pdfium) not at all. Pipes and devices are refused because
    reading one could block forever or never end.
    """
    try:
        info = path.stat()
        # A folder is left to open() below, which names the problem itself.
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            raise UnreadableDocument(
                f"{path.name} could not be opened: it is not a regular file "
                "(a pipe, socket or device); only ordinary files can be indexed."
            )
        with path.open("rb"):
            pass
    except OSError as error:
        raise UnreadableDocument(f"{path.name} could not be opened: {_reason(error)}") from error
    return info.st_size == 0


# What PDFium's errors ("Failed to load document (PDFium: Data format error)") mean to the
# person who dropped the file, and what they can do.
_PDFIUM_REASONS = {
    "Data format error": (
        "it is damaged (cut short, or changed by a tool) or not a PDF at all; export or "
        "download it again"
    ),
    "Incorrect password error": (
        "it is password-protected; put a copy saved without the password in its place"
    ),
    "Unsupported security scheme": (
        "it is encrypted in a way that cannot be read; put a copy saved without encryption "
        "in its place"
    ),
    "Page not found or content error": "a page of it is damaged; export it again",
}


def _reason(error: Exception) -> str:
    message = str(error).strip()
    if isinstance(error, OSError) and error.strerror:
        message = error.strerror
    for said, meaning in _PDFIUM_REASONS.items():
        if f"PDFium: {said}" in message:
            return f"{meaning} (PDFium: {said.lower()})"
    return message or type(error).__name__


def _outlined_pages(document) -> Iterator[Section]:
    """Each page's text, in parts under the outline's headings, each path led by the
    document's title (its metadata's, or the first line of its first page), as HTML's are."""
    entries = outline(document)
    on_page: dict[int, list] = {}
    for e in entries:
        on_page.setdefault(e.page, []).append(e)
    heading = ""
    title = ""
    for index in range(len(document)):
        here = on_page.get(index, [])
        for e in here:
            if e.top is None:
                heading = e.path  # starts at the top of the page
        placed = [e for e in here if e.top is not None]
        parts = page_text(document, index, [e.top for e in placed])
        if entries and index == 0:
            title = _pdf_title(document, parts)
        headings = [heading] + [e.path for e in placed]
        for text, path in zip(parts, headings, strict=True):
            full = " > ".join(filter(None, [title, path])) if path else ""
            yield Section(text=tidy_text(text), page=index + 1, heading=full)
        heading = headings[-1]


RUNNING_LINE_PAGES = 3  # a page's first or last line that this many pages share: a running head


def _without_running_lines(sections: list[Section]) -> list[Section]:
    """The sections without the running heads and feet of their pages: a page's first or last
    line that RUNNING_LINE_PAGES pages or more begin or end with, numbers aside ("Chapter 6:
    Add-on packages 26", a lone page number). They say nothing a passage needs, and would
    stand first in quotes and in the passage's words."""
    pages: dict[int, list[int]] = {}  # page → positions of its sections with text
    for position, s in enumerate(sections):
        if s.text.strip():
            pages.setdefault(s.page, []).append(position)
    ends = [(positions[0], positions[-1]) for positions in pages.values()]

    def edge(position: int, at: int) -> str:
        return _masked(sections[position].text.strip().split("\n")[at])

    shared = Counter(line for first, last in ends for line in {edge(first, 0), edge(last, -1)})
    running = {line for line, pages in shared.items() if line and pages >= RUNNING_LINE_PAGES}
    if not running:
        return sections
    out = list(sections)
    for first, last in ends:
        for position, at in ((first, 0), (last, -1)):
            lines = out[position].text.strip().split("\n")
            if _masked(lines[at]) in running:
                del lines[at]
                out[position] = replace(out[position], text="\n".join(lines))
    return out


def _masked(line: str) -> str:
    """The line with its numbers (page numbers, chapter numbers) as #, spaces as one."""
    return " ".join(re.sub(r"\d+|\b[ivxlc]+\b", "#", line).split())


def _pdf_title(document, first_page: list[str]) -> str:
    """The title in the PDF's metadata, else the first line of its first page."""
    title = (document.get_metadata_value("Title") or "").strip()
    if not title:
        lines = "".join(first_page).strip().splitlines()
        title = lines[0].strip() if lines else ""
    return " ".join(title.split())[:200]


def _non_empty(sections: list[Section]) -> list[Section]:
    return [section for section in sections if section.text.strip()]
