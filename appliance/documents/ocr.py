"""Text from pictures of pages (scans, faxes, photos), with Tesseract.

Tesseract runs as a program (`tesseract`, from the distribution: Debian's tesseract-ocr and
its language packs), one page at a time, under a time limit per page. What it could not read
is said, never hidden: a missing program or language pack, a page that took too long.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from PIL import Image

from appliance.documents.model import UnreadableDocument

Image.MAX_IMAGE_PIXELS = 120_000_000  # an A0 scan at 300 dpi; larger is a decompression bomb

# Tesseract says how sure it is of each word (0-100). Below this on average, the page may be
# upside down or on its side: its orientation is detected and the page read again turned.
_TURN_BELOW_CONFIDENCE = 60.0
_MISSING = "OCR cannot run here"
_CJK = (  # Chinese, Japanese kana, CJK punctuation and full-width forms
    r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf"
    r"\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
)
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK}])")


@dataclass(frozen=True)
class OcrOptions:
    """What the reader needs of the `ocr:` settings (config.OcrSettings), as plain values
    that travel to the reader process."""

    languages: str = "eng"
    page_timeout_s: float = 60.0
    max_pages: int = 200
    dpi: int = 300


@dataclass
class OcrJob:
    """One file's OCR, possibly spread over several reads: pages in `known` were read before
    (their text is kept by the caller) and are skipped; reading stops starting new pages once
    `budget_s` is spent, and lists the pages it left in `pending`, for the next read."""

    options: OcrOptions
    known: frozenset[int] = frozenset()
    budget_s: float | None = None
    started: float = 0.0
    pending: list[int] = field(default_factory=list)
    # pages OCR could not read, and why ("" for a blank page: read, nothing on it)
    failed: dict[int, str] = field(default_factory=dict)
    beyond: list[int] = field(default_factory=list)  # pages past options.max_pages, not read
    pages: int = 0  # pages of the file that need OCR (read now, before, or still to read)
    missing: str = ""  # why OCR cannot run here (not installed): no page was read by it


@dataclass(frozen=True)
class OcrText:
    text: str
    confidence: float  # mean word confidence, 0-100 (0 without words)


class OcrUnavailable(UnreadableDocument):
    """Tesseract or a language pack it needs is not installed."""


def problem(languages: str) -> str:
    """Why OCR in `languages` cannot run here ("" when it can), with what to install."""
    if shutil.which("tesseract") is None:
        return (
            f"{_MISSING}: the tesseract program is not installed. Install it (Debian, Ubuntu: "
            "apt-get install tesseract-ocr); scanned files are read at the next rescan"
        )
    missing = sorted(set(languages.split("+")) - installed_languages())
    if missing:
        packs = " ".join("tesseract-ocr-" + name.replace("_", "-").lower() for name in missing)
        return (
            f"{_MISSING}: its language {', '.join(missing)} (ocr.languages) is not installed. "
            f"Install it (apt-get install {packs}); scanned files are read at the next rescan"
        )
    return ""


def installed_languages() -> set[str]:
    try:
        listed = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}


def read_picture(image: Image.Image, options: OcrOptions, dpi: int | None = None) -> OcrText:
    """The text of one page picture. A page Tesseract reads with little confidence is turned
    as its orientation detection says (a page scanned on its side or upside down) and read
    again; the better reading is kept. Raises UnreadableDocument when Tesseract fails or
    takes longer than options.page_timeout_s."""
    page = _grey(image)
    dpi = dpi or options.dpi
    first = _tesseract(page, options, dpi)
    if first.confidence >= _TURN_BELOW_CONFIDENCE and first.text:
        return first
    turn = _rotation(page, options, dpi)
    if not turn:
        return first
    turned = _tesseract(page.rotate(-turn, expand=True), options, dpi)
    return turned if _weight(turned) > _weight(first) else first


def _grey(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        backdrop = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(backdrop, image)
    if image.mode.startswith("I;16") or image.mode == "I":
        image = image.point(lambda value: value / 256)
    return image.convert("L")


def _weight(result: OcrText) -> float:
    return result.confidence * len(result.text.split())


def _run(args: list[str], image: Image.Image, options: OcrOptions) -> str:
    encoded = io.BytesIO()
    image.save(encoded, format="PPM")  # uncompressed: encoding a PNG costs more than OCR saves
    # One thread: Tesseract's OpenMP threads cost more than they give on a small CPU, and the
    # other cores stay free for answers.
    environment = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", *args],
            input=encoded.getvalue(),
            capture_output=True,
            timeout=options.page_timeout_s,
            env=environment,
        )
    except FileNotFoundError:
        raise OcrUnavailable(problem(options.languages)) from None
    except subprocess.TimeoutExpired:
        raise UnreadableDocument(
            f"OCR took longer than {options.page_timeout_s:g} s (ocr.page_timeout_s)"
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        if any("Failed loading language" in line for line in message):
            raise OcrUnavailable(problem(options.languages))
        raise UnreadableDocument(f"OCR failed: {message[-1] if message else done.returncode}")
    return done.stdout.decode(errors="replace")


def _tesseract(image: Image.Image, options: OcrOptions, dpi: int) -> OcrText:
    tsv = _run(
        ["-l", options.languages, "--psm", "3", "--dpi", str(dpi), "tsv"],
        image,
        options,
    )
    return _from_tsv(tsv)


def _rotation(image: Image.Image, options: OcrOptions, dpi: int) -> int:
    """Degrees clockwise that would turn the page upright, by Tesseract's orientation
    detection (0 when it is not installed or not sure)."""
    try:
        found = _run(["--psm", "0", "--dpi", str(dpi)], image, options)
    except UnreadableDocument:  # too little text to tell, or no osd pack: the first reading
        return 0
    rotate = re.search(r"Rotate: (\d+)", found)
    sure = re.search(r"Orientation confidence: ([\d.]+)", found)
    if not rotate or not sure or float(sure.group(1)) < 1.0:
        return 0
    return int(rotate.group(1)) % 360


def _from_tsv(tsv: str) -> OcrText:
    """Tesseract's TSV (a row per word, with its block, paragraph and line) → the text with
    its lines and paragraphs, and the mean word confidence."""
    lines: dict[tuple[str, str, str], list[str]] = {}
    confidences = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        lines.setdefault((row["block_num"], row["par_num"], row["line_num"]), []).append(word)
        confidences.append(float(row.get("conf") or 0))
    paragraphs: dict[tuple[str, str], list[str]] = {}
    for (block, paragraph, _), words in lines.items():
        paragraphs.setdefault((block, paragraph), []).append(" ".join(words))
    text = "\n\n".join("\n".join(rows) for rows in paragraphs.values())
    text = _SPACE_BETWEEN_CJK.sub("", text)  # it separates Chinese characters like words
    confidence = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrText(text, round(confidence, 1))
