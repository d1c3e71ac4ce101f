"""What reading documents in a child process costs (appliance/documents/isolated.py), against
reading them in the indexing process itself, on the same files in the same run:

- per file, for --files tiny text files, a DOCX, an XLSX and the default model-free PDF;
- the start of a fresh reader process (paid once, and again after a failure);
- the zip check that counts the real unpacked bytes of an Office package (it inflates the
  whole package once) against the old check of the declared sizes only.

    .venv/bin/python scripts/bench_reader.py [--files 300] [--rounds 3]

Prints medians over --rounds; the ratios are the figures to quote (the machine is noisy).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.documents.isolated import IsolatedReader, ReadLimits  # noqa: E402
from appliance.documents.office_package import check_office_package  # noqa: E402
from appliance.documents.readers import read_document  # noqa: E402
from tests.corpus import make_docx, make_pdf, make_xlsx, write_text  # noqa: E402


def corpus(folder: Path, files: int) -> dict[str, list[Path]]:
    text = "Full-time staff get 25 days of annual leave; part-time staff pro rata. "
    tiny = [write_text(folder / f"note{n}.txt", f"{text} Note {n}.") for n in range(files)]
    paragraphs = [("h1", "Handbook")] + [("p", f"{text} Paragraph {n}.") for n in range(400)]
    docx = make_docx(folder / "handbook.docx", paragraphs)
    xlsx = make_xlsx(folder / "sheet.xlsx", {"Staff": [[f"name{n}", n, text] for n in range(2000)]})
    pdf = make_pdf(folder / "manual.pdf", [f"Page {n}. {text * 8}" for n in range(50)])
    return {
        "tiny txt": tiny,
        "docx (400 paragraphs)": [docx],
        "xlsx (2,000 rows)": [xlsx],
        "pdf (50 pages)": [pdf],
    }


def per_file_ms(read, paths: list[Path], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for path in paths:
            read(path)
        samples.append((time.perf_counter() - started) / len(paths) * 1000)
    return statistics.median(samples)


def declared_only(path: Path) -> None:
    with zipfile.ZipFile(path) as package:
        sum(info.file_size for info in package.infolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reader-") as scratch:
        sets = corpus(Path(scratch), args.files)
        reader = IsolatedReader(ReadLimits())
        started = time.perf_counter()
        reader.read(sets["tiny txt"][0])
        start_s = time.perf_counter() - started
        print(f"a fresh reader process: {start_s * 1000:.0f} ms to start and read one file\n")
        print(f"{'files':<24}{'in-process ms':>15}{'child ms':>11}{'ratio':>8}")
        for name, paths in sets.items():
            inline = per_file_ms(read_document, paths, args.rounds)
            isolated = per_file_ms(reader.read, paths, args.rounds)
            print(f"{name:<24}{inline:>15.2f}{isolated:>11.2f}{isolated / inline:>8.2f}")
        reader.close()
        docx = sets["docx (400 paragraphs)"]
        old = per_file_ms(declared_only, docx * 50, args.rounds)
        new = per_file_ms(lambda p: check_office_package(p, "DOCX"), docx * 50, args.rounds)
        print(
            f"\nzip check, declared sizes {old:.2f} ms, real bytes counted {new:.2f} ms "
            f"({new / old:.1f}x; the docx read itself: "
            f"{per_file_ms(read_document, docx, args.rounds):.1f} ms)"
        )


if __name__ == "__main__":
    main()
