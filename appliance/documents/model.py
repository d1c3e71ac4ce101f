"""Plain data passed between document readers, the chunker and the index."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """A run of text that shares one page and one heading path."""

    text: str
    # 1-based physical page index for PDFs (as `pdftotext -f N` counts), else None.
    page: int | None
    # Heading path like "Leave policy > Annual leave"; "" when the text has no heading.
    heading: str
    # Read by OCR from a picture of the page (a scan): its text may hold misread characters.
    ocr: bool = False


@dataclass(frozen=True)
class Chunk:
    """A retrieval unit: a window of words from one section of one document."""

    text: str
    # Path relative to the knowledge-base folder with forward slashes, as given by the caller.
    source: str
    page: int | None
    heading: str
    # 0-based position of the chunk within its document.
    index: int
    ocr: bool = False


class DocumentError(Exception):
    """Base for document problems; str(error) is a sentence an operator can act on."""


class UnsupportedFormat(DocumentError):
    """The file's suffix is not one the appliance knows how to read."""


class UnreadableDocument(DocumentError):
    """The file is corrupt, encrypted or not decodable; the message names the reason."""
