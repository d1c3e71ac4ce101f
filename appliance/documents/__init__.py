"""Reading knowledge-base documents into Sections and cutting them into Chunks."""

from appliance.documents.chunker import chunk_sections
from appliance.documents.model import (
    Chunk,
    DocumentError,
    Section,
    UnreadableDocument,
    UnsupportedFormat,
)
from appliance.documents.readers import READERS, SUPPORTED_SUFFIXES, read_document

__all__ = [
    "READERS",
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "DocumentError",
    "Section",
    "UnreadableDocument",
    "UnsupportedFormat",
    "chunk_sections",
    "read_document",
]
