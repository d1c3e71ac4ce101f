"""Scanned pages → Sections, by OCR: image files (a TIFF may hold many pages) and the pages
of a PDF that have no text layer. Each page read is a Section marked `ocr`, cited by page."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from appliance.documents.model import Section, UnreadableDocument
from appliance.documents.ocr import OcrJob, OcrUnavailable, read_picture
from appliance.documents.outline import tidy_text

PagePicture = Callable[[], Image.Image]


def image_sections(path: Path, job: OcrJob | None) -> list[Section]:
    """Every frame of an image file, read by OCR, as pages (a TIFF may hold many)."""
    if job is None:
        raise UnreadableDocument(
            f"{path.name} is a picture, and OCR is off (ocr.enabled: false); it was not read"
        )
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UnreadableDocument(f"{path.name} is not a readable image: {error}") from None
    except Image.DecompressionBombError as error:
        raise UnreadableDocument(f"{path.name} was not read: {error}") from None
    with image:
        frames = getattr(image, "n_frames", 1)
        dpi = _dpi(image)

        def frame(index: int) -> PagePicture:
            def picture() -> Image.Image:
                image.seek(index)
                return image.copy()

            return picture

        return ocr_pages(job, ((n + 1, frame(n)) for n in range(frames)), dpi)


def ocr_pages(
    job: OcrJob, pages: Iterable[tuple[int, PagePicture]], dpi: int | None = None
) -> list[Section]:
    """Read the given pages with OCR, in order, as the job allows: pages it knew are skipped,
    pages past ocr.max_pages are listed in job.beyond, pages after its time budget in
    job.pending, and a page OCR fails on in job.failed with the reason (the other pages are
    still read; a blank page is there with reason ""). Without Tesseract, job.missing says
    so and no page is read."""
    job.started = job.started or time.monotonic()
    sections = []
    read_now = 0
    for number, picture in pages:
        job.pages += 1
        if number in job.known:
            continue
        if job.pages > job.options.max_pages:
            job.beyond.append(number)
            continue
        if job.missing:
            continue
        spent = time.monotonic() - job.started
        if job.budget_s is not None and read_now and spent > job.budget_s:
            job.pending.append(number)
            continue
        read_now += 1  # at least one page a step: a file always gets on
        try:
            read = read_picture(picture(), job.options, dpi)
        except OcrUnavailable as error:
            job.missing = str(error)
            continue
        except (UnreadableDocument, Image.DecompressionBombError) as error:
            job.failed[number] = str(error)
            continue
        text = tidy_text(read.text)
        if text.strip():
            sections.append(Section(text, number, "", ocr=True))
        else:
            job.failed[number] = ""  # a blank page: read, nothing on it
    return sections


def _dpi(image: Image.Image) -> int | None:
    """The resolution the file states, when it is a plausible scan's."""
    stated = image.info.get("dpi")
    try:
        value = round(float(stated[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return value if 70 <= value <= 1200 else None
