"""A cheap first look at DOCX/XLSX/PPTX files, for error messages an operator can act on.

These formats are ZIP packages. An encrypted (password-protected) one is an OLE
compound file instead, and so is an old .doc/.xls/.ppt renamed to the new suffix;
the libraries report both as a bare "not a zip file", which explains nothing.
"""

from __future__ import annotations

import copy
import zipfile
import zlib
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
_BLOCK = 1 << 20


def _refuse_bombs(path: Path, format_name: str) -> None:
    """A package that unpacks to far more than its size is a zip bomb, not a document:
    parsing one would take gigabytes and hours and stall the indexer for every other file.
    The sizes its headers declare are checked first, then the bytes that really come out
    (headers can lie: zipfile would then inflate a member in one piece, gigabytes at once,
    before noticing)."""
    size = path.stat().st_size
    with zipfile.ZipFile(path) as package:
        members = package.infolist()
        declared = sum(info.file_size for info in members)
        _check_unpacked(path, format_name, declared, size)
        real = 0
        for info in members:
            real += _unpacked_size(package, info, path, format_name, MAX_UNPACKED - real)
            _check_unpacked(path, format_name, real, size)


def _unpacked_size(package, info, path: Path, format_name: str, room: int) -> int:
    """The bytes a member really inflates to, read a block at a time, never more than `room`
    (+1); a member whose data does not match its header is refused."""
    trusting_nothing = copy.copy(info)
    trusting_nothing.file_size = room + 1  # read past the declared size, up to the room left
    count = 0
    try:
        with package.open(trusting_nothing) as member:
            while count <= room and (block := member.read(_BLOCK)):
                count += len(block)
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError, NotImplementedError):
        pass  # checked below: a damaged member the library will report on its own
    if count <= room and count != info.file_size:
        raise UnreadableDocument(
            f"{path.name} could not be read as {format_name}: its zip headers say "
            f"{info.filename} is {info.file_size:,} bytes, but it unpacks to {count:,}; "
            "the package is damaged or crafted and was not opened."
        )
    return count


def _check_unpacked(path: Path, format_name: str, unpacked: int, size: int) -> None:
    if unpacked > MAX_UNPACKED or (unpacked > 10 * 1024 * 1024 and unpacked / size > MAX_RATIO):
        raise UnreadableDocument(
            f"{path.name} could not be read as {format_name}: it unpacks to "
            f"{unpacked / 2**20:.0f} MB or more from {size / 2**20:.1f} MB, which looks like a "
            "zip bomb; it was not opened."
        )
