"""One call placed on the local stack, watched in the console from its first ring to its settled record:
it appears on the live board, its words appear on its page while it runs, and once it has ended the
supervisor's player seeks to a line on a click, the summary and the cost show, a viewer (not a
supervisor) gets no recording, and the list shows it ended. The call is the bundled two-speaker
conversation, forwarded, streamed in real time through the simulated phone and the real streamer."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from callscribe_local.cognito import sign_in as cognito_sign_in
from callscribe_local.phone import bundled_conversation
from tests.browser.conftest import sign_in
from tests.support.console_stack import PlacedCall, StackConsole

pytestmark = pytest.mark.browser

CONVERSATION_SECONDS = 16.0  # the bundled call's first three turns: caller, callee, caller
SETTLE_SECONDS = 90  # the recording, its reconciliation and the summary, on a shared 2-core machine


@pytest.fixture(scope="module")
def supervisor_page(browser: Browser, console: StackConsole) -> Iterator[Page]:
    """One page for the module's story, signed in before the call starts."""
    context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, console.url, console.supervisor)
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    yield page
    context.close()
    assert not errors, f"the console threw: {errors}"


@pytest.fixture(scope="module")
def placed(console: StackConsole, supervisor_page: Page) -> Iterator[PlacedCall]:
    call = console.place_call(bundled_conversation().clip(CONVERSATION_SECONDS))
    yield call
    call.join()


def test_a_placed_call_appears_on_the_live_board(supervisor_page: Page, placed: PlacedCall) -> None:
    page = supervisor_page
    row = page.locator(
        f"section[aria-labelledby=live-heading] [data-testid=call-row][data-call-sid={placed.call_sid}]"
    )
    expect(row).to_have_count(1, timeout=20_000)
    expect(row.locator("[data-field=status]")).to_have_text(re.compile("Ringing|In progress"))
    assert placed.running


def test_its_words_appear_on_its_page_while_it_runs(supervisor_page: Page, placed: PlacedCall) -> None:
    page = supervisor_page
    page.locator(f"[data-testid=call-row][data-call-sid={placed.call_sid}] a").click()
    expect(page.locator("h1 [data-field=status]")).to_have_text("In progress")
    segments = page.locator("[data-testid=segment]")
    expect(segments.first).to_be_visible(timeout=30_000)
    assert placed.running, "the first words should show while the call is still on"
    expect(segments.first).to_have_attribute("data-source", "live")
    assert float(segments.first.get_attribute("data-start") or "nan") >= 0
    expect(page.get_by_text("Live: new lines appear as they are transcribed.")).to_be_visible()
    placed.join()
    expect(page.locator("h1 [data-field=status]")).to_have_text("Completed", timeout=30_000)
    expect(page.locator("[data-testid=segment][data-track=outbound]").first).to_be_visible()


def test_once_settled_the_player_seeks_to_a_line_on_a_click(
    supervisor_page: Page, console: StackConsole, placed: PlacedCall
) -> None:
    page = supervisor_page
    placed.join()
    expect(page.locator("[data-testid=gaps]")).to_be_visible(timeout=SETTLE_SECONDS * 1000)  # reconciled
    expect(page.locator("[data-testid=summary]")).to_be_visible(timeout=SETTLE_SECONDS * 1000)
    audio = page.locator("audio[data-testid=recording]")
    expect(audio).to_have_count(1)
    page.wait_for_function("() => document.querySelector('audio[data-testid=recording]').readyState >= 1")

    # each line's player time is its stream time less where the recording starts, as the API says
    # once the reconciliation aligned the two (a link issued before may have said otherwise)
    token = cognito_sign_in(console.people.pool, console.supervisor.username, console.supervisor.password)
    link = httpx.get(
        f"{console.url}/api/calls/{placed.call_sid}/recording", headers={"Authorization": token.id_token}
    ).json()
    line = page.locator("[data-testid=segment][data-seek]").last
    start = float(line.get_attribute("data-start") or "nan")
    expect(line).to_have_attribute("data-seek", str(round(start - float(link["offsetSeconds"]), 3)))
    seek = float(line.get_attribute("data-seek") or "nan")
    assert 0 < seek < start  # the recording starts when the forwarded party answers
    line.click()
    page.wait_for_function(
        "t => Math.abs(document.querySelector('audio[data-testid=recording]').currentTime - t) < 0.05",
        arg=seek,
    )
    expect(line).to_have_class(re.compile(r"(^|\s)playing(\s|$)"))
    expect(page.locator("[data-testid=cost-total]")).to_have_text(re.compile(r"^\$\d+\.\d{2,4}$"))
    leg = page.locator("[data-testid=legs] li")  # the forwarded party's leg, priced on its own record
    expect(leg).to_have_count(1)
    expect(leg).to_contain_text("Completed")


def test_a_viewer_gets_no_recording(browser: Browser, console: StackConsole, placed: PlacedCall) -> None:
    placed.join()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    try:
        page = context.new_page()
        with page.expect_response(
            lambda r: r.url.endswith(f"/api/calls/{placed.call_sid}/recording")
        ) as answer:
            sign_in(page, console.url, console.viewer, at=f"/#/calls/{placed.call_sid}")
        assert answer.value.status == 403  # the API decides, not the page
        expect(page.get_by_text("Recording available to supervisors.")).to_be_visible()
        expect(page.locator("audio")).to_have_count(0)
        expect(page.locator("[data-testid=segment]").first).to_be_visible()
        assert page.locator("[data-testid=segment][data-seek]").count() == 0
    finally:
        context.close()


def test_the_list_shows_it_ended(supervisor_page: Page, placed: PlacedCall) -> None:
    page = supervisor_page
    page.get_by_role("link", name="← All calls").click()
    row = page.locator(f"section[aria-labelledby=list-heading] [data-call-sid={placed.call_sid}]")
    expect(row.locator("[data-field=status]")).to_have_text("Completed")
    expect(
        page.locator(f"section[aria-labelledby=live-heading] [data-call-sid={placed.call_sid}]")
    ).to_have_count(0)
