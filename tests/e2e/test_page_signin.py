"""Signing in on the page, in a real Chromium, with an access token set (the README's setup
for serving the LAN). Browsers send `Origin: null` on a form post under a `no-referrer`
policy, which once made every sign-in a 403."""

from __future__ import annotations

import pytest

from tests.corpus import write_text
from tests.e2e.conftest import wait_for
from tests.e2e.test_page import LEAVE_POLICY, browser  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e

TOKEN = "s3cret-token-for-the-page"
FETCH_STATUS_JS = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {cache: 'no-store'}).then(r => done(r.status), e => done(String(e)));
"""


def _sign_in(driver, token: str) -> None:
    field = driver.find_element("id", "token")
    field.clear()
    field.send_keys(token)
    driver.find_element("css selector", "form[action='/login'] button").click()


def test_a_browser_signs_in_with_the_token_and_out_again(make_server, browser):  # noqa: F811
    server = make_server()
    write_text(server.kb / "leave.txt", LEAVE_POLICY)
    (server.root / ".env").write_text(f"APPLIANCE_ACCESS_TOKEN={TOKEN}\n")
    server.start()

    browser.get(server.url + "/")
    wait_for(lambda: browser.current_url.endswith("/login"), 10, "the sign-in page")
    _sign_in(browser, "not-the-token")
    wait_for(lambda: "not right" in browser.page_source, 10, "the wrong-token message")

    _sign_in(browser, TOKEN)
    wait_for(lambda: browser.current_url == server.url + "/", 10, "the page after signing in")
    assert "cross-site" not in browser.page_source
    browser.set_script_timeout(10)
    assert browser.execute_async_script(FETCH_STATUS_JS, "/api/documents") == 200
    sign_out = wait_for(
        lambda: (
            browser.find_element("id", "sign-out").is_displayed()
            and browser.find_element("css selector", "#sign-out button")
        ),
        15,
        "the Sign out button",
    )
    sign_out.click()
    wait_for(lambda: browser.current_url.endswith("/login"), 10, "the sign-in page again")
    assert browser.execute_async_script(FETCH_STATUS_JS, "/api/documents") == 401


def test_a_user_signs_in_with_their_key_and_sees_only_their_folders(make_server, browser):  # noqa: F811
    from appliance.users import Users, users_path

    server = make_server()
    write_text(server.kb / "hr" / "leave.txt", LEAVE_POLICY)
    write_text(server.kb / "finance" / "budget.txt", "The travel budget for 2026 is 48,000 euros.")
    users = Users(users_path(server.data))
    key = users.add("ana", folders=["hr"])
    users.close()
    server.start()

    browser.get(server.url + "/")
    wait_for(lambda: browser.current_url.endswith("/login"), 10, "the sign-in page")
    _sign_in(browser, key)
    wait_for(lambda: browser.current_url == server.url + "/", 10, "the page after signing in")
    who = wait_for(lambda: browser.find_element("id", "signed-in-as").text, 15, "who is signed in")
    assert who == "Signed in as ana"
    browser.find_element("css selector", "#documents-panel summary").click()
    listed = wait_for(
        lambda: browser.find_element("id", "documents").text, 15, "the list of documents"
    )
    assert "leave.txt" in listed and "budget" not in listed
    assert "budget" not in browser.page_source
