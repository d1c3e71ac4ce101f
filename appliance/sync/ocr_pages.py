"""Pages read by OCR, kept by the file's content (SQLite, in the data dir).

OCR takes seconds a page, so a big scan is read a few pages at a time between other files,
and each page read is kept here at once: a restart, a crash or a re-index (another chunk size,
another embedder) picks up where reading stopped and never reads a page twice. A page OCR
failed on is kept with the reason, so it is not tried again either.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from appliance.databases import check_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ocr_pages (
    sha256 TEXT NOT NULL,
    languages TEXT NOT NULL,
    page INTEGER NOT NULL,
    text TEXT NOT NULL,
    failed TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (sha256, languages, page)
)
"""


@dataclass(frozen=True)
class OcrPage:
    page: int
    text: str
    failed: str  # why OCR could not read it ("" when it did)


class OcrPages:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        check_database(path, "pages read by OCR: read again when needed")
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(_SCHEMA)

    def pages(self, sha256: str, languages: str) -> dict[int, OcrPage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT page, text, failed FROM ocr_pages WHERE sha256 = ? AND languages = ?",
                (sha256, languages),
            ).fetchall()
        return {page: OcrPage(page, text, failed) for page, text, failed in rows}

    def keep(self, sha256: str, languages: str, pages: Iterable[OcrPage]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO ocr_pages VALUES (?, ?, ?, ?, ?)",
                [(sha256, languages, p.page, p.text, p.failed) for p in pages],
            )

    def keep_only(self, sha256s: set[str]) -> None:
        """Forget the pages of files no longer in kb/ (by content)."""
        with self._lock:
            stored = {row[0] for row in self._db.execute("SELECT DISTINCT sha256 FROM ocr_pages")}
        gone = stored - sha256s
        if gone:
            with self._lock, self._db:
                self._db.executemany("DELETE FROM ocr_pages WHERE sha256 = ?", [(s,) for s in gone])

    def close(self) -> None:
        with self._lock:
            self._db.close()
