"""The console with a keyboard and a screen reader in mind, on the local stack: signing in without a
mouse, focus moved to each new page's heading, landmarks and one h1 per page, a name on every control,
and the growing transcript announced politely and at most every 15 seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import eventually, sign_in
from tests.support.console_stack import StackConsole

pytestmark = pytest.mark.browser

UNNAMED_CONTROLS = """() => [
  ...document.querySelectorAll('a[href], button, input, select, textarea, audio, [tabindex]'),
].filter((el) => !el.closest('[hidden]'))
  .filter((el) => {
    const labels = el.labels ? [...el.labels].map((l) => l.textContent).join(' ') : '';
    const name = labels || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || el.getAttribute('title') || el.textContent;
    return !name || !name.trim();
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def page_structure(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        """() => ({
          h1: document.querySelectorAll('h1').length,
          main: document.querySelectorAll('main').length,
          nav: document.querySelectorAll('nav').length,
          lang: document.documentElement.lang,
        })"""
    )
    result["unnamed"] = page.evaluate(UNNAMED_CONTROLS)
    return result


def test_signing_in_with_the_keyboard_alone(page: Page, console: StackConsole) -> None:
    page.goto(console.url)
    expect(page.locator("input[name=username]")).to_be_focused()
    page.keyboard.type(console.viewer.username)
    page.keyboard.press("Tab")
    expect(page.locator("input[name=password]")).to_be_focused()
    page.keyboard.type(console.viewer.password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_focused()
    page.keyboard.press("Tab")  # from the page's heading on into the page, not back to the header
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_pages_have_landmarks_one_heading_and_named_controls(page: Page, console: StackConsole) -> None:
    call_sid = console.seed_call(
        started=datetime.now(UTC) - timedelta(minutes=3), status="completed", duration=20
    )
    console.seed_segments(call_sid, [(1.0, "inbound", "Hello.")])
    page.goto(console.url)
    expect(page.locator("input[name=username]")).to_be_visible()
    signed_out = page_structure(page)
    assert signed_out["h1"] == 1
    assert signed_out["lang"] == "en"
    assert signed_out["unnamed"] == []

    sign_in(page, console.url, console.viewer)
    expect(page.locator("[data-testid=call-row]").first).to_be_visible()
    home = page_structure(page)
    assert (home["h1"], home["main"], home["nav"]) == (1, 1, 1)
    assert home["unnamed"] == []

    page.locator(f"[data-testid=call-row][data-call-sid={call_sid}] a").click()
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    expect(page.locator("[data-testid=segment]")).to_have_count(1)
    call = page_structure(page)
    assert (call["h1"], call["main"]) == (1, 1)
    assert call["unnamed"] == []
    expect(page.get_by_role("complementary", name="Summary, evaluation and cost")).to_be_visible()


def test_new_lines_are_announced_politely_and_not_one_by_one(page: Page, console: StackConsole) -> None:
    call_sid = console.seed_call(started=datetime.now(UTC), status="in-progress")
    console.seed_segments(call_sid, [(1.0, "inbound", "Hello.")])
    page.clock.install()
    sign_in(page, console.url, console.viewer, at=f"/#/calls/{call_sid}")
    channel = f"/calls/{call_sid}"
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    eventually(lambda: console.people.feed.subscriptions, "the page follows its call")
    announcer = page.locator(".transcript [role=status][aria-live=polite]")
    segments = page.locator("[data-testid=segment]")
    expect(segments).to_have_count(1)
    expect(page.locator("[data-testid=segment][aria-live]")).to_have_count(0)  # lines are not live regions

    console.publish(channel, *console.seed_segments(call_sid, [(2.0, "inbound", "First new line.")]))
    expect(segments).to_have_count(2)
    page.clock.run_for(100)
    expect(announcer).to_have_text("1 new transcript line.")
    console.publish(
        channel, *console.seed_segments(call_sid, [(3.0, "outbound", "Second."), (4.0, "inbound", "Third.")])
    )
    expect(segments).to_have_count(4)
    page.clock.run_for(10_000)
    expect(announcer).to_have_text("1 new transcript line.")  # not yet: at most one announcement per 15 s
    page.clock.run_for(5_100)
    expect(announcer).to_have_text("2 new transcript lines.")
