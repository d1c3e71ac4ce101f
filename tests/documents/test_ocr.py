"""Scans are read by OCR (Tesseract, for real) and cited by page: pictures, multi-page TIFFs,
and the pages of a PDF that have no text layer. Pages are drawn here with known text, then
spoiled like a scan; accuracy is counted in characters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from appliance.documents import read_document
from appliance.documents.isolated import IsolatedReader, ReadLimits
from appliance.documents.model import UnreadableDocument
from appliance.documents.ocr import OcrJob, OcrOptions, problem
from tests.scanned import (
    LEAVE_ZH,
    TRAVEL,
    accuracy,
    needs_ocr,
    page_picture,
    save_tiff,
    scanned_pdf,
)


def job(languages: str = "eng", **fields) -> OcrJob:
    return OcrJob(OcrOptions(languages=languages), **fields)


def test_an_english_scan_is_read_with_95_percent_of_its_characters(tmp_path: Path) -> None:
    needs_ocr("eng")
    path = tmp_path / "travel.jpg"
    page_picture(TRAVEL, angle=1.2).save(path, quality=70)
    [section] = read_document(path, job())
    assert section.ocr and section.page == 1
    assert accuracy(TRAVEL, section.text) >= 0.95, section.text
    assert "EUR 220" in section.text  # amounts are what people ask about


def test_a_chinese_scan_is_read_with_90_percent_of_its_characters(tmp_path: Path) -> None:
    needs_ocr("chi_sim")
    path = page_picture(LEAVE_ZH, "chi_sim", angle=-1.0).save(tmp_path / "leave.png") or (
        tmp_path / "leave.png"
    )
    [section] = read_document(path, job("chi_sim"))
    assert accuracy(LEAVE_ZH, section.text) >= 0.90, section.text
    assert not re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]", section.text)  # no word spaces


def test_a_page_scanned_on_its_side_is_turned_and_read(tmp_path: Path) -> None:
    needs_ocr("eng")
    path = tmp_path / "side.png"
    page_picture(TRAVEL, angle=0.5).rotate(90, expand=True).save(path)
    [section] = read_document(path, job())
    assert accuracy(TRAVEL, section.text) >= 0.95, section.text


def test_every_page_of_a_tiff_is_read_and_cited_by_its_page(tmp_path: Path) -> None:
    needs_ocr("eng", "chi_sim")
    path = save_tiff(
        tmp_path / "fax.tiff", [page_picture(TRAVEL), page_picture(LEAVE_ZH, "chi_sim")]
    )
    sections = read_document(path, job("eng+chi_sim"))
    assert [(s.page, s.ocr) for s in sections] == [(1, True), (2, True)]
    assert "London" in sections[0].text and "年假" in sections[1].text


def test_a_pdf_is_read_by_its_text_layer_and_its_scanned_pages_by_ocr(tmp_path: Path) -> None:
    needs_ocr("eng")
    path = scanned_pdf(
        tmp_path / "mixed.pdf",
        ["Cover letter: the signed travel policy follows.", page_picture(TRAVEL), ""],
    )
    sections = read_document(path, job())
    assert [(s.page, s.ocr) for s in sections] == [(1, False), (2, True)]
    assert accuracy(TRAVEL, sections[1].text) >= 0.95
    # Without OCR the scanned page has no text, and a picture is an error that says so.
    assert [s.page for s in read_document(path)] == [1]
    picture = tmp_path / "travel.png"
    page_picture(TRAVEL).save(picture)
    with pytest.raises(UnreadableDocument, match=r"OCR is off \(ocr.enabled: false\)"):
        read_document(picture)


def test_a_corrupt_image_gets_a_reason(tmp_path: Path) -> None:
    needs_ocr("eng")
    path = tmp_path / "broken.png"
    good = tmp_path / "good.png"
    page_picture(TRAVEL).save(good)
    path.write_bytes(good.read_bytes()[:300])  # cut off, as by a failed copy
    reader = IsolatedReader(ReadLimits(timeout_s=60))
    try:
        with pytest.raises(UnreadableDocument, match="broken.png"):
            reader.read(path, job())
        not_an_image = tmp_path / "scan.jpg"
        not_an_image.write_text("this is not a JPEG")
        with pytest.raises(UnreadableDocument, match="scan.jpg is not a readable image"):
            reader.read(not_an_image, job())
        # The reader goes on to the next file.
        assert "London" in reader.read(good, job())[0].text
    finally:
        reader.close()


def test_reading_stops_at_its_budget_and_skips_pages_read_before(tmp_path: Path) -> None:
    needs_ocr("eng")
    pages = [page_picture(f"Page {n} of the contract. " + TRAVEL, seed=n) for n in (1, 2, 3)]
    path = save_tiff(tmp_path / "contract.tif", pages)
    first = job(budget_s=0.0)  # one page, then the budget is spent
    read = read_document(path, first)
    assert [s.page for s in read] == [1] and first.pending == [2, 3] and first.pages == 3
    rest = job(known=frozenset({1}))
    assert [s.page for s in read_document(path, rest)] == [2, 3]
    assert rest.pending == [] and rest.failed == {}


def test_pages_past_the_limit_are_listed_not_read(tmp_path: Path) -> None:
    needs_ocr("eng")
    path = save_tiff(tmp_path / "long.tif", [page_picture(TRAVEL, seed=n) for n in (1, 2, 3)])
    limited = OcrJob(OcrOptions(max_pages=2))
    assert [s.page for s in read_document(path, limited)] == [1, 2]
    assert limited.beyond == [3]


def test_a_page_that_takes_too_long_is_noted_and_the_others_are_read(tmp_path: Path) -> None:
    needs_ocr("eng")
    path = save_tiff(tmp_path / "slow.tif", [page_picture(TRAVEL, seed=n) for n in (1, 2)])
    hurried = OcrJob(OcrOptions(page_timeout_s=0.01))
    assert read_document(path, hurried) == []
    assert set(hurried.failed) == {1, 2}
    assert "took longer than 0.01 s (ocr.page_timeout_s)" in hurried.failed[1]


def test_without_tesseract_ocr_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    needs_ocr("eng")
    path = tmp_path / "travel.png"
    page_picture(TRAVEL).save(path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert "apt-get install tesseract-ocr" in problem("eng")
    missing = job()
    assert read_document(path, missing) == []
    assert "the tesseract program is not installed" in missing.missing


def test_a_missing_language_pack_is_named(tmp_path: Path) -> None:
    needs_ocr("eng")
    assert "apt-get install tesseract-ocr-kor" in problem("eng+kor")
