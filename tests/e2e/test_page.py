"""The page, driven by a real headless Chromium against the real server.

Needs the Debian packages `chromium` and `chromium-driver` (/usr/bin/chromium and
/usr/bin/chromedriver) and the pip package `selenium`. Selenium is pointed at both binaries
explicitly, so Selenium Manager never runs and nothing is downloaded. A missing browser fails
the test (it is not skipped): the page is part of the product.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "run: apt-get install -y chromium chromium-driver"

QUESTION = "How many days of annual leave do full-time staff get?"

# Everything the page loaded, and every element that refers to another resource.
RESOURCES_JS = """
return {
  loaded: performance.getEntriesByType('resource').map(e => e.name),
  referenced: Array.from(document.querySelectorAll(
      'script[src], link[href], img[src], iframe[src], source[src], video[src], audio[src]'
  )).map(e => e.src || e.href),
};
"""

# Records, while the answer is being written, whether the button was ever disabled and what the
# status line said: the answer may be quick, so polling from Python could miss that moment.
WATCH_JS = """
window.__seen = {disabled: false, status: [], answers: []};
const answer = document.getElementById('answer');
const button = document.getElementById('ask-button');
const status = document.getElementById('status');
new MutationObserver(() => {
  if (button.disabled) window.__seen.disabled = true;
  const text = status.textContent.trim();
  if (text && !window.__seen.status.includes(text)) window.__seen.status.push(text);
  const sofar = answer.textContent;
  const seen = window.__seen.answers;
  if (sofar && sofar !== seen[seen.length - 1]) seen.push(sofar);
}).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
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


def test_page_asks_streams_and_cites(make_server, browser, tmp_path):
    started = time.monotonic()
    server = make_server(tmp_path / "appliance")
    (server.kb / "leave.txt").write_text(
        "Annual leave policy\n\nFull-time staff get 25 days of annual leave per year. "
        "Part-time staff get leave pro rata.\n"
    )
    server.start()
    wait_for(
        lambda: server.documents().get("leave.txt", {}).get("status") == "indexed",
        30,
        "leave.txt to be indexed",
    )

    browser.get(server.url + "/")
    assert "appliance" in browser.title.lower()
    assert _text(browser, "question") == "" and _visible(browser, "ask-button")

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

    question = browser.find_element("id", "question")
    button = browser.find_element("id", "ask-button")

    # An empty question is refused in the page, plainly.
    button.click()
    wait_for(lambda: _visible(browser, "error"), 5, "the empty-question error")
    assert _text(browser, "error")
    assert not button.get_attribute("disabled")

    # A question the server rejects (HTTP 400 JSON) shows the server's error.
    browser.execute_script("arguments[0].value = 'x'.repeat(5000);", question)
    button.click()
    wait_for(lambda: "400" in _text(browser, "error"), 15, "the HTTP 400 error in the page")
    assert not _visible(browser, "result")
    wait_for(lambda: not button.get_attribute("disabled"), 10, "the Ask button to come back")

    # The real question: streamed answer, then the sources.
    # Shift+Enter is a new line, not a question.
    browser.execute_script("arguments[0].value = '';", question)
    question.send_keys("line one", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "line two")
    assert question.get_property("value") == "line one\nline two"
    assert not button.get_attribute("disabled") and _text(browser, "status") == ""

    browser.execute_script("arguments[0].value = '';", question)
    question.send_keys(QUESTION)
    browser.execute_script(WATCH_JS)
    button.click()

    def answered():
        if _visible(browser, "error"):
            raise AssertionError(
                f"the page shows an error: {_text(browser, 'error')}\n"
                f"server log:\n{server.logs()[-3000:]}"
            )
        return not button.get_attribute("disabled") and _text(browser, "answer")

    wait_for(answered, 60, "the answer to finish")
    seen = browser.execute_script("return window.__seen;")
    assert seen["disabled"], "the Ask button was not disabled while answering"
    assert seen["status"], "the status line never showed progress"
    assert len(seen["answers"]) >= 2, f"the answer did not stream in: {seen['answers']}"
    assert _text(browser, "status") == ""  # progress cleared when done

    answer = _text(browser, "answer")
    assert answer and "nothing" not in answer.lower(), answer
    items = browser.find_elements("css selector", "#citations li")
    assert items, "no citations listed"
    first = items[0]
    assert first.find_element("css selector", ".cite-source").text.startswith("leave.txt")
    assert "score" in first.find_element("css selector", ".cite-meta").text
    assert "25 days" in first.find_element("css selector", ".cite-snippet").text
    assert first.get_attribute("id") == "citation-1"
    browser.save_screenshot(str(tmp_path / "page.png"))

    # Same page at phone width: nothing wider than the screen.
    browser.set_window_size(390, 844)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    browser.save_screenshot(str(tmp_path / "page-phone.png"))

    # The documents panel lists what is indexed.
    browser.set_window_size(1100, 900)
    browser.find_element("css selector", "#documents-panel summary").click()
    wait_for(lambda: "leave.txt" in _text(browser, "documents"), 10, "the documents list")
    assert "indexed" in _text(browser, "documents")

    # No script errors, no failed loads.
    severe = [
        e
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "/api/ask/stream" not in e["message"]
    ]  # the deliberate 400 above
    assert not severe, severe

    # The appliance gone: the page says so rather than hanging or staying silent.
    server.stop()
    button.click()
    wait_for(lambda: "reach" in _text(browser, "error"), 15, "the network error in the page")
    wait_for(lambda: not button.get_attribute("disabled"), 5, "the Ask button to come back")
    assert time.monotonic() - started < 90
    browser.save_screenshot(str(tmp_path / "page-error.png"))
