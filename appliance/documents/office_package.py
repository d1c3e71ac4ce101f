"""A cheap first look at DOCX/XLSX/PPTX files, for error messages an operator can act on.

These formats are ZIP packages. An encrypted (password-protected) one is an OLE
compound file instead, and so is an old .doc/.xls/.ppt renamed to the new suffix;
the libraries report both as a bare "not a zip file", which explains nothing.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from appliance.documents.model import UnreadableDocument

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_office_package(path: Path, format_name: str) -> None:
    """Raise UnreadableDocument unless path at least looks like an Office ZIP package."""
    with path.open("rb") as file:
        start = file.read(len(_OLE_MAGIC))
    suffix = path.suffix.lower()
    if start == _OLE_MAGIC:
        raise UnreadableDocument(
            f"{path.name} could not be read as {format_name}: it is password-protected, or it "
            f"is an old binary Office file renamed to {suffix}; save an unprotected copy in "
            f"the {suffix} format."
        )
    if not zipfile.is_zipfile(path):
        raise UnreadableDocument(
            f"{path.name} could not be read as {format_name}: it is not a valid {suffix} "
            "package (damaged, only partly copied, or another kind of file); "
            "replace it with a good copy."
        )
    _refuse_bombs(path, format_name)


MAX_UNPACKED = 256 * 1024 * 1024
MAX_RATIO = 100


def _refuse_bombs(path: Path, format_name: str) -> None:
    """A package that unpacks to far more than its size is a zip bomb, not a document:
    parsing one would take gigabytes and hours and stall the indexer for every other file."""
    with zipfile.ZipFile(path) as package:
        unpacked = sum(info.file_size for info in package.infolist())
        packed = sum(info.compress_size for info in package.infolist()) or 1
    if unpacked > MAX_UNPACKED or (unpacked > 10 * 1024 * 1024 and unpacked / packed > MAX_RATIO):
        raise UnreadableDocument(
            f"{path.name} could not be read as {format_name}: it unpacks to "
            f"{unpacked / 2**20:.0f} MB from {path.stat().st_size / 2**20:.1f} MB, which "
            "looks like a zip bomb; it was not opened."
        )
