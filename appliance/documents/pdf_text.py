"""Per-page text from PDFs with pypdfium2.

pdfium's own text (get_text_range) drops the gap between table cells that sit
close together ("config::ifupdown" + "standardized" came out as one word in the
Debian Reference). So the text is rebuilt from the characters, adding a space
wherever the glyph geometry shows a jump that pdfium did not mark.
"""

from __future__ import annotations

import ctypes
import math
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from appliance.documents.model import UnreadableDocument

# pdfium reports a line-end hyphen it joined across lines as one of these.
_HYPHENATION_MARKS = frozenset({"\x02", "\ufffe", "\xad"})
_WORD_GAP_EM = 0.25  # wider than kerning, narrower than a word space in any common font
_BASELINE_JUMP_EM = 0.4
_DEFAULT_FONT_SIZE = 10.0
# A dense page of 6-point text holds about 15,000 characters. A "page" of millions is a crafted
# glyph run (a few KB of compressed operators): reading it char by char would take minutes.
MAX_PAGE_CHARS = 200_000


# A page with less text than this and a picture on it is a scan (perhaps with a stamped page
# number or a scanner's header line): it is read by OCR.
SCAN_TEXT_CHARS = 16
MAX_RENDER_PIXELS = 100_000_000  # a page is rendered smaller than ocr.dpi past this (A0 at 300)


@contextmanager
def open_pdf(path: Path) -> Iterator[pdfium.PdfDocument]:
    document = pdfium.PdfDocument(path)
    try:
        yield document
    finally:
        document.close()


def is_scanned(document: pdfium.PdfDocument, index: int, text: str) -> bool:
    """The page holds (almost) no text but shows a picture: a scan, to be read by OCR."""
    if len("".join(text.split())) >= SCAN_TEXT_CHARS:
        return False
    page = document[index]
    try:
        pictures = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2)
        return next(pictures, None) is not None
    finally:
        page.close()


def render_page(document: pdfium.PdfDocument, index: int, dpi: int) -> Image.Image:
    """A greyscale picture of the page at `dpi` (less for a page too large for that)."""
    page = document[index]
    try:
        width, height = page.get_size()  # in points, 72 to the inch
        scale = dpi / 72
        pixels = width * scale * height * scale
        if pixels > MAX_RENDER_PIXELS:
            scale *= (MAX_RENDER_PIXELS / pixels) ** 0.5
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            return bitmap.to_pil().copy()
        finally:
            bitmap.close()
    finally:
        page.close()


@dataclass(frozen=True)
class OutlineEntry:
    """A heading of the PDF's outline (its bookmarks): where it starts, and its path."""

    path: str  # "6 Add-on packages > Installing packages", its ancestors first
    page: int  # 0-based page index
    top: float | None  # its height on the page (PDF points, from the bottom); None: the top


def outline(document: pdfium.PdfDocument) -> list[OutlineEntry]:
    """The outline's headings in page order, each with its path; [] when the PDF has none or
    it cannot be read (a broken outline never stops the text from being read)."""
    entries: list[OutlineEntry] = []
    path: list[str] = []
    try:
        for bookmark in document.get_toc(max_depth=8):
            title = " ".join((bookmark.get_title() or "").split())
            destination = bookmark.get_dest()
            index = destination.get_index() if destination is not None else None
            if not title or index is None or not 0 <= index < len(document):
                continue
            path = [*path[: bookmark.level], title]
            mode, view = destination.get_view()
            top = view[1] if mode == pdfium_c.PDFDEST_VIEW_XYZ and len(view) > 1 else None
            entries.append(OutlineEntry(" > ".join(path), index, top or None))
    except Exception:  # pdfium on a malformed outline: read the pages without it
        return []
    return sorted(entries, key=lambda e: (e.page, -(e.top or math.inf)))


def page_text(document: pdfium.PdfDocument, index: int, cuts: Sequence[float] = ()) -> list[str]:
    """The page's text, cut where its characters first go below each height in `cuts`
    (descending, PDF points from the bottom): len(cuts) + 1 parts, the first above them all."""
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            count = textpage.count_chars()
            if count > MAX_PAGE_CHARS:
                raise UnreadableDocument(
                    f"page {index + 1} holds {count:,} characters, far more than any real page "
                    f"({MAX_PAGE_CHARS:,}); the PDF looks crafted and was not indexed"
                )
            return _spaced_text(textpage, cuts)
        finally:
            textpage.close()
    finally:
        page.close()


def _spaced_text(textpage: pdfium.PdfTextPage, cuts: Sequence[float] = ()) -> list[str]:
    box = pdfium_c.FS_RECTF()
    origin_x, origin_y = ctypes.c_double(), ctypes.c_double()
    parts: list[str] = []
    pieces: list[str] = []
    previous: tuple[float, float, float, float] | None = None  # left, right, baseline, size
    for index in range(textpage.count_chars()):
        char = _char_at(textpage, index)
        if not char:
            continue
        if char in _HYPHENATION_MARKS:
            previous = None  # pdfium already joined the word halves; keep them joined
            continue
        if char in "\r\n":
            # pdfium ends lines with "\r\n"; one "\n" keeps lines apart without faking paragraphs.
            if char == "\n":
                pieces.append("\n")
            previous = None
            continue
        if char.isspace():
            pieces.append(" ")
            continue
        if not pdfium_c.FPDFText_GetLooseCharBox(textpage, index, box):
            previous = None
            pieces.append(char)
            continue
        pdfium_c.FPDFText_GetCharOrigin(textpage, index, origin_x, origin_y)
        while len(parts) < len(cuts) and origin_y.value < cuts[len(parts)]:
            parts.append("".join(pieces))  # a heading of the outline starts here
            pieces, previous = [], None
        size = pdfium_c.FPDFText_GetFontSize(textpage, index) or _DEFAULT_FONT_SIZE
        upright = abs(pdfium_c.FPDFText_GetCharAngle(textpage, index)) < 0.01
        if upright and previous is not None and pieces and pieces[-1] != " ":
            if _is_unmarked_gap(previous, box.left, box.right, origin_y.value, size):
                pieces.append(" ")
        pieces.append(char)
        previous = (box.left, box.right, origin_y.value, size) if upright else None
    parts.append("".join(pieces))
    return parts + [""] * (len(cuts) + 1 - len(parts))


def _char_at(textpage: pdfium.PdfTextPage, index: int) -> str:
    code = pdfium_c.FPDFText_GetUnicode(textpage, index)
    if not code or 0xD800 <= code <= 0xDFFF:
        return ""  # surrogate halves cannot be stored in a str that must encode
    char = chr(code)
    if char not in _HYPHENATION_MARKS and unicodedata.category(char) == "Cc" and not char.isspace():
        return ""
    return char


def _is_unmarked_gap(
    previous: tuple[float, float, float, float],
    left: float,
    right_edge: float,
    baseline: float,
    size: float,
) -> bool:
    previous_left, right, previous_baseline, previous_size = previous
    if (left, right_edge) == (previous_left, right):
        return False  # the letters of one ligature glyph ("fi" of "configure") share its box
    em = max(size, previous_size)
    jumped_right = left - right > _WORD_GAP_EM * em
    # Going backwards or changing baseline means a new cell or wrapped line pdfium kept on one line.
    went_back = left < right - _WORD_GAP_EM * em
    changed_line = abs(baseline - previous_baseline) > _BASELINE_JUMP_EM * em
    return jumped_right or went_back or changed_line
