"""Bytes to text for the plain-text formats: encoding detection and a binary-data guard.

Files in kb/ come from many machines, so the encoding is guessed in a fixed,
predictable order: a BOM wins, then strict UTF-8, then GB2312 by its byte pairs, then
the legacy Chinese and Japanese encodings (Big5, Shift-JIS, GBK) when one of them reads
like the language, then Windows-1252 (what "ANSI" means on Western Windows), then
latin-1, which maps every byte and so always succeeds.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import TextIO

from appliance.documents.model import UnreadableDocument

# UTF-32 BOMs start with the UTF-16 ones, so they must be checked first.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WIDE_ENCODINGS = frozenset({"utf-16", "utf-32"})
_FALLBACKS = ("utf-8", "cp1252")
BINARY_SAMPLE_BYTES = 8192
# Plain text has almost no C0 control characters besides these; binary data has many.
_TEXT_CONTROLS = frozenset("\t\n\r\f")
_BINARY_CONTROL_SHARE = 0.10
# Enough of a streamed file to tell UTF-8 from a legacy encoding.
_ENCODING_SAMPLE_BYTES = 65536


def detect_encoding(data: bytes, complete: bool = True) -> str:
    """Name the codec for data; complete=False means data is only the start of the file.

    A prefix may end in the middle of a UTF-8 sequence, which must not count as an error.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _looks_gb2312(data):
        return "gb18030"
    legacy = _legacy_cjk(data, complete)
    if legacy:
        return legacy
    for encoding in _FALLBACKS:
        try:
            codecs.getincrementaldecoder(encoding)().decode(data, final=complete)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _looks_gb2312(data: bytes, min_pairs: int = 4) -> bool:
    """Simplified Chinese in GB2312/GBK/GB18030: every byte above ASCII comes in a pair,
    both in 0xA1-0xFE. Western legacy text (cp1252) puts accented letters before ASCII
    letters, which breaks that rule at once, so it is not mistaken for Chinese."""
    pairs, i, end = 0, 0, len(data)
    while i < end:
        byte = data[i]
        if byte < 0x80:
            i += 1
        elif 0xA1 <= byte <= 0xFE and i + 1 < end and 0xA1 <= data[i + 1] <= 0xFE:
            pairs += 1
            i += 2
        elif i + 1 == end:
            break  # a prefix cut in the middle of a pair
        else:
            return False
    return pairs >= min_pairs


# The most frequent characters of Chinese and Japanese prose (the same in both Chinese
# scripts where they agree): a fifth or more of such text, a few in ten thousand of bytes
# decoded with the wrong codec. Big5 and Shift-JIS take almost any pair of high bytes, so
# what tells them apart is whether the text reads as the language.
_COMMON_CJK = frozenset(
    "的一是不了在人有我他这這个個们們中来來上大为為和国國地到以说說时時要就出会會可也你对對"
    "生能而子那得于於着著下自之年过過发發后後作里裡用道行所然家种種事成方多经經么麼去法学學"
    "如都同现現当當没沒动動面起看定天分还還进進好小部其些主样樣理心她本前开開但因只从從想实實"
    "のにはをたがでてとしれさあるいうなかもこす、。ンルトスクイ"
)
_LEGACY_CJK = ("big5", "cp932", "gb18030")  # Traditional Chinese, Japanese, Chinese (GBK)
_MIN_COMMON_SHARE = 0.05


def _legacy_cjk(data: bytes, complete: bool) -> str | None:
    """Big5 (Traditional Chinese), Shift-JIS (Japanese) or GBK (Simplified Chinese, beyond
    GB2312): the one of these that decodes the data and reads most like the language, or
    None. Western legacy text (cp1252) has too few bytes above ASCII to be taken for it.
    How the text reads is judged on its start (counting characters in Python took 4 s for
    a 15 MB file); whether it decodes, on all of it."""
    sample = data[:_ENCODING_SAMPLE_BYTES]
    whole = len(sample) == len(data)
    high = sum(byte >= 0x80 for byte in sample)
    if high < 8 or high < 0.2 * len(sample):
        return None
    shares = {}
    for encoding in _LEGACY_CJK:
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(sample, final=complete and whole)
        except UnicodeDecodeError:
            continue
        wide = [char for char in text if ord(char) >= 0x80]
        shares[encoding] = sum(char in _COMMON_CJK for char in wide) / max(1, len(wide))
    for encoding in sorted(shares, key=shares.get, reverse=True):
        if shares[encoding] <= _MIN_COMMON_SHARE:
            break
        try:
            codecs.getincrementaldecoder(encoding)().decode(data, final=complete)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def decode_text(data: bytes) -> str:
    """Decode plain text, preferring UTF-8 but never failing on legacy encodings."""
    # Only a BOM-declared encoding can still meet bad bytes; replacing them keeps the rest.
    return data.decode(detect_encoding(data), errors="replace")


def looks_binary(sample: bytes, encoding: str) -> bool:
    """True when the start of a file is clearly not text (NUL bytes or many control characters).

    Bytes are judged as they are, except for UTF-16/32 text whose every character
    carries NUL bytes; C1 controls are not counted because legacy CJK encodings use
    those byte values for ordinary characters.
    """
    if encoding in _WIDE_ENCODINGS:
        text = sample.decode(encoding, errors="replace")
    else:
        text = sample.decode("latin-1")
    if not text:
        return False
    if "\x00" in text:
        return True
    controls = sum(1 for char in text if char < " " and char not in _TEXT_CONTROLS)
    return controls > _BINARY_CONTROL_SHARE * len(text)


def read_text(path: Path) -> str:
    """The whole file as text; UnreadableDocument when it holds binary data."""
    data = path.read_bytes()
    check_not_binary(path, data)
    return decode_text(data)


def sample_encoding(path: Path) -> tuple[str, bytes]:
    """The encoding of a possibly huge file, guessed from its start, and that start."""
    with path.open("rb") as file:
        sample = file.read(_ENCODING_SAMPLE_BYTES)
    return detect_encoding(sample, complete=len(sample) < _ENCODING_SAMPLE_BYTES), sample


def open_text(path: Path) -> TextIO:
    """Open a possibly huge file for streaming, with the encoding guessed from its start.

    newline="" leaves line endings to the caller, as the csv module requires.
    """
    encoding, sample = sample_encoding(path)
    check_not_binary(path, sample)
    # A legacy byte past the sample would otherwise abort a file that is UTF-8 so far.
    return path.open(encoding=encoding, errors="replace", newline="")


def check_not_binary(path: Path, data: bytes) -> None:
    """Raise UnreadableDocument when the start of data (a file's bytes) is not text."""
    sample = data[:BINARY_SAMPLE_BYTES]
    if looks_binary(sample, detect_encoding(sample, complete=False)):
        raise UnreadableDocument(
            f"{path.name} looks like binary data, not text; check that the file was saved "
            "as plain text and that its suffix matches its contents."
        )
