"""Answers on the page, in a real Chromium against the real server: a quoted answer marked as
quoted, with its cited source and relevance; a question the documents do not answer refused,
with the closest passages shown as related, not as an answer; a question about another
version than the documents' says so."""

from __future__ import annotations

import json

import pytest
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
)

from tests.corpus import write_text
from tests.e2e.conftest import wait_for
from tests.e2e.test_page import (  # noqa: F401  (browser: the fixture)
    _answered,
    _ask,
    _ids,
    _text,
    _visible,
    browser,
)

pytestmark = pytest.mark.e2e

EXPENSES = (
    "Travel expenses\n\nTrain tickets are refunded in second class. Hotel nights are refunded "
    "up to 120 euros. Claims must be filed within 30 days.\n"
)
LEAVE = "Annual leave\n\nFull-time staff get 25 days of annual leave per year.\n"


def test_quoted_answers_and_refusals_on_the_page(make_server, browser):  # noqa: F811
    server = make_server(extra_config="answers:\n  mode: extractive\n")
    write_text(server.kb / "expenses.txt", EXPENSES)
    write_text(server.kb / "leave.txt", LEAVE)
    server.start()
    wait_for(
        lambda: (
            all(d["status"] == "indexed" for d in server.documents().values())
            and len(server.documents()) == 2
        ),
        30,
        "the two documents to be indexed",
    )
    browser.get(server.url + "/")

    _ask(browser, "Up to how much is a hotel night refunded?")
    wait_for(_answered(browser, server), 30, "the quoted answer")
    answer = _text(browser, "answer")
    assert "Hotel nights are refunded up to 120 euros." in answer and "[1]" in answer
    assert _text(browser, "answer-mode").startswith("Quoted from the documents")
    assert _ids(browser, "#citations li.cited") == ["citation-1"]
    chip = browser.find_element("css selector", "#citation-1 .cite-meta").text
    assert "relevance" in chip and "%" in chip and "score" not in chip

    _ask(browser, "How do I configure the VPN client on my laptop?")
    wait_for(lambda: "could not find" in _text(browser, "answer").lower(), 30, "the refusal")
    mode = _text(browser, "answer-mode")
    assert mode == "Not found in the documents — no document mentions “VPN”"
    assert _visible(browser, "also-retrieved") and not _visible(browser, "citations")
    assert "Related, but not an answer" in _text(browser, "also-retrieved")
    assert _ids(browser, "#uncited li")  # the closest passages, offered as related

    # About another version than the documents': said on the page, answered or refused.
    wait_for(lambda: _visible(browser, "ask-button"), 30, "the page to take a question")
    browser.find_element("id", "new-conversation").click()  # no follow-up of the VPN question
    _ask(browser, "Up to how much is a hotel night refunded in version 3.1 of the policy?")
    wait_for(lambda: "“3.1”" in _text(browser, "answer-mode"), 30, "the version note")
    assert _text(browser, "answer-mode").endswith("the passages found do not mention “3.1”")


def test_stop_ends_the_answer_and_frees_its_slot(make_server, browser):  # noqa: F811
    long_answers = "generator:\n  max_tokens: 2000\n  temperature: 1.0\n"
    server = make_server(extra_config=long_answers + "answers:\n  mode: generate\n")
    write_text(server.kb / "leave.txt", LEAVE)
    server.start()
    wait_for(
        lambda: server.documents().get("leave.txt", {}).get("status") == "indexed", 30, "leave"
    )
    log = server.data / "queries.jsonl"

    def outcomes() -> list[str]:
        lines = log.read_text().splitlines() if log.exists() else []
        try:
            return [json.loads(line)["outcome"] for line in lines]
        except json.JSONDecodeError:  # caught mid-write
            return []

    def ask_and_stop() -> tuple[str, str]:
        """The page's mode and the server's outcome, once the answer is recorded."""
        before = len(outcomes())
        browser.get(server.url + "/")  # each time a first question: nothing to rewrite
        _ask(browser, "How many days of annual leave do full-time staff get?")
        wait_for(lambda: _text(browser, "answer") or _visible(browser, "ask-button"), 60, "tokens")
        assert _visible(browser, "stop-button") or _text(browser, "answer-mode")
        assert not _visible(browser, "ask-button") or _text(browser, "answer-mode")
        stop = browser.find_element("id", "stop-button")
        if stop.is_displayed():
            try:
                stop.click()
            except (ElementClickInterceptedException, ElementNotInteractableException):
                pass  # the answer ended (and Stop was hidden) between the look and the click
        wait_for(lambda: _visible(browser, "ask-button"), 10, "Ask to come back")
        recorded = wait_for(lambda: outcomes()[before:], 20, "the answer in the query log")
        return _text(browser, "answer-mode"), recorded[-1]

    # At temperature 1 the tiny model may end its answer before Stop is clicked, or before
    # the Stop reaches the server (the page says Stopped; the server finished): ask again.
    tries = [ask_and_stop()]
    while tries[-1][1] != "abandoned" and len(tries) < 8:
        tries.append(ask_and_stop())
    assert tries[-1] == ("Stopped — the answer is incomplete", "abandoned"), tries
    assert _text(browser, "answer") and not _visible(browser, "error")
    assert not _visible(browser, "stop-button")
    wait_for(lambda: server.get("/ready")[1]["answers"]["running"] == 0, 20, "the freed slot")


def test_an_empty_knowledge_base_says_how_to_begin(make_server, browser):  # noqa: F811
    server = make_server(extra_config="answers:\n  mode: extractive\n")
    server.start()
    browser.get(server.url + "/")
    wait_for(lambda: _visible(browser, "onboarding"), 15, "the first-visit card")
    assert _text(browser, "documents-summary") == "0 searchable"
    browser.find_element("css selector", "#onboarding button.example").click()
    assert browser.find_element("id", "question").get_attribute("value").startswith("How many")
    browser.find_element("id", "ask-button").click()
    wait_for(lambda: _text(browser, "answer-mode") == "Nothing is indexed yet", 30, "the refusal")
    assert _text(browser, "answer").startswith("Nothing is searchable yet")
    status, done = server.post("/api/ask", {"question": "How many days of leave?"})
    assert status == 200 and done["refusal"] == "nothing_indexed" and done["mode"] == "none"

    write_text(server.kb / "leave.txt", LEAVE)
    (server.kb / "broken.docx").write_bytes(b"not a zip")
    wait_for(
        lambda: _text(browser, "documents-summary") == "1 searchable · 1 needs attention",
        30,
        "the summary of the closed panel",
    )
    assert not _visible(browser, "onboarding")
    assert not browser.find_element("id", "documents-panel").get_attribute("open")
    status, done = server.post("/api/ask", {"question": "How do I configure the VPN client?"})
    assert done["refusal"] == "not_in_documents"


def test_the_source_panel_keeps_its_header_on_a_long_passage(make_server, browser):  # noqa: F811
    server = make_server(extra_config="answers:\n  mode: extractive\n")
    rules = " ".join(
        f"Rule {n}: visitors sign in at the front desk and wear a badge." for n in range(60)
    )
    write_text(server.kb / "visitors.txt", "Visitor rules\n\n" + rules + "\n")
    server.start()
    wait_for(lambda: server.documents().get("visitors.txt", {}).get("chunks", 0) >= 3, 30, "index")
    browser.set_window_size(390, 844)  # a phone: the panel is a drawer
    try:
        browser.get(server.url + "/")
        _ask(browser, "Where do visitors sign in?")
        wait_for(lambda: _visible(browser, "citations"), 30, "the sources")
        browser.find_element("css selector", "#citations button.chip").click()
        wait_for(lambda: "Rule" in _text(browser, "panel-passages"), 10, "the passage")
        scroller = browser.find_element("id", "panel-passages")
        tall = browser.execute_script(
            "arguments[0].scrollTop = arguments[0].scrollHeight;"
            "return arguments[0].scrollHeight > arguments[0].clientHeight;",
            scroller,
        )
        assert tall, "the passage is not long enough to scroll"
        for element in ("panel-close", "panel-open", "panel-title"):
            top = browser.execute_script(
                "return arguments[0].getBoundingClientRect().top;",
                browser.find_element("id", element),
            )
            assert _visible(browser, element) and top >= 0, (element, top)
    finally:
        browser.set_window_size(1100, 900)
