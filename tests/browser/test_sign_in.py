"""Signing in and staying signed in: a wrong password is refused with a clear message, a session
survives a reload and ends with sign-out, a deep link comes back after sign-in, a first sign-in sets
a new password, tokens are refreshed before they expire and after a 401, and a person without the
viewers group is told so by the API's answer."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import eventually, sign_in
from tests.support.console_api_double import call_record
from tests.support.console_harness import ConsoleHarness
from tests.support.console_people import OUTSIDER, VIEWER, VIEWERS, Person

pytestmark = pytest.mark.browser

SESSION_KEY = "callscribe.session"


def stored_session(page: Page) -> dict[str, object] | None:
    raw = page.evaluate(f"localStorage.getItem('{SESSION_KEY}')")
    return json.loads(raw) if raw else None


def test_a_wrong_password_is_refused_with_a_clear_message(page: Page, console: ConsoleHarness) -> None:
    page.goto(console.url)
    page.locator("input[name=username]").fill(VIEWER.username)
    page.locator("input[name=password]").fill("not-the-password")
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    expect(page.locator("input[name=password]")).to_be_focused()
    expect(page.locator("input[name=password]")).to_have_value("")
    assert stored_session(page) is None
    expect(page.locator("[data-testid=call-row]")).to_have_count(0)


def test_a_session_survives_a_reload_and_ends_with_sign_out(page: Page, console: ConsoleHarness) -> None:
    sign_in(page, console.url, VIEWER)
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
    expect(page.locator(".user-name")).to_have_text(VIEWER.username)
    page.reload()
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    assert stored_session(page) is None
    page.reload()
    expect(page.locator("input[name=username]")).to_be_visible()


def test_a_deep_link_opens_after_sign_in(page: Page, console: ConsoleHarness) -> None:
    sign_in(page, console.url, VIEWER, at="/#/calls/CA00000000000000000000000000000000")
    expect(page.get_by_role("heading", name="Call not found")).to_be_visible()
    assert page.url.endswith("#/calls/CA00000000000000000000000000000000")


def test_sign_out_in_one_tab_signs_out_the_others(page: Page, console: ConsoleHarness) -> None:
    sign_in(page, console.url, VIEWER)
    other = page.context.new_page()
    other.goto(console.url)
    expect(other.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(other.locator("input[name=username]")).to_be_visible()
    expect(other.get_by_role("status")).to_have_text("You were signed out in another tab.")


def test_a_first_sign_in_sets_a_new_password(page: Page, console: ConsoleHarness) -> None:
    newcomer = Person("newcomer@example.com", "Temporary-pass-1", (VIEWERS,))
    console.pool.add(newcomer, temporary=True)
    sign_in_form = page.locator("input[name=username]")
    page.goto(console.url)
    sign_in_form.fill(newcomer.username)
    page.locator("input[name=password]").fill(newcomer.password)
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("Chosen-pass-22")
    page.get_by_label("Repeat the new password").fill("Chosen-pass-2")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    page.get_by_label("Repeat the new password").fill("Chosen-pass-22")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()
    console.pool.tokens(
        Person(newcomer.username, "Chosen-pass-22", newcomer.groups)
    )  # the new password works


def test_tokens_are_refreshed_before_they_expire(page: Page, console: ConsoleHarness) -> None:
    page.clock.install()
    sign_in(page, console.url, VIEWER)
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    before = stored_session(page)
    assert before is not None
    subscribes = len(console.feed.subscribes)
    lists = console.api.count("GET", "/api/calls?live=true")
    with page.expect_request(
        lambda r: r.url.endswith("/cognito/") and "REFRESH_TOKEN_AUTH" in (r.post_data or "")
    ):
        page.clock.fast_forward(
            "58:30"
        )  # Cognito's ID tokens last an hour; the console refreshes 2 min early
    page.wait_for_function(
        "old => JSON.parse(localStorage.getItem('callscribe.session')).idToken !== old", arg=before["idToken"]
    )
    fresh = stored_session(page)
    assert fresh is not None
    # the feed reconnects with the new token, and the page re-reads what it may have missed
    eventually(
        lambda: console.feed.tokens_used and console.feed.tokens_used[-1] == fresh["idToken"],
        "the feed is on the new token",
    )
    eventually(lambda: len(console.feed.subscribes) > subscribes, "the page subscribed again")
    eventually(
        lambda: console.api.count("GET", "/api/calls?live=true") > lists, "the live board was read again"
    )
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")


def test_a_rejected_token_is_refreshed_and_the_request_retried(page: Page, console: ConsoleHarness) -> None:
    console.api.put_call(call_record("CA" + uuid.uuid4().hex, status="completed"))
    sign_in(page, console.url, VIEWER)
    expect(page.get_by_role("heading", name="All calls")).to_be_visible()
    session = stored_session(page)
    assert session is not None
    header, payload, _signature = str(session["idToken"]).split(".")
    session["idToken"] = f"{header}.{payload}.forged"  # the API and the feed answer 401 to it
    page.evaluate("s => localStorage.setItem('callscribe.session', s)", json.dumps(session))
    with page.expect_request(lambda r: "REFRESH_TOKEN_AUTH" in (r.post_data or "")):
        page.reload()
    page.wait_for_function(
        "() => !JSON.parse(localStorage.getItem('callscribe.session')).idToken.endsWith('.forged')"
    )
    expect(page.get_by_role("heading", name="All calls")).to_be_visible()
    expect(page.locator("[data-testid=call-row]").first).to_be_visible()
    expect(page.locator(".state.error")).to_have_count(0)


def test_a_person_without_the_viewers_group_is_told_by_the_api(page: Page, console: ConsoleHarness) -> None:
    sign_in(page, console.url, OUTSIDER)
    expect(page.locator(".role")).to_have_text("No access")
    expect(page.get_by_role("alert").first).to_contain_text(
        "Ask an administrator to add you to the callscribe-viewers group"
    )
    assert console.api.count("GET", "/api/calls") > 0  # the API decided, not the page
