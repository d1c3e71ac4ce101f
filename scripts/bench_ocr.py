"""OCR speed and accuracy on scans of real text, against reading the same text from a PDF's text
layer in the same run:

- pages: A4 at 300 dpi, 11-point type, drawn from the English python-docs and the Chinese
  debian-reference benchmark corpora (real prose, code and tables), turned by up to ±1.5°,
  speckled and saved as JPEG, as a cheap office scanner makes them;
- each page is read as a scanned PDF page (drawn at ocr.dpi, then Tesseract) and, as the
  baseline, from a PDF of the same text with a text layer (English only: the test PDF writer
  has no Chinese font);
- accuracy is 1 − the character error rate (whitespace aside).

    .venv/bin/python scripts/bench_ocr.py [--pages 6] [--languages eng,chi_sim]

Prints pages per minute, seconds per page (p50 / max), the slow-down against the text layer,
and accuracy (mean / min) per language.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.documents.ocr import OcrJob, OcrOptions  # noqa: E402
from appliance.documents.readers import read_document, read_html  # noqa: E402
from tests.corpus import make_pdf  # noqa: E402
from tests.scanned import accuracy, page_picture, scanned_pdf  # noqa: E402

SOURCES = {
    "eng": ROOT / "benchmarks/python-docs/kb",
    "chi_sim": ROOT / "benchmarks/debian-reference-zh/kb",
}
PAGE_CHARS = {"eng": 2400, "chi_sim": 1100}  # a full page of 11-point type


def page_texts(language: str, pages: int, seed: int) -> list[str]:
    """`pages` page-fulls of consecutive paragraphs from random documents of the corpus."""
    files = sorted(SOURCES[language].rglob("*.html"))
    if not files:
        sys.exit(f"no corpus in {SOURCES[language]}: see its README for how to fetch it")
    rng = random.Random(seed)
    texts = []
    while len(texts) < pages:
        sections = read_html(rng.choice(files))
        text = " ".join(" ".join(s.text.split()) for s in sections)
        if len(text) < 2 * PAGE_CHARS[language]:
            continue
        start = rng.randrange(len(text) - PAGE_CHARS[language])
        texts.append(text[start : start + PAGE_CHARS[language]])
    return texts


def measure(language: str, texts: list[str], folder: Path) -> dict:
    options = OcrOptions(languages=language)
    seconds, baseline, scores = [], [], []
    for n, text in enumerate(texts):
        angle = (-1.5, -0.7, 0.0, 0.6, 1.5)[n % 5]
        picture = page_picture(text, language, angle=angle, seed=n, points=11)
        scan = scanned_pdf(folder / f"{language}-{n}.pdf", [picture])
        started = time.perf_counter()
        [section] = read_document(scan, OcrJob(options))
        seconds.append(time.perf_counter() - started)
        scores.append(accuracy(text, section.text))
        if language == "eng":  # the PDF writer has no Chinese font
            typed = make_pdf(folder / f"{language}-{n}-typed.pdf", [text])
            started = time.perf_counter()
            read_document(typed)
            baseline.append(time.perf_counter() - started)
    return {"seconds": seconds, "baseline": baseline, "accuracy": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=6, help="pages per language")
    parser.add_argument("--languages", default="eng,chi_sim")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"{args.pages} pages per language, A4 at 300 dpi, 11-point type, ±1.5°, speckle, JPEG")
    print(
        f"{'language':<9} {'pages/min':>9} {'s/page p50':>10} {'max':>6} "
        f"{'× text layer':>12} {'accuracy':>9} {'min':>6}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for language in args.languages.split(","):
            found = measure(language, page_texts(language, args.pages, args.seed), Path(folder))
            per_page = statistics.median(found["seconds"])
            slower = (
                f"{sum(found['seconds']) / sum(found['baseline']):>11.0f}×"
                if found["baseline"]
                else f"{'–':>12}"
            )
            print(
                f"{language:<9} {60 / statistics.mean(found['seconds']):>9.1f} {per_page:>10.2f} "
                f"{max(found['seconds']):>6.2f} {slower} "
                f"{statistics.mean(found['accuracy']):>8.1%} {min(found['accuracy']):>6.1%}"
            )


if __name__ == "__main__":
    main()
