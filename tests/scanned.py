"""Scans made here: pages of known text drawn at 300 dpi, then spoiled like a real scan (a
slight rotation, speckle noise, a JPEG round-trip), as pictures, TIFFs and PDFs."""

from __future__ import annotations

import io
import random
import shutil
import textwrap
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.corpus import make_pdf

FONTS = {
    "eng": Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
    "chi_sim": Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
}
A4_300_DPI = (2480, 3508)

TRAVEL = (
    "The travel policy applies to every employee who travels for work. Hotel costs in London "
    "are reimbursed up to EUR 220 per night, breakfast included. Claims must be filed within "
    "30 days of the trip, with the original receipts attached. Managers approve claims above "
    "EUR 1,500 before they are paid. Taxis are allowed between 22:00 and 06:00."
)
LEAVE_ZH = (
    "年假政策适用于所有正式员工。员工每年享有十五天带薪年假，入职满五年后增加至二十天。"
    "年假须提前两周向直属经理申请，并在人事系统中登记。未使用的年假最多可结转五天到下一年度，"
    "结转的假期须在三月底之前使用完毕。病假需提供医院证明，连续三天以上须经部门负责人批准。"
)


def needs_ocr(*languages: str) -> None:
    """Skip, saying what to install, where Tesseract or a font to draw the pages is missing
    (scripts/setup.sh installs them where it can)."""
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr)")
    for language in languages:
        if not FONTS[language].is_file():
            pytest.skip(f"no font to draw {language} pages: {FONTS[language]} (fonts-wqy-microhei)")


def page_picture(
    text: str, language: str = "eng", angle: float = 1.2, seed: int = 1, points: float = 14
):
    """A4 at 300 dpi with `text` in `points`-point type, turned by `angle` degrees, speckled
    and saved as JPEG (quality 60) and read back: what a cheap office scanner makes."""
    size = round(points * 300 / 72)
    font = ImageFont.truetype(str(FONTS[language]), size)
    width = A4_300_DPI[0] - 2 * 220
    if language == "eng":
        lines = textwrap.wrap(text, int(width / (0.56 * size)))
    else:
        per_line = int(width / size)
        lines = [text[i : i + per_line] for i in range(0, len(text), per_line)]
    page = Image.new("L", A4_300_DPI, 255)
    draw = ImageDraw.Draw(page)
    for row, line in enumerate(lines):
        draw.text((220, 260 + row * int(size * 1.6)), line, font=font, fill=0)
    page = page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    rng = random.Random(seed)
    pixels = page.load()
    for _ in range(60_000):
        pixels[rng.randrange(A4_300_DPI[0]), rng.randrange(A4_300_DPI[1])] = rng.choice(
            (0, 90, 170)
        )
    encoded = io.BytesIO()
    page.save(encoded, "JPEG", quality=60)
    return Image.open(io.BytesIO(encoded.getvalue())).convert("L")


def save_tiff(path: Path, pictures: list) -> Path:
    plain = [Image.frombytes("L", p.size, p.tobytes()) for p in pictures]
    plain[0].save(
        path, save_all=True, append_images=plain[1:], compression="tiff_lzw", dpi=(300, 300)
    )
    return path


def scanned_pdf(path: Path, pages: list) -> Path:
    """A PDF whose pages are the given pictures (scans, no text layer) or strings (a page with a
    text layer), in order."""
    document = pdfium.PdfDocument.new()
    for page in pages:
        if isinstance(page, str):
            typed = pdfium.PdfDocument(make_pdf(path.with_suffix(".typed.pdf"), [page]))
            document.import_pages(typed)
            typed.close()
            path.with_suffix(".typed.pdf").unlink()
            continue
        width, height = page.width * 72 / 300, page.height * 72 / 300
        blank = document.new_page(width, height)
        picture = pdfium.PdfImage.new(document)
        bitmap = pdfium.PdfBitmap.from_pil(page)
        picture.set_bitmap(bitmap)
        picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
        blank.insert_obj(picture)
        blank.gen_content()
        bitmap.close()
        blank.close()
    document.save(path)
    document.close()
    return path


def accuracy(expected: str, got: str) -> float:
    """1 − character error rate (Levenshtein distance over the expected length), whitespace
    aside: how OCR accuracy is usually counted."""
    want, have = "".join(expected.split()), "".join(got.split())
    previous = list(range(len(have) + 1))
    for i, a in enumerate(want, 1):
        current = [i] + [0] * len(have)
        for j, b in enumerate(have, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
        previous = current
    return 1 - previous[-1] / len(want)
