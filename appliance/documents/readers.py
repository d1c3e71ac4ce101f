"""One reader per file format, chosen by suffix.

Every reader returns the document's non-empty Sections; a document with no text
at all yields [] and the caller decides how to report it.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

from appliance.documents.docx_text import docx_sections
from appliance.documents.html_text import html_sections
from appliance.documents.markdown_text import markdown_sections
from appliance.documents.model import DocumentError, Section, UnreadableDocument, UnsupportedFormat
from appliance.documents.outline import tidy_text
from appliance.documents.pdf_text import pdf_page_texts

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_text(data: bytes) -> str:
    """Decode plain text, preferring UTF-8 but never failing on legacy encodings."""
    if data.startswith(codecs.BOM_UTF8):
        return data.decode("utf-8-sig", errors="replace")
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    # latin-1 maps every byte, so this is the last resort that always succeeds.
    return data.decode("latin-1")


def read_txt(path: Path) -> list[Section]:
    return _non_empty(
        [Section(text=tidy_text(decode_text(path.read_bytes())), page=None, heading="")]
    )


def read_markdown(path: Path) -> list[Section]:
    return _non_empty(markdown_sections(decode_text(path.read_bytes())))


def read_html(path: Path) -> list[Section]:
    return _non_empty(html_sections(path.read_bytes()))


def read_pdf(path: Path) -> list[Section]:
    sections = [
        Section(text=tidy_text(text), page=number, heading="")
        for number, text in enumerate(pdf_page_texts(path), start=1)
    ]
    return _non_empty(sections)


def read_docx(path: Path) -> list[Section]:
    return _non_empty(docx_sections(path))


READERS: dict[str, Callable[[Path], list[Section]]] = {
    ".txt": read_txt,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(READERS)

_FORMAT_NAMES = {
    ".txt": "text",
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".html": "HTML",
    ".htm": "HTML",
    ".pdf": "PDF",
    ".docx": "DOCX",
}


def read_document(path: Path) -> list[Section]:
    """Read a supported file into Sections.

    Raises UnsupportedFormat for suffixes without a reader and UnreadableDocument
    when the file cannot be opened or parsed (corrupt, encrypted, unreadable).
    """
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFormat(
            f"{path.name} was skipped because {suffix or 'files without a suffix'} "
            f"is not a supported format (supported: {supported})."
        )
    try:
        return reader(path)
    except DocumentError:
        raise
    except Exception as error:  # each library has its own error types; all mean "unreadable"
        raise UnreadableDocument(
            f"{path.name} could not be read as {_FORMAT_NAMES[suffix]}: {_reason(error)}"
        ) from error


def _reason(error: Exception) -> str:
    message = str(error).strip()
    if isinstance(error, OSError) and error.strerror:
        message = error.strerror
    return message or type(error).__name__


def _non_empty(sections: list[Section]) -> list[Section]:
    return [section for section in sections if section.text.strip()]
