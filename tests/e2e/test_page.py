"""The page, driven by a real headless Chromium against the real server.

Needs the Debian packages `chromium` and `chromium-driver` (/usr/bin/chromium and
/usr/bin/chromedriver) and the pip package `selenium`. Selenium is pointed at both binaries
explicitly, so Selenium Manager never runs and nothing is downloaded. A missing browser fails
the test (it is not skipped): the page is part of the product.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import StaleElementReferenceException

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "run: apt-get install -y chromium chromium-driver"

QUESTION = "How many days of annual leave do full-time staff get?"
FOLLOW_UP = "And part-time staff?"
# Long answers (up to generator.max_tokens) that keep the one answer slot busy.
LONG_QUESTION = "Explain the annual leave policy for all staff in detail, step by step."
LEAVE_POLICY = (
    "Annual leave policy\n\nFull-time staff get 25 days of annual leave per year. "
    "Part-time staff get leave pro rata, based on the hours they work.\n"
)
EXPENSES_POLICY = (
    "Travel expenses\n\nTrain tickets are refunded in second class. Hotel nights are "
    "refunded up to 120 euros. Claims must be filed within 30 days.\n"
)

# Everything the page loaded, and every element that refers to another resource.
RESOURCES_JS = """
return {
  loaded: performance.getEntriesByType('resource').map(e => e.name),
  referenced: Array.from(document.querySelectorAll(
      'script[src], link[href], img[src], iframe[src], source[src], video[src], audio[src]'
  )).map(e => e.src || e.href),
};
"""

# Records, while the answer is being written, whether Stop ever took Ask's place and what the
# status line said: the answer may be quick, so polling from Python could miss that moment.
WATCH_JS = """
window.__seen = {stop: false, status: [], answers: []};
const answer = document.getElementById('answer');
const button = document.getElementById('ask-button');
const status = document.getElementById('status');
new MutationObserver(() => {
  if (button.hidden && !document.getElementById('stop-button').hidden) window.__seen.stop = true;
  const text = status.textContent.trim();
  if (text && !window.__seen.status.includes(text)) window.__seen.status.push(text);
  const sofar = answer.textContent;
  const seen = window.__seen.answers;
  if (sofar && sofar !== seen[seen.length - 1]) seen.push(sofar);
}).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
"""

# Records every fetch the page makes (URL, JSON body, status, and the whole response text, read
# from a clone), and answers questions (/api/ask/stream) from window.__fakes instead of the
# server while any are queued: that is how the rare cases (503, an error event, a citation of a
# missing source) are shown. The page's background polls (/api/status, /api/documents) are
# recorded but never faked.
SPY_JS = """
if (!window.__requests) {
  window.__requests = [];
  window.__fakes = [];
  const realFetch = window.fetch.bind(window);
  window.fetch = async (url, options) => {
    const entry = {url: String(url), body: options && options.body ? String(options.body) : null,
                   status: null, text: null};
    window.__requests.push(entry);
    const fake = String(url).endsWith('/api/ask/stream') ? window.__fakes.shift() : undefined;
    const response = fake
      ? new Response(fake.body, {status: fake.status, headers: fake.headers})
      : await realFetch(url, options);
    entry.status = response.status;
    response.clone().text().then((t) => { entry.text = t; }, () => { entry.text = ''; });
    return response;
  };
}
"""


def _browser(user_data: Path):
    if not CHROMIUM.is_file() or not CHROMEDRIVER.is_file():
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing: {INSTALL_HINT}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the selenium package is missing: run: pip install selenium")

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-default-browser-check",
        "--window-size=1100,900",
        f"--user-data-dir={user_data}",
        # The browser is not Python, so the suite's socket guard does not reach it: keep it
        # on loopback by resolving every other name to nothing.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(str(CHROMEDRIVER))
    return webdriver.Chrome(service=service, options=options)


@pytest.fixture
def browser():
    user_data = Path(tempfile.mkdtemp(prefix="appliance-chromium-"))
    driver = _browser(user_data)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(user_data, ignore_errors=True)


def _text(driver, element_id: str) -> str:
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
        element_id,
    ).strip()


def _visible(driver, element_id: str) -> bool:
    return driver.find_element("id", element_id).is_displayed()


def _sse(text: str) -> list[tuple[str, object]]:
    events = []
    for frame in text.replace("\r\n", "\n").split("\n\n"):
        kind, data = "message", []
        for line in frame.split("\n"):
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        if data:
            events.append((kind, json.loads("\n".join(data))))
    return events


def _last_stream(driver) -> tuple[dict, list[tuple[str, object]]]:
    """The page's last /api/ask/stream request: its JSON body and the events it received."""
    entry = wait_for(
        lambda: next(
            (
                e
                for e in reversed(driver.execute_script("return window.__requests;"))
                if e["url"].endswith("/api/ask/stream") and e["text"] is not None
            ),
            None,
        ),
        10,
        "the recorded answer stream",
    )
    return json.loads(entry["body"]), _sse(entry["text"])


def _done(events) -> dict:
    done = [data for kind, data in events if kind == "done"]
    assert done, f"no done event: {events}"
    return done[-1]


def _shown(text: str) -> str:
    """An answer as the page shows it, for comparison: the page formats light Markdown (list
    markers, code fences, `code`, **bold**, # headings become elements), so compare the words
    without that markup and without whitespace."""
    text = re.sub(r"(?m)^\s*```.*$", "", text)
    text = re.sub(r"(?m)^\s*(?:[-*]|\d+\.)\s+", "", text)
    return re.sub(r"[\s*`#]", "", text)


def _requests_stay_home(driver, host: str) -> None:
    """Every request the page made (fetches and loaded resources) went to the appliance."""
    urls = [e["url"] for e in driver.execute_script("return window.__requests || [];")]
    urls += driver.execute_script(RESOURCES_JS)["loaded"]
    assert urls
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme in ("", "http", "https", "data", "blob"), url
        if parts.scheme in ("http", "https"):
            assert parts.netloc == host, f"the page used an outside address: {url}"
        if not parts.scheme:
            assert url.startswith("/") and not url.startswith("//"), url


def _stored_votes(data: Path) -> list[tuple[str, str]]:
    """The feedback rows, from whichever SQLite file in the data dir holds them."""
    votes = []
    for path in sorted(data.glob("*.sqlite3")):
        with sqlite3.connect(path) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'feedback'").fetchone():
                votes += db.execute("SELECT query_id, rating FROM feedback").fetchall()
    return votes


def _screenshot(driver) -> None:
    """With APPLIANCE_SCREENSHOT=path, a desktop screenshot of the page as it is now."""
    path = os.environ.get("APPLIANCE_SCREENSHOT")
    if not path:
        return
    size = driver.get_window_size()
    driver.set_window_size(1280, 900)
    driver.execute_script("window.scrollTo(0, 0); document.activeElement.blur();")
    time.sleep(0.3)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(path)
    driver.set_window_size(size["width"], size["height"])


def _ids(driver, selector: str) -> list[str]:
    return [e.get_attribute("id") for e in driver.find_elements("css selector", selector)]


def _ask(driver, text: str) -> None:
    question = driver.find_element("id", "question")
    driver.execute_script("arguments[0].value = '';", question)
    question.send_keys(text)
    driver.find_element("id", "ask-button").click()


def _answered(driver, server):
    def check():
        if _visible(driver, "error"):
            raise AssertionError(
                f"the page shows an error: {_text(driver, 'error')}\n"
                f"server log:\n{server.logs()[-3000:]}"
            )
        button = driver.find_element("id", "ask-button")
        return not button.get_attribute("hidden") and _text(driver, "answer")

    return check


def _fake_answer(driver, events: list[tuple[str, object]]) -> None:
    body = "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in events)
    headers = {"Content-Type": "text/event-stream"}
    driver.execute_script(
        "window.__fakes.push({status: 200, headers: arguments[0], body: arguments[1]});",
        headers,
        body,
    )


def _check_sources_against(driver, done: dict) -> None:
    """Cited passages listed as cited, the others only under "Also retrieved"."""
    cited = [f"citation-{c['number']}" for c in done["citations"] if c["cited"]]
    uncited = [f"citation-{c['number']}" for c in done["citations"] if not c["cited"]]
    assert _ids(driver, "#citations li") == cited
    assert _ids(driver, "#citations li.cited") == cited
    assert _ids(driver, "#uncited li") == uncited
    assert _ids(driver, "#uncited li.uncited") == uncited
    assert _ids(driver, "#uncited .cited-badge") == []
    assert len(driver.find_elements("css selector", "#citations .cited-badge")) == len(cited)
    assert _visible(driver, "also-retrieved") == bool(uncited)
    if uncited:
        assert "found" in _text(driver, "also-retrieved").lower()
    # And the same from the answer's own text: what is cited is what its [n] name.
    marks = {int(n) for n in re.findall(r"\[(\d+)\]", _text(driver, "answer"))}
    assert {int(i.split("-")[1]) for i in cited} == marks & {c["number"] for c in done["citations"]}


TRUST_LEVELS = {
    "backed": "Backed by the cited sources",
    "partly": "Partly backed by the cited sources",
    "not_backed": "Not backed by the sources",
    "quoted": "Quoted word for word: check that the passages answer your question",
}


def _expected_level(trust: dict) -> str:
    if "level" in trust:
        return trust["level"]
    if not trust["cited"]:
        return "not_backed"
    if trust["support"] >= 0.75 and not trust["invalid_citations"]:
        return "backed"
    return "partly" if trust["support"] >= 0.4 else "not_backed"


def _check_trust(driver, done: dict) -> None:
    """A plain level, never a percentage; an answer citing nothing is never shown as backed;
    the breakdown is behind "?"."""
    trust = done["trust"]
    assert _visible(driver, "trust")
    level = _expected_level(trust)
    assert _text(driver, "trust-level") == TRUST_LEVELS[level]
    assert "%" not in _text(driver, "trust")
    assert driver.find_element("id", "trust").get_attribute("class") == f"trust {level}"
    if not trust["cited"]:
        assert level == "not_backed"
    help_button = driver.find_element("id", "trust-help")
    assert help_button.size["width"] >= 24 and help_button.size["height"] >= 24
    assert not _visible(driver, "trust-explain")
    help_button.click()
    assert f"Sentences backed by the passages they cite: {round(trust['support'] * 100)} %" in (
        _text(driver, "trust-explain")
    )
    help_button.click()
    warnings = _text(driver, "warnings")
    if not trust["cited"]:
        assert "cites none" in warnings, warnings
    for n in trust["invalid_citations"]:
        assert f"[{n}]" in warnings, warnings


def test_page_asks_streams_and_cites(make_server, browser, tmp_path):
    started = time.monotonic()
    server = make_server(tmp_path / "appliance")
    (server.kb / "leave.txt").write_text(LEAVE_POLICY)
    (server.kb / "expenses.txt").write_text(EXPENSES_POLICY)
    server.start()
    wait_for(
        lambda: all(
            server.documents().get(name, {}).get("status") == "indexed"
            for name in ("leave.txt", "expenses.txt")
        ),
        30,
        "leave.txt and expenses.txt to be indexed",
    )

    browser.get(server.url + "/")
    assert "appliance" in browser.title.lower()
    assert _text(browser, "question") == "" and _visible(browser, "ask-button")
    assert not _visible(browser, "conversation")
    assert not _visible(browser, "sign-out")  # no token, no users: nobody signed in

    # Self-contained: nothing loaded from, or pointing to, any host but the appliance.
    host = urlsplit(server.url).netloc
    resources = browser.execute_script(RESOURCES_JS)
    assert resources["loaded"], "the page loaded no stylesheet or script at all"
    for url in resources["loaded"] + resources["referenced"]:
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https", "data", "blob"), url
        if parts.scheme in ("http", "https"):
            assert parts.netloc == host, f"the page uses an outside resource: {url}"

    from selenium.webdriver.common.keys import Keys

    browser.execute_script(SPY_JS)
    question = browser.find_element("id", "question")
    button = browser.find_element("id", "ask-button")

    # An empty question is refused in the page, plainly.
    button.click()
    wait_for(lambda: _visible(browser, "error"), 5, "the empty-question error")
    assert _text(browser, "error")
    assert not button.get_attribute("hidden")

    # A question the server rejects (HTTP 400 JSON) shows the server's reason, not a code.
    browser.execute_script("arguments[0].value = 'x'.repeat(5000);", question)
    button.click()
    wait_for(lambda: "too long" in _text(browser, "error"), 15, "the server's reason in the page")
    assert "400" not in _text(browser, "error")
    assert not _visible(browser, "result")
    wait_for(lambda: not button.get_attribute("hidden"), 10, "the Ask button to come back")

    # Shift+Enter is a new line, not a question.
    browser.execute_script("arguments[0].value = '';", question)
    question.send_keys("line one", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "line two")
    assert question.get_property("value") == "line one\nline two"
    assert not button.get_attribute("hidden") and _text(browser, "status") == ""

    # The real question: streamed answer, then the sources, marked cited or not.
    browser.execute_script(WATCH_JS)
    _ask(browser, QUESTION)
    wait_for(_answered(browser, server), 60, "the answer to finish")
    seen = browser.execute_script("return window.__seen;")
    assert seen["stop"], "Stop did not take the Ask button's place while answering"
    assert seen["status"], "the status line never showed progress"
    assert len(seen["answers"]) >= 2, f"the answer did not stream in: {seen['answers']}"
    assert _text(browser, "status") == ""  # progress cleared when done

    sent, events = _last_stream(browser)
    assert sent == {"question": QUESTION}  # a first question: no conversation yet
    first = _done(events)
    answer = _text(browser, "answer")
    assert _shown(answer) == _shown(first["answer"]) and "nothing" not in answer.lower(), answer
    assert _text(browser, "asked") == QUESTION
    assert len(first["citations"]) >= 2, first["citations"]
    _check_sources_against(browser, first)
    _check_trust(browser, first)
    leave = browser.find_element("id", "citation-1")
    assert leave.find_element("css selector", ".cite-source").text.startswith("leave.txt")
    assert "relevance" in leave.find_element("css selector", ".cite-meta").text
    assert "25 days" in leave.find_element("css selector", ".cite-snippet").text
    assert not _visible(browser, "searched-for")  # searched for what was typed
    assert _visible(browser, "conversation") and _ids(browser, "#history li") == []
    assert not _visible(browser, "upload-zone")  # uploads are off by default
    browser.save_screenshot(str(tmp_path / "page.png"))

    # The status line says "Ready"; the model and where it runs are for the administrator,
    # on hover (a model's file name means nothing to an office user).
    wait_for(lambda: _text(browser, "server-status") == "Ready", 10, "the status line")
    detail = browser.find_element("id", "server-status").get_attribute("title")
    assert re.fullmatch(r"Model: \S.* on (CPU|GPU|remote.*)", detail), detail

    # A chip opens the side panel: the passage from the file, and a link to the original.
    chip = leave.find_element("css selector", "button.chip")
    chip.click()
    wait_for(lambda: "25 days" in _text(browser, "panel-passages"), 10, "the passage in the panel")
    assert _visible(browser, "passage-panel")
    panel = browser.find_element("id", "passage-panel")
    assert panel.get_attribute("role") == "dialog"
    assert panel.get_attribute("aria-modal") is None  # a side column on a desktop screen
    assert "25 days" in panel.find_element("css selector", "mark.passage-text").text
    assert _text(browser, "panel-where").startswith("leave.txt")
    link = browser.find_element("id", "panel-open")
    assert link.text.startswith("Open original")
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    assert urlsplit(link.get_attribute("href")).path == "/files/leave.txt"
    with urllib.request.urlopen(link.get_attribute("href"), timeout=10) as original:
        assert "25 days" in original.read().decode()
    assert browser.execute_script(
        "return document.getElementById('passage-panel').contains(document.activeElement);"
    ), "focus did not move into the side panel"
    _screenshot(browser)
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_for(lambda: not _visible(browser, "passage-panel"), 5, "Escape to close the panel")
    assert browser.switch_to.active_element == chip, "focus did not come back to the chip"

    # A question that fails at once keeps the answer shown, with its sources.
    browser.execute_script("arguments[0].value = 'x'.repeat(5000);", question)
    button.click()
    wait_for(lambda: "too long" in _text(browser, "error"), 15, "the error")
    assert _shown(_text(browser, "answer")) == _shown(first["answer"])
    assert _visible(browser, "sources") and _ids(browser, "#history li") == []
    browser.execute_script("arguments[0].value = '';", question)

    # Thumbs down: stored with the answer's id; it asks what was wrong, and the reason is
    # stored with the vote; pressed again, the vote is taken back; then down once more.
    down = browser.find_element("id", "vote-down")
    down.click()
    wait_for(lambda: "Thanks" in _text(browser, "feedback-status"), 10, "the thanks")
    assert down.get_attribute("aria-pressed") == "true"
    assert browser.find_element("id", "vote-up").get_attribute("aria-pressed") == "false"
    assert _stored_votes(server.data) == [(first["id"], "down")]
    assert _visible(browser, "feedback-reason")
    browser.find_element("id", "feedback-comment").send_keys("It left out part-time staff.")
    browser.find_element("css selector", "#feedback-reason button").click()
    wait_for(lambda: not _visible(browser, "feedback-reason"), 10, "the reason sent")
    down.click()
    wait_for(lambda: "taken back" in _text(browser, "feedback-status"), 10, "the vote taken back")
    assert down.get_attribute("aria-pressed") == "false" and _stored_votes(server.data) == []
    down.click()
    wait_for(lambda: down.get_attribute("aria-pressed") == "true", 10, "the vote again")
    posted = [
        e
        for e in browser.execute_script("return window.__requests;")
        if "/api/feedback" in e["url"]
    ]
    sent = [{"id": first["id"], "rating": "down", "comment": ""}]
    sent += [{"id": first["id"], "rating": "down", "comment": "It left out part-time staff."}]
    sent += [{"id": first["id"], "rating": "none", "comment": ""}]
    sent += [{"id": first["id"], "rating": "down", "comment": ""}]
    assert [(json.loads(e["body"]), e["status"]) for e in posted] == [(b, 201) for b in sent]
    assert _stored_votes(server.data) == [(first["id"], "down")]

    # A follow-up goes with the conversation id; the first turn moves up into the history.
    _ask(browser, FOLLOW_UP)
    wait_for(_answered(browser, server), 60, "the follow-up answer to finish")
    sent, events = _last_stream(browser)
    assert sent == {"question": FOLLOW_UP, "conversation_id": first["conversation_id"]}
    second = _done(events)
    assert second["conversation_id"] == first["conversation_id"]
    turns = browser.find_elements("css selector", "#history li.turn")
    assert len(turns) == 1
    assert turns[0].find_element("css selector", ".turn-question").text == QUESTION
    more = turns[0].find_element("css selector", "button.turn-more")  # the whole earlier answer
    more.click()
    assert more.get_attribute("aria-expanded") == "true"
    assert "open" in turns[0].find_element("css selector", ".turn-answer").get_attribute("class")
    assert "**" not in turns[0].find_element("css selector", ".turn-answer").text
    assert _text(browser, "asked") == FOLLOW_UP
    standalone = second["standalone_question"].strip()
    if standalone.lower() != FOLLOW_UP.lower():
        assert _text(browser, "searched-for-text") == f"Searched for: {standalone}"
    if second["citations"]:
        _check_sources_against(browser, second)
        _check_trust(browser, second)
    assert question.get_property("value") == ""  # ready for the next one
    browser.save_screenshot(str(tmp_path / "page-follow-up.png"))
    if standalone.lower() != FOLLOW_UP.lower():
        # A rewrite gone wrong is corrected by asking what was typed, on its own.
        browser.find_element("id", "search-typed").click()
        wait_for(_answered(browser, server), 60, "the typed question, asked on its own")
        sent, _ = _last_stream(browser)
        assert sent == {"question": FOLLOW_UP}  # no conversation: searched as typed
        assert not _visible(browser, "searched-for") and _ids(browser, "#history li") == []

    # Same page at phone width: nothing wider than the screen.
    browser.set_window_size(390, 844)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    browser.save_screenshot(str(tmp_path / "page-phone.png"))
    browser.set_window_size(1100, 900)

    # An answer citing a passage it was not given (served by the spy, not the model).
    passages = [
        {"number": 1, "source": "leave.txt", "page": None, "heading": "Annual leave",
         "score": 0.9, "relevance": 0.8, "snippet": "Full-time staff get 25 days."},
        {"number": 2, "source": "hr/expenses.pdf", "page": 3, "heading": "Travel",
         "score": 0.4, "relevance": 0.5, "snippet": "Hotel nights up to 120 euros."},
    ]  # fmt: skip
    fake = {
        "id": "x",
        "answer": "Full-time staff get 25 days [1], more after five years [7].",
        "citations": [{**passages[0], "cited": True}, {**passages[1], "cited": False}],
        "timings": {"total_ms": 1200.0, "queue_ms": 0.0},
        "trust": {"score": 0.55, "support": 0.5, "citations": 0.5, "relevance": 0.9,
                  "cited": [1], "invalid_citations": [7]},
        "conversation_id": first["conversation_id"],
        "standalone_question": "annual leave after five years",
    }  # fmt: skip
    _fake_answer(browser, [("citations", passages), ("token", fake["answer"]), ("done", fake)])
    _ask(browser, "And after five years?")
    wait_for(lambda: "Partly backed" in _text(browser, "trust-value"), 10, "the faked answer")
    _check_sources_against(browser, fake)
    _check_trust(browser, fake)
    assert "[7], which is not one of the sources" in _text(browser, "warnings")
    assert "cites none" not in _text(browser, "warnings")
    assert _text(browser, "citation-2").startswith("hr/expenses.pdf, page 3")
    assert [e.text for e in browser.find_elements("css selector", "#answer .cite")] == ["[1]"]
    assert [e.text for e in browser.find_elements("css selector", "#answer .cite-invalid")] == [
        "[7]"
    ]
    # Two earlier turns; one when the follow-up was asked again on its own (a new conversation).
    earlier = 1 if standalone.lower() != FOLLOW_UP.lower() else 2
    assert len(browser.find_elements("css selector", "#history li.turn")) == earlier
    browser.find_element("css selector", "#answer a.cite").click()
    wait_for(lambda: _visible(browser, "passage-panel"), 5, "the panel from [1] in the answer")
    assert _text(browser, "panel-title") == "Source [1]"
    wait_for(lambda: "25 days" in _text(browser, "panel-passages"), 5, "the snippet in the panel")
    browser.find_element("id", "panel-close").click()
    assert not _visible(browser, "passage-panel")
    browser.save_screenshot(str(tmp_path / "page-warning.png"))
    browser.execute_script("document.getElementById('sources').scrollIntoView();")
    browser.save_screenshot(str(tmp_path / "page-sources.png"))

    # Busy: a 503 with Retry-After, and a stream that gives up waiting in line.
    browser.execute_script(
        "window.__fakes.push({status: 503, headers: {'Retry-After': '7', "
        "'Content-Type': 'application/json'}, body: JSON.stringify({error: 'busy: full'})});"
    )
    _ask(browser, "Anything?")
    wait_for(lambda: _visible(browser, "error"), 10, "the busy message")
    assert _text(browser, "error") == "The assistant is busy, try again in 7 s."
    gave_up = {"error": "busy: no answer slot came free", "retry_after": 10}
    _fake_answer(browser, [("queued", {"position": 3}), ("error", gave_up)])
    _ask(browser, "Anything?")
    wait_for(lambda: "10 s" in _text(browser, "error"), 10, "the busy error event")
    assert _text(browser, "error") == "The assistant is busy, try again in 10 s."
    wait_for(lambda: not button.get_attribute("hidden"), 5, "the Ask button to come back")

    # "New conversation" forgets the id and clears the history and the answer.
    assert len(browser.find_elements("css selector", "#history li.turn")) == earlier + 1
    browser.find_element("id", "new-conversation").click()
    assert not _visible(browser, "conversation") and not _visible(browser, "result")
    assert _ids(browser, "#history li") == [] and _text(browser, "answer") == ""

    # The documents panel lists what is indexed.
    browser.find_element("css selector", "#documents-panel summary").click()
    wait_for(lambda: "leave.txt" in _text(browser, "documents"), 10, "the documents list")
    assert "searchable" in _text(browser, "documents")
    wait_for(
        lambda: re.fullmatch(r"2 searchable · \d+ passages?", _text(browser, "documents-status")),
        10,
        f"the totals line (it says {_text(browser, 'documents-status')!r})",
    )
    assert re.search(r"1 passage · indexed (just now|\d+ min ago)", _text(browser, "documents"))
    _requests_stay_home(browser, host)

    # No script errors, no failed loads.
    severe = [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "/api/ask/stream" not in e["message"]
    ]  # the deliberate 400 above
    assert not severe, severe

    # The appliance gone: the page says so rather than hanging or staying silent. The question
    # starts a new conversation: no id is sent.
    server.stop()
    _ask(browser, QUESTION)
    wait_for(lambda: "reach" in _text(browser, "error"), 15, "the network error in the page")
    wait_for(lambda: not button.get_attribute("hidden"), 5, "the Ask button to come back")
    asks = [
        e
        for e in browser.execute_script("return window.__requests;")
        if e["url"].endswith("/api/ask/stream")
    ]
    assert json.loads(asks[-1]["body"]) == {"question": QUESTION}
    assert time.monotonic() - started < 90
    browser.save_screenshot(str(tmp_path / "page-error.png"))


def test_page_shows_its_place_in_line(make_server, browser, tmp_path):
    """One answer slot, held by two long answers streamed from Python: the page's question
    waits in line, says so, and is answered once its turn comes."""
    server = make_server(
        tmp_path / "appliance",
        # A long queue timeout: on a loaded machine two long answers can take over 30 s.
        # Generate mode: auto mode gives up on a draft that cites nothing after 60 tokens,
        # and so short a hold was over before the second question was in line (a loaded run).
        extra_config="limits:\n  max_concurrent_requests: 1\n  max_waiting: 4\n"
        "  queue_timeout_s: 120\ngenerator:\n  max_tokens: 200\nanswers:\n  mode: generate\n",
    )
    (server.kb / "leave.txt").write_text(LEAVE_POLICY)
    server.start()
    wait_for(
        lambda: server.documents().get("leave.txt", {}).get("status") == "indexed",
        30,
        "leave.txt to be indexed",
    )
    browser.get(server.url + "/")
    browser.execute_script(WATCH_JS)

    results: list[object] = []

    def hold_the_slot():
        try:
            results.append(server.stream(LONG_QUESTION)[-1][0])
        except Exception as err:  # reported by the assertion below
            results.append(err)

    holders = [threading.Thread(target=hold_the_slot, daemon=True) for _ in range(2)]
    for holder in holders:
        holder.start()
        time.sleep(0.1)
    wait_for(
        lambda: server.get("/ready")[1].get("answers") == {"running": 1, "waiting": 1},
        20,
        "one answer generating and one waiting",
    )

    _ask(browser, QUESTION)
    wait_for(
        lambda: _text(browser, "status").startswith("Waiting for the assistant"),
        20,
        "the queue position",
    )
    wait_for(_answered(browser, server), 120, "the answer after waiting in line")
    seen = browser.execute_script("return window.__seen;")["status"]
    waiting = [s for s in seen if s.startswith("Waiting for the assistant")]
    # In line first, and only then written.
    assert seen.index(waiting[0]) < seen.index("Writing the answer…"), seen
    # One answer is being written and one question waits before this one: it is number 2.
    assert waiting[0] == "Waiting for the assistant: your question is number 2 in line…", seen
    assert all(
        re.fullmatch(r"Waiting for the assistant: your question is (next|number \d+) in line…", s)
        for s in waiting
    ), seen
    assert "in line" in _text(browser, "timing")  # "… · waited 3.2 s in line"
    for holder in holders:
        holder.join(60)
    assert results == ["done", "done"], results
    browser.save_screenshot(str(tmp_path / "page-queued.png"))


def test_page_library_uploads_and_untrusted_text(make_server, browser, tmp_path):
    """The knowledge-base panel (a failed file and its reason, totals), an upload through the
    file button that becomes indexed, a document holding markup shown as text, and the phone
    layout with the side panel as a drawer."""
    server = make_server(
        tmp_path / "appliance", extra_config="server:\n  uploads: true\n  max_upload_mb: 0.05\n"
    )
    (server.kb / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF\n")
    (server.kb / "notice.txt").write_text(
        "Cafeteria notice\n\nSoup is served on Mondays. <script>alert(1)</script> "
        '<img src=x onerror="alert(2)"> Bring your own cup.\n'
    )
    server.start()
    wait_for(
        lambda: (
            server.documents().get("notice.txt", {}).get("status") == "indexed"
            and server.documents().get("broken.pdf", {}).get("status") not in (None, "pending")
        ),
        30,
        "notice.txt and broken.pdf to be settled",
    )
    reason = server.documents()["broken.pdf"]["error"]
    assert server.documents()["broken.pdf"]["status"] == "failed" and reason

    browser.get(server.url + "/")
    browser.execute_script(SPY_JS)
    host = urlsplit(server.url).netloc
    scripts = browser.execute_script("return document.querySelectorAll('script').length;")

    # The failed file, with its reason, and the totals.
    browser.find_element("css selector", "#documents-panel summary").click()
    wait_for(lambda: "broken.pdf" in _text(browser, "documents"), 10, "the documents list")

    def broken_row():
        try:
            for e in browser.find_elements("css selector", "#documents li"):
                if "broken.pdf" in e.text:
                    detail = e.find_element("css selector", ".doc-error details p")
                    return (
                        e.find_element("css selector", ".doc-status").text,
                        e.find_element("css selector", ".doc-error > span").text,
                        detail.get_attribute("textContent"),
                    )
        except StaleElementReferenceException:  # the list re-rendered under us: look again
            pass
        return None

    # The reason in the reader's words, the appliance's own sentence one click away.
    assert server.documents()["broken.pdf"]["code"] == "unreadable"
    assert wait_for(broken_row, 10, "the failed row") == (
        "could not be read",
        "It could not be read: it may be damaged, password-protected, or not the format its "
        "name says.",
        reason,
    )
    assert _text(browser, "documents-status").startswith("1 searchable · 1 could not be read · ")

    # An upload through the file button: saved into uploads/, then pending, then indexed.
    wait_for(lambda: _visible(browser, "upload-zone"), 15, "the drop zone (uploads are on)")
    note = tmp_path / "parking.txt"
    note.write_text("Parking rules\n\nBicycles go in the basement, cars in the yard.\n")
    browser.find_element("id", "upload-input").send_keys(str(note))
    wait_for(
        lambda: "uploads/parking.txt" in _text(browser, "upload-status"), 15, "the upload to finish"
    )
    assert (server.kb / "uploads" / "parking.txt").read_text() == note.read_text()

    def uploaded_status():
        try:
            for item in browser.find_elements("css selector", "#documents li"):
                if item.find_element("css selector", ".doc-path").text == "uploads/parking.txt":
                    return item.find_element("css selector", ".doc-status").text
        except StaleElementReferenceException:  # the list re-rendered under us: look again
            pass
        return None

    wait_for(lambda: uploaded_status() == "searchable", 30, "the uploaded file to be indexed")
    assert _text(browser, "documents-status").startswith("2 searchable · 1 could not be read · ")

    # A refused upload names the file and says why, on the page (was "The upload failed").
    def refused(name: str, content: bytes, said: str) -> None:
        path = tmp_path / name
        path.write_bytes(content)
        browser.find_element("id", "upload-input").send_keys(str(path))
        wait_for(lambda: _text(browser, "upload-status").startswith(said), 15, f"{name} refused")

    refused("setup.exe", b"MZ" + bytes(100), "setup.exe was not added: this kind of file is not")
    # 0.1 MB, over server.max_upload_mb: refused before it is sent
    refused(
        "manual.txt",
        b"Chapter one. " * 8000,
        "manual.txt is 0.1 MB: files of up to 0.05 MB can be added here.",
    )
    assert sorted(p.name for p in (server.kb / "uploads").iterdir()) == ["parking.txt"]

    # Markup in a document, in the answer and in a snippet is shown as text, never run.
    passage = {"number": 1, "source": "notice.txt", "chunk": 0, "page": None,
               "heading": "Cafeteria notice", "score": 0.8, "relevance": 0.7,
               "snippet": "Soup is served on Mondays. <script>alert(1)</script>"}  # fmt: skip
    answer = "Soup is served on **Mondays** [1]. <script>alert(3)</script>\n\n- `<b>cup</b>`"
    done = {"id": "q-markup", "answer": answer, "citations": [{**passage, "cited": True}],
            "timings": {"total_ms": 900.0, "queue_ms": 0.0},
            "trust": {"score": 0.8, "support": 1.0, "citations": 1.0, "relevance": 0.5,
                      "cited": [1], "invalid_citations": []},
            "conversation_id": "c-markup", "standalone_question": "soup"}  # fmt: skip
    _fake_answer(browser, [("citations", [passage]), ("token", answer), ("done", done)])
    _ask(browser, "When is soup served?")
    wait_for(
        lambda: (
            "Mondays" in _text(browser, "answer")
            and _text(browser, "trust-value") == TRUST_LEVELS["backed"]
        ),
        15,
        "the faked answer",
    )
    assert "<script>alert(3)</script>" in _text(browser, "answer")
    assert browser.find_element("css selector", "#answer strong").text == "Mondays"
    assert browser.find_element("css selector", "#answer li code").text == "<b>cup</b>"
    browser.find_element("css selector", "#citation-1 button.chip").click()
    wait_for(lambda: "Bring your own cup" in _text(browser, "panel-passages"), 10, "the passage")
    shown = browser.find_element("css selector", "#passage-panel mark.passage-text").text
    assert '<script>alert(1)</script> <img src=x onerror="alert(2)">' in shown
    assert browser.execute_script("return document.querySelectorAll('script').length;") == scripts
    assert browser.execute_script("return document.querySelectorAll('#page img').length;") == 0
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 (raises when there is no alert)
    assert urlsplit(browser.find_element("id", "panel-open").get_attribute("href")).path == (
        "/files/notice.txt"
    )

    # A phone, 360 px wide: the panel becomes a modal drawer, nothing is wider than the screen.
    browser.set_window_size(360, 800)
    width = browser.execute_script("return window.innerWidth;")
    assert width <= 400, f"the window did not get narrow ({width}px)"
    wait_for(
        lambda: browser.find_element("id", "passage-panel").get_attribute("aria-modal") == "true",
        5,
        "the drawer to be modal",
    )
    overflow = "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    assert browser.execute_script(overflow) <= 0
    browser.save_screenshot(str(tmp_path / "phone-drawer.png"))
    browser.find_element("id", "panel-close").click()
    assert not _visible(browser, "passage-panel")
    browser.execute_script("document.getElementById('documents-panel').scrollIntoView();")
    assert browser.execute_script(overflow) <= 0, "the page is wider than a 360 px phone"
    browser.save_screenshot(str(tmp_path / "phone-library.png"))

    _requests_stay_home(browser, host)
