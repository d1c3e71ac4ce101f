"""Scans in kb/ are read by OCR a few pages at a time, between other files; every page read is
kept, so a restart goes on where reading stopped; what OCR could not read is said in the
file's status; a scan left unread for want of Tesseract is read once it is installed."""

from __future__ import annotations

import dataclasses
import sqlite3
import time

import pytest

from appliance.config import load_settings
from appliance.sync import manifest as m
from appliance.sync import pipeline as p
from appliance.sync.reconcile import stale_paths
from appliance.sync.worker import SyncWorker
from tests.corpus import write_text
from tests.scanned import TRAVEL, needs_ocr, page_picture, scanned_pdf


@pytest.fixture(autouse=True)
def _tesseract():
    needs_ocr("eng")


def contract(n: int) -> str:
    return f"Contract page {n}. " + TRAVEL


def sync(pipeline) -> list[str]:
    """One full pass; returns the OCR progress of files left under way."""
    under_way = []
    for rel in stale_paths(pipeline, (".*",)):
        try:
            pipeline.update(rel)
        except p.OcrUnderWay as step:
            under_way.append(f"{rel}: {step.done}/{step.total}")
    return under_way


def test_a_scan_is_read_a_page_a_step_and_a_restart_goes_on_where_it_stopped(
    make_pipeline, monkeypatch
):
    monkeypatch.setattr(p, "OCR_STEP_S", 0.0)  # one page a step
    pipeline = make_pipeline()
    pages = [page_picture(contract(n), seed=n) for n in (1, 2, 3)]
    scanned_pdf(pipeline.kb / "contract.pdf", pages)
    assert sync(pipeline) == ["contract.pdf: 1/3"]
    assert pipeline.manifest.get("contract.pdf").status == m.PENDING
    assert pipeline.index.count("contract.pdf") == 0  # nothing half-read is searchable
    # The page read is kept: mark it, then "restart" (a new pipeline on the same data).
    pipeline.close()
    pipeline.index.close()
    pipeline.manifest.close()
    kept = sqlite3.connect(pipeline.settings.paths.data / "ocr_pages.sqlite3")
    with kept:
        kept.execute("UPDATE ocr_pages SET text = text || ' zebracorn' WHERE page = 1")
    kept.close()
    restarted = make_pipeline()
    assert sync(restarted) == ["contract.pdf: 2/3"]
    assert sync(restarted) == []
    entry = restarted.manifest.get("contract.pdf")
    assert (entry.status, entry.error) == (m.INDEXED, "")
    chunks = restarted.index.passages("contract.pdf", range(entry.chunks))
    assert [c.page for c in chunks] == [1, 2, 3] and all(c.ocr for c in chunks)
    assert "zebracorn" in chunks[0].text  # page 1 was not read again
    assert "Contract page 3" in chunks[2].text


def test_what_ocr_could_not_read_is_in_the_status_and_not_tried_again(make_pipeline):
    pipeline = make_pipeline(ocr__page_timeout_s=0.01)
    scanned_pdf(
        pipeline.kb / "signed.pdf", ["Signed copy of the travel policy.", page_picture(TRAVEL)]
    )
    page_picture(TRAVEL).save(pipeline.kb / "receipt.png")
    assert sync(pipeline) == []
    signed = pipeline.manifest.get("signed.pdf")
    assert signed.status == m.INDEXED and signed.chunks == 1
    assert signed.error == "page 2: OCR took longer than 0.01 s (ocr.page_timeout_s)"
    receipt = pipeline.manifest.get("receipt.png")
    assert receipt.status == m.FAILED and "page 1: OCR took longer" in receipt.error
    assert stale_paths(pipeline, (".*",)) == []


def test_a_scan_waits_for_tesseract_and_is_read_once_it_is_installed(
    make_pipeline, monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tesseract"))
    pipeline = make_pipeline()
    scanned_pdf(
        pipeline.kb / "signed.pdf", ["Signed copy of the travel policy.", page_picture(TRAVEL)]
    )
    page_picture(TRAVEL).save(pipeline.kb / "receipt.png")
    assert sync(pipeline) == []
    signed, receipt = pipeline.manifest.get("signed.pdf"), pipeline.manifest.get("receipt.png")
    assert signed.status == m.INDEXED and signed.chunks == 1
    assert signed.error.startswith("1 scanned page was not read. OCR cannot run here")
    assert receipt.status == m.FAILED and "apt-get install tesseract-ocr" in receipt.error
    assert stale_paths(pipeline, (".*",)) == []
    monkeypatch.undo()  # Tesseract is installed (on the PATH the next reader process starts with)
    pipeline.reader.close()
    pipeline.check_ocr()  # what every rescan does first
    assert stale_paths(pipeline, (".*",)) == ["receipt.png", "signed.pdf"]
    assert sync(pipeline) == []
    assert pipeline.manifest.get("receipt.png").status == m.INDEXED
    assert pipeline.manifest.get("signed.pdf").chunks == 2


def test_a_long_scan_does_not_hold_up_a_file_dropped_after_it(make_pipeline, monkeypatch):
    monkeypatch.setattr(p, "OCR_STEP_S", 0.0)
    pipeline = make_pipeline()
    watcher = dataclasses.replace(load_settings(None, env={}).watcher, settle_s=0.2)
    worker = SyncWorker(pipeline, watcher)
    worker.start()
    try:
        assert worker.startup_done.wait(30)
        pages = [page_picture(contract(n), seed=n) for n in (1, 2, 3, 4, 5)]
        scanned_pdf(pipeline.kb / "archive.pdf", pages)
        worker.submit("archive.pdf")
        wait(lambda: "archive.pdf" in worker.ocr_under_way, "the first OCR step")
        write_text(pipeline.kb / "memo.txt", "The printer on floor 2 is fixed.")
        worker.submit("memo.txt")
        wait(lambda: pipeline.manifest.get("memo.txt").status == m.INDEXED, "the memo")
        done, total = worker.ocr_under_way["archive.pdf"]
        assert done < total == 5
        wait(lambda: pipeline.manifest.get("archive.pdf").status == m.INDEXED, "the scan", 120)
        assert pipeline.index.count("archive.pdf") == 5 and not worker.ocr_under_way
    finally:
        worker.stop()


def wait(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_the_pages_of_a_deleted_scan_are_forgotten(make_pipeline):
    pipeline = make_pipeline()
    watcher = dataclasses.replace(load_settings(None, env={}).watcher, settle_s=0.0)
    worker = SyncWorker(pipeline, watcher)
    page_picture(TRAVEL).save(pipeline.kb / "receipt.png")
    worker.sync_all()
    assert pipeline.manifest.get("receipt.png").status == m.INDEXED
    sha = pipeline.manifest.get("receipt.png").sha256
    assert list(pipeline.ocr_pages.pages(sha, "eng")) == [1]
    (pipeline.kb / "receipt.png").rename(pipeline.kb / "renamed.png")
    worker.sync_all()  # the same content under another name: its page is kept, not read again
    assert list(pipeline.ocr_pages.pages(sha, "eng")) == [1]
    (pipeline.kb / "renamed.png").unlink()
    worker.sync_all()
    assert pipeline.ocr_pages.pages(sha, "eng") == {}
