"""A scanned PDF dropped into kb/ of the running server is read by OCR, found by a question
about what its scanned page says, and cited with that page; the page marks the passage as
read from a scan and opens the original at the cited page. A corrupt picture gets a reason."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.e2e.conftest import wait_for
from tests.e2e.test_page import (  # noqa: F401  (browser: the fixture)
    _answered,
    _ask,
    _text,
    browser,
)
from tests.scanned import TRAVEL, needs_ocr, page_picture, scanned_pdf

pytestmark = pytest.mark.e2e


def test_a_scanned_pdf_is_found_and_cited_by_page(make_server, browser, tmp_path):  # noqa: F811
    needs_ocr("eng")
    server = make_server(extra_config="answers:\n  mode: extractive\n")
    server.start()
    # Made outside kb/ and moved in, as a scanner's share delivers a file.
    scan = scanned_pdf(
        tmp_path / "policy.pdf", ["Signed copy. Scanned pages follow.", page_picture(TRAVEL)]
    )
    scan.rename(server.kb / "policy.pdf")
    (server.kb / "receipt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    wait_for(
        lambda: (
            {p: d["status"] for p, d in server.documents().items()}
            == {"policy.pdf": "indexed", "receipt.png": "failed"}
        ),
        60,
        "the scan to be read",
    )
    assert "receipt.png is not a readable image" in server.documents()["receipt.png"]["error"]

    question = "How much is a hotel night in London reimbursed?"
    status, found = server.get("/api/search?" + urllib.parse.urlencode({"q": question}))
    assert status == 200
    best = found["citations"][0]
    assert (best["source"], best["page"], best["ocr"]) == ("policy.pdf", 2, True)

    browser.get(server.url + "/")
    _ask(browser, question)
    wait_for(_answered(browser, server), 30, "the answer")
    assert "EUR 220" in _text(browser, "answer")
    chip = browser.find_element("css selector", "#citation-1 button.chip")
    assert "policy.pdf, page 2" in chip.text
    badge = chip.find_element("css selector", ".ocr-badge")
    assert "misread" in badge.get_attribute("title")
    chip.click()
    wait_for(
        lambda: "read from a scan by OCR" in _text(browser, "panel-passages"), 10, "the passage"
    )
    link = browser.find_element("id", "panel-open").get_attribute("href")
    assert link.endswith("/files/policy.pdf#page=2")
