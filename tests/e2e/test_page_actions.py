"""Actions in the page, driven by a real headless Chromium against the real server with one
tool (a ticket API on loopback): a question that asks for an action gets a confirmation card
(the tool, what the assistant said, a field per argument); Confirm calls the API with the
form's arguments and shows the result, Cancel calls nothing. Browser set-up as in test_page.py.
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.conftest import wait_for
from tests.e2e.test_page import (  # noqa: F401 (browser: the fixture)
    SPY_JS,
    _ask,
    _done,
    _last_stream,
    _text,
    _visible,
    browser,
)
from tests.e2e.ticket_api import REPORT, TOKEN

pytestmark = pytest.mark.e2e

REQUEST = "The printer on floor 3 is broken, please report it."


@pytest.fixture
def page(make_server, browser, tmp_path, tickets):  # noqa: F811 (the fixture imported above)
    """The page of a server with the one tool, with the fetch spy installed."""
    tool = {
        "name": "report_broken_device",
        "description": "Report broken office equipment (printers, screens) to facilities",
        "url": f"{tickets.url}/tickets",
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "parameters": REPORT,
    }
    config = yaml.safe_dump({"tools": {"enabled": True, "http": [tool]}})
    server = make_server(tmp_path / "appliance", extra_config=config).start()
    browser.get(server.url + "/")
    browser.execute_script(SPY_JS)
    return browser, server


def _proposed(driver, server) -> dict:
    """Ask for the action; wait for the card; the proposal the stream carried."""
    _ask(driver, REQUEST)

    def card():
        if _visible(driver, "error"):
            raise AssertionError(
                f"the page shows an error: {_text(driver, 'error')}\n"
                f"server log:\n{server.logs()[-3000:]}"
            )
        return _visible(driver, "action") and driver.find_elements(
            "css selector", "#action form button[type=submit]"
        )

    wait_for(card, 120, "the confirmation card")
    sent, events = _last_stream(driver)
    assert sent == {"question": REQUEST}
    assert [kind for kind, _ in events] == ["proposal", "done"], events
    done = _done(events)
    assert done["kind"] == "proposal" and done["proposal"]["tool"] == "report_broken_device"
    return done


def _control(driver, name: str):
    return driver.find_element("css selector", f"#action [name={name}]")


def _label(driver, control) -> str:
    label = driver.find_element("css selector", f"label[for='{control.get_attribute('id')}']")
    return label.text


def _posted(driver, path: str) -> list[tuple[dict, int]]:
    return [
        (json.loads(e["body"]), e["status"])
        for e in driver.execute_script("return window.__requests;")
        if e["url"].endswith(path)
    ]


def _check_card(driver, done: dict) -> None:
    """The tool, its description, the assistant's text, and one labelled field per argument,
    prefilled from the proposal, the required ones marked and the missing ones flagged."""
    proposal = done["proposal"]
    assert _text(driver, "answer-heading") == "Proposed action"
    assert not _visible(driver, "answer")
    card = driver.find_element("id", "action")
    assert card.find_element("css selector", ".action-tool").text == "report_broken_device"
    assert "Report broken office equipment" in card.text
    assert card.find_element("css selector", ".action-message").text == done["answer"].strip()
    assert _text(driver, "asked") == REQUEST

    names = [e.get_attribute("name") for e in card.find_elements("css selector", "input, select")]
    assert names == ["device", "location", "priority"]
    for name in names:
        control = _control(driver, name)
        label = _label(driver, control)
        assert label.startswith(name)
        assert ("(required)" in label) == (name in REPORT["required"]), label
        row = control.find_element("xpath", "..")
        assert ("missing" in row.get_attribute("class").split()) == (name in proposal["missing"])
        value = proposal["arguments"].get(name)
        if control.tag_name == "select":
            from selenium.webdriver.support.ui import Select

            shown = Select(control).first_selected_option.text
            assert shown == (value if value is not None else "—")
        else:
            assert control.get_property("value") == (value or "")
    priority = _control(driver, "priority")
    assert priority.tag_name == "select"
    options = [o.text for o in priority.find_elements("css selector", "option")]
    assert options == ["—", "low", "normal", "high"]
    buttons = [b.text for b in card.find_elements("css selector", ".action-buttons button")]
    assert buttons == ["Confirm", "Cancel"]


def _fill(driver, name: str, value: str) -> None:
    control = _control(driver, name)
    control.clear()
    if value:
        control.send_keys(value)


def test_page_confirms_an_action(page, tickets, tmp_path):
    from selenium.webdriver.support.ui import Select

    driver, server = page
    before = len(tickets.requests)
    done = _proposed(driver, server)
    _check_card(driver, done)
    assert len(tickets.requests) == before  # nothing runs before Confirm
    assert _visible(driver, "conversation")  # the proposal is part of the conversation
    driver.save_screenshot(str(tmp_path / "action-proposed.png"))

    # Invalid: location left empty (priority too: optional, so left out). The server's 400
    # is shown in the card, and the form stays.
    _fill(driver, "device", "printer")
    _fill(driver, "location", "")
    Select(_control(driver, "priority")).select_by_visible_text("—")  # empty: left out
    confirm = driver.find_element("css selector", "#action .action-confirm")
    confirm.click()
    wait_for(lambda: _text(driver, "action").count("location: required"), 15, "the 400 error")
    error = driver.find_element("css selector", "#action .action-error")
    assert error.is_displayed() and "location: required" in error.text and "400" not in error.text
    assert error.get_attribute("role") == "alert"
    wait_for(lambda: confirm.is_enabled(), 5, "Confirm to come back")
    assert _control(driver, "device").get_property("value") == "printer"
    assert len(tickets.requests) == before

    # Completed and confirmed: exactly the form's arguments reach the ticket API.
    arguments = {"device": "printer", "location": "floor 3, room 301", "priority": "high"}
    _fill(driver, "location", arguments["location"])
    Select(_control(driver, "priority")).select_by_visible_text("high")
    confirm.click()
    wait_for(lambda: _visible(driver, "action") and _outcome(driver), 60, "the result")
    assert tickets.requests[before:] == [
        {"path": "/tickets", "body": arguments, "auth": f"Bearer {TOKEN}"}
    ]
    posted = _posted(driver, "/api/actions/confirm")
    pid = done["proposal"]["id"]
    assert [body for body, _ in posted] == [
        {"proposal_id": pid, "arguments": {"device": "printer"}},
        {"proposal_id": pid, "arguments": arguments},
    ]
    assert [status for _, status in posted] == [400, 200]

    outcome = driver.find_element("css selector", "#action .action-outcome")
    assert "ok" in outcome.get_attribute("class").split()
    title = outcome.find_element("css selector", ".action-outcome-title")
    assert title.get_property("textContent").startswith("Done · status 201")
    assert outcome.find_element("css selector", ".action-answer").text.strip()
    output = json.loads(outcome.find_element("css selector", "pre.action-output").text)
    assert output == {"ticket": f"T-{1000 + len(tickets.requests)}", "filed": arguments}
    assert not error.is_displayed()
    for control in driver.find_elements("css selector", "#action button, #action input"):
        assert not control.is_enabled()
    assert driver.find_element("id", "ask-button").is_displayed()
    assert not driver.find_element("css selector", "#action .action-badge").is_displayed()
    driver.save_screenshot(str(tmp_path / "action-done.png"))

    # The next question carries the conversation on, and the action moves into the history.
    _ask(driver, "Thanks!")
    wait_for(
        lambda: driver.find_elements("css selector", "#history li.turn"), 10, "the history turn"
    )
    turn = driver.find_element("css selector", "#history li.turn")
    assert turn.find_element("css selector", ".turn-question").text == REQUEST
    ask_button = driver.find_element("id", "ask-button")
    wait_for(lambda: ask_button.is_displayed(), 120, "the follow-up to finish")
    asks = _posted(driver, "/api/ask/stream")
    assert asks[-1][0] == {"question": "Thanks!", "conversation_id": done["conversation_id"]}

    severe = [
        e
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "/api/actions/confirm" not in e["message"]
    ]  # the deliberate 400 above
    assert not severe, severe


def _outcome(driver) -> bool:
    found = driver.find_elements("css selector", "#action .action-outcome")
    return bool(found) and found[0].is_displayed()


def test_page_cancels_an_action(page, tickets, tmp_path):
    driver, server = page
    before = len(tickets.requests)
    done = _proposed(driver, server)
    _check_card(driver, done)
    _fill(driver, "location", "floor 3")
    driver.find_element("css selector", "#action .action-cancel").click()
    wait_for(lambda: _outcome(driver), 15, "the decline")
    outcome = driver.find_element("css selector", "#action .action-outcome")
    assert "declined" in outcome.get_attribute("class").split()
    assert outcome.text == "Cancelled: report_broken_device was not run."
    assert not driver.find_elements("css selector", "#action pre")
    for control in driver.find_elements("css selector", "#action button, #action input"):
        assert not control.is_enabled()
    assert _posted(driver, "/api/actions/decline") == [
        ({"proposal_id": done["proposal"]["id"]}, 200)
    ]
    assert _posted(driver, "/api/actions/confirm") == []
    assert len(tickets.requests) == before  # the API heard nothing

    # At phone width the card fits the screen.
    driver.set_window_size(390, 844)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    driver.save_screenshot(str(tmp_path / "action-cancelled-phone.png"))
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
