"""The page in Simplified Chinese and in English, in a real Chromium against the real server,
at desktop and phone sizes: the reader's choice is remembered, the browser's language is the
default, and no word of the page's own is left untranslated (its visible text, less the
documents' and the reader's words, holds no English word outside the names it keeps)."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from tests.corpus import write_text
from tests.e2e.conftest import wait_for
from tests.e2e.test_page import (  # noqa: F401  (browser: the fixture)
    _answered,
    _ask,
    _text,
    _visible,
    browser,
)

pytestmark = pytest.mark.e2e

LEAVE_ZH = "年假制度\n\n正式员工每年享有十五天带薪年假。年假须提前两周向直属经理申请。\n"
LEAVE_EN = "Annual leave\n\nFull-time staff get 25 days of annual leave per year.\n"

# Visible text that is the documents' or the reader's, not the page's own words.
USER_CONTENT = (
    "#answer, #asked, #searched-for, .cite-source, .cite-snippet, .cite-meta, .doc-path, "
    ".doc-error, #panel-where, #panel-passages, #history, #question, option"
)
# Names the Chinese page keeps as they are.
KEPT = {"PDF", "Word", "PowerPoint", "Excel", "Enter", "Shift", "Esc", "OCR", "JavaScript"}

VISIBLE_TEXT_JS = """
const skip = document.querySelectorAll(arguments[0]);
const texts = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!node.textContent.trim() || !parent || !parent.getClientRects().length) continue;
  if ([...skip].some((s) => s.contains(parent))) continue;
  if (getComputedStyle(parent).visibility === "hidden") continue;
  texts.push(node.textContent.trim());
}
// Titles that hold the administrator's detail (the model file, the server's reason) aside.
const labelled = document.querySelectorAll(
  "[placeholder], [aria-label], [title]:not(#server-status):not(#answer-mode)"
);
for (const e of labelled) {
  if (!e.getClientRects().length || [...skip].some((s) => s.contains(e))) continue;
  for (const a of ["placeholder", "aria-label", "title"]) {
    if (e.getAttribute(a)) texts.push(e.getAttribute(a));
  }
}
return texts;
"""


# An axe-style check of contrast and target size, offline (the script says what it checks).
ACCESSIBILITY_JS = (Path(__file__).parent / "accessibility.js").read_text()


def accessibility_problems(driver) -> list[str]:
    return driver.execute_script(ACCESSIBILITY_JS)


def english_left(driver) -> list[str]:
    texts = driver.execute_script(VISIBLE_TEXT_JS, USER_CONTENT)
    # A name from the question, quoted (no document mentions “VPN”), is the reader's word.
    texts = [re.sub(r"“[^”]*”", "", text) for text in texts]
    words = {w for text in texts for w in re.findall(r"[A-Za-z]{3,}", text)}
    return sorted(words - KEPT)


def test_the_page_in_chinese_and_english(make_server, browser):  # noqa: F811
    server = make_server(extra_config="answers:\n  mode: extractive\n")
    write_text(server.kb / "年假.txt", LEAVE_ZH)
    write_text(server.kb / "leave.txt", LEAVE_EN)
    (server.kb / "broken.docx").write_bytes(b"not a zip")
    server.start()
    wait_for(lambda: len(server.documents()) == 3, 30, "the documents")

    # The browser's language decides first.
    request = urllib.request.Request(server.url + "/", headers={"Accept-Language": "zh-CN,zh"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Language"] == "zh-CN"
        assert '<html lang="zh-CN">' in response.read().decode()

    browser.get(server.url + "/?lang=zh-CN")  # the reader's choice, remembered
    assert browser.find_element("tag name", "html").get_attribute("lang") == "zh-CN"
    assert browser.title == "知识库助手"
    wait_for(lambda: _text(browser, "server-status") == "就绪", 15, "就绪")
    _ask(browser, "年假有多少天？")
    wait_for(_answered(browser, server), 30, "the answer")
    assert "十五天" in _text(browser, "answer")
    assert _text(browser, "answer-mode") == "摘自文档原文"
    assert _text(browser, "trust-value") == "逐字摘自文档：请核对这些段落是否回答了您的问题"
    assert "相关度" in browser.find_element("css selector", "#citation-1 .cite-meta").text
    browser.find_element("css selector", "#citation-1 button.chip").click()
    wait_for(lambda: "十五天" in _text(browser, "panel-passages"), 10, "the passage")
    assert _text(browser, "panel-title") == "来源 [1]"
    browser.find_element("id", "panel-close").click()
    browser.find_element("css selector", "#documents-panel summary").click()
    wait_for(lambda: "无法读取" in _text(browser, "documents"), 10, "the failed file")
    assert _text(browser, "documents-summary") == "2 个可搜索 · 1 个需要处理"
    assert english_left(browser) == []
    assert accessibility_problems(browser) == []

    # A question the documents do not answer is refused in Chinese.
    _ask(browser, "VPN 客户端怎么配置？")
    wait_for(lambda: _text(browser, "answer-mode").startswith("文档中没有找到"), 30, "refusal")
    assert _text(browser, "answer-mode") == "文档中没有找到 — 没有文档提到 “VPN”"
    assert _text(browser, "answer").startswith("在已索引的文档中没有找到")
    assert english_left(browser) == []

    browser.set_window_size(390, 844)  # a phone
    try:
        browser.get(server.url + "/")  # no ?lang: the cookie remembers the choice
        assert browser.find_element("tag name", "html").get_attribute("lang") == "zh-CN"
        wait_for(lambda: _text(browser, "server-status") == "就绪", 15, "就绪")
        assert english_left(browser) == []
        assert _visible(browser, "ask-button") and _text(browser, "ask-button") == "提问"
        assert accessibility_problems(browser) == []
    finally:
        browser.set_window_size(1100, 900)

    browser.get(server.url + "/?lang=en")  # and back
    wait_for(lambda: _text(browser, "server-status") == "Ready", 15, "Ready")
    assert _text(browser, "ask-button") == "Ask"
    assert _text(browser, "documents-summary") == "2 searchable · 1 needs attention"
    _ask(browser, "How many days of annual leave do full-time staff get?")
    wait_for(_answered(browser, server), 30, "the answer")
    browser.find_element("css selector", "#citation-1 button.chip").click()
    wait_for(lambda: "25 days" in _text(browser, "panel-passages"), 10, "the passage")
    assert accessibility_problems(browser) == []
