"""The home page on the local stack: calls in progress first (the live board, kept current by the call
feed: the calls table's stream, published to the AppSync Events stand-in), then every call newest
first, with filters (date range, status, route, our number) kept in the address, paging with
`nextCursor`, and clear empty states. Calls are written through the data layer as the webhooks write
them; the feed announces each change as it does for real calls. A call placed through the simulated
phone is test_live_call.py's.

One test runs on the test doubles (`console_double`): a status-less message about a call the page
does not show (the streamer's transcript news). On the local stack the call feed follows it with the
full record at once, so only a feed that sends that message alone can show the page never guesses.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from shared.feed import LIVE_CHANNEL, CallUpdate
from tests.browser.conftest import eventually, sign_in
from tests.support.console_api_double import call_record, iso
from tests.support.console_harness import ConsoleHarness
from tests.support.console_people import VIEWER
from tests.support.console_stack import StackConsole

pytestmark = pytest.mark.browser

OURS = "+14155550123"  # this module's history: other tests here use other numbers
OTHER_NUMBER = "+14155550111"


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def history(console: StackConsole) -> list[str]:
    """Five calls, newest first: a known answer for order and filters."""
    calls = [
        (30, "completed", "forward", OURS),
        (90, "no-answer", "voicemail", OURS),
        (150, "completed", "agent", OTHER_NUMBER),
        (60 * 24 * 3, "busy", "forward", OURS),
        (60 * 24 * 10, "completed", "forward", OTHER_NUMBER),
        (60 * 24 * 12, "completed", "listen", OTHER_NUMBER),
    ]
    return [
        console.seed_call(started=minutes_ago(m), status=status, route=route, ours=number, duration=42)
        for m, status, route, number in calls
    ]


def listed(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("section[aria-labelledby=list-heading] [data-testid=call-row]")


def test_calls_newest_first_with_live_ones_first(
    page: Page, console: StackConsole, history: list[str]
) -> None:
    live = console.seed_call(started=minutes_ago(200), status="in-progress", ours=OURS)  # older, still first
    sign_in(page, console.url, console.viewer, at=f"/#/?number=%2B{OURS[1:]}")
    first = page.locator("[data-testid=call-row]").first
    expect(first).to_have_attribute("data-call-sid", live)
    expect(first.locator("[data-field=status]")).to_have_text("In progress")
    ours = [sid for sid in history if sid in (history[0], history[1], history[3])]
    expect(listed(page)).to_have_count(len(ours))
    assert [row.get_attribute("data-call-sid") for row in listed(page).all()] == ours
    console.advance(live, "canceled", at=minutes_ago(199), duration=0)  # off the board for the tests after


def test_a_call_appears_on_the_live_board_and_moves_to_the_list_when_it_ends(
    page: Page, console: StackConsole, history: list[str]
) -> None:
    number = "+14155550177"
    sign_in(page, console.url, console.viewer, at=f"/#/?number=%2B{number[1:]}")
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    eventually(lambda: console.people.feed.subscriptions, "the board follows the live channel")
    board = page.locator("section[aria-labelledby=live-heading]")
    expect(board.get_by_text("No call in progress matches these filters.")).to_be_visible()

    started = datetime.now(UTC)
    sid = console.seed_call(started=started, status="ringing", ours=number)  # the call feed announces it
    row = board.locator(f"[data-testid=call-row][data-call-sid={sid}]")
    expect(row.locator("[data-field=status]")).to_have_text("Ringing")
    expect(board.locator(".count")).to_have_text("1")

    console.advance(sid, "in-progress", at=started + timedelta(seconds=3))
    expect(row.locator("[data-field=status]")).to_have_text("In progress")
    late = CallUpdate(call_sid=sid, status="ringing").event()
    console.publish(LIVE_CHANNEL, late)  # a late ringing never moves it back

    console.advance(sid, "completed", at=started + timedelta(seconds=3), duration=12)
    expect(row).to_have_count(0)
    ended = listed(page).and_(page.locator(f"[data-call-sid={sid}]"))
    expect(ended.locator("[data-field=status]")).to_have_text("Completed")
    expect(ended.locator("[data-field=duration]")).to_have_text("0:12")
    expect(listed(page).first).to_have_attribute("data-call-sid", sid)
    expect(board.get_by_text("No call in progress matches these filters.")).to_be_visible()


def test_filters_narrow_the_list_and_stay_in_the_address(
    page: Page, console: StackConsole, history: list[str]
) -> None:
    sign_in(
        page,
        console.url,
        console.viewer,
        at="/#/?from=" + (datetime.now() - timedelta(days=20)).date().isoformat(),
    )
    expect(listed(page).first).to_be_visible()
    everything = listed(page).count()
    assert everything >= len(history)

    page.get_by_label("Route").select_option("voicemail")
    page.get_by_role("button", name="Apply").click()
    expect(listed(page)).to_have_count(1)
    expect(listed(page).first).to_have_attribute("data-call-sid", history[1])
    assert "route=voicemail" in page.url

    page.get_by_label("Route").select_option(label="Listen-in")  # handed to a team's own TwiML app
    page.get_by_role("button", name="Apply").click()
    expect(listed(page)).to_have_count(1)
    expect(listed(page).first).to_have_attribute("data-call-sid", history[5])
    expect(listed(page).first).to_contain_text("Listen-in")

    page.get_by_label("Route").select_option("")
    page.get_by_label("Status").select_option("completed")
    page.get_by_label("Our number").fill(OURS)
    page.get_by_role("button", name="Apply").click()
    expect(listed(page)).to_have_count(1)
    expect(listed(page).first).to_have_attribute("data-call-sid", history[0])

    page.reload()  # the filters are in the address: a reload (or a shared link) keeps them
    expect(page.get_by_label("Status")).to_have_value("completed")
    expect(page.get_by_label("Our number")).to_have_value(OURS)
    expect(listed(page)).to_have_count(1)

    page.get_by_role("button", name="Clear").click()
    assert "number=" not in page.url
    expect(listed(page).first).to_be_visible()


def test_a_date_range_and_an_invalid_number(page: Page, console: StackConsole, history: list[str]) -> None:
    sign_in(page, console.url, console.viewer)
    expect(listed(page).first).to_be_visible()
    page.get_by_label("Our number").fill("555-0100")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Enter the number in international format")).to_be_visible()
    expect(page.get_by_label("Our number")).to_be_focused()
    expect(page.get_by_label("Our number")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Our number").fill("")
    page.get_by_label("From").fill((datetime.now() - timedelta(days=5)).date().isoformat())
    page.get_by_label("To").fill((datetime.now() - timedelta(days=1)).date().isoformat())
    page.get_by_role("button", name="Apply").click()
    expect(listed(page)).to_have_count(1)
    expect(listed(page).first).to_have_attribute("data-call-sid", history[3])  # three days ago


def test_no_match_says_so(page: Page, console: StackConsole, history: list[str]) -> None:
    sign_in(page, console.url, console.viewer, at="/#/?number=%2B19995550000")
    expect(page.get_by_text("No calls match these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(listed(page).first).to_be_visible()


def test_the_list_pages_with_the_cursor(page: Page, console: StackConsole) -> None:
    number = "+14155550188"
    calls = [
        console.seed_call(started=minutes_ago(i + 1), status="completed", ours=number) for i in range(32)
    ]
    sign_in(page, console.url, console.viewer, at=f"/#/?number=%2B{number[1:]}")
    expect(listed(page)).to_have_count(25)
    expect(page.get_by_text("25 calls shown.")).to_be_visible()
    older = page.get_by_role("button", name="Show older calls")
    older.click()
    expect(listed(page)).to_have_count(32)
    assert [row.get_attribute("data-call-sid") for row in listed(page).all()] == calls
    # the API pages by day: the days left in the range may take one more look to be found empty
    expect(older).to_be_enabled()
    if older.is_visible():
        older.click()
        expect(page.get_by_text("No older calls in this range.")).to_be_visible()
    expect(older).to_be_hidden()
    expect(listed(page)).to_have_count(32)


# -- on the test doubles: what the streamer's messages alone make the board do -------------------


def test_a_finished_transcript_makes_the_board_ask_the_api(
    page: Page, console_double: ConsoleHarness
) -> None:
    """The streamer's last word on a call is its transcript status, and the call's own end may reach
    the feed later (a lost status callback: much later): the board asks the API whether it is live."""
    console = console_double
    sign_in(page, console.url, VIEWER)
    # connected is the socket; the board's own subscription may still be on its way
    eventually(lambda: console.feed.subscribed(LIVE_CHANNEL), "the board follows the live channel")
    call = call_record(new_sid(), status="in-progress", started=datetime.now(UTC))
    console.api.put_call(call)
    console.feed.publish(
        "/calls/live", double_message(call["callSid"], status="in-progress", transcriptStatus="in-progress")
    )
    row = page.locator(f"section[aria-labelledby=live-heading] [data-call-sid={call['callSid']}]")
    expect(row).to_have_count(1)
    console.api.update_call(
        call["callSid"], status="completed", durationSeconds=7, transcriptStatus="completed"
    )
    console.feed.publish("/calls/live", double_message(call["callSid"], transcriptStatus="completed"))
    expect(row).to_have_count(0)
    ended = page.locator(f"section[aria-labelledby=list-heading] [data-call-sid={call['callSid']}]")
    expect(ended.locator("[data-field=status]")).to_have_text("Completed")


def test_news_of_an_unseen_call_without_its_status_is_read_from_the_api(
    page: Page, console_double: ConsoleHarness
) -> None:
    """A message may name a call the page does not show and not carry its status (the streamer's
    transcript news): the row comes from the API, never guessed from half a record."""
    console = console_double
    sign_in(page, console.url, VIEWER)
    # connected is the socket; the board's own subscription may still be on its way
    eventually(lambda: console.feed.subscribed(LIVE_CHANNEL), "the board follows the live channel")
    call = call_record(new_sid(), status="completed", durationSeconds=9, transcriptStatus="completed")
    console.api.put_call(call)
    console.feed.publish("/calls/live", double_message(call["callSid"], transcriptStatus="completed"))
    row = page.locator(f"section[aria-labelledby=list-heading] [data-call-sid={call['callSid']}]")
    expect(row.locator("[data-field=status]")).to_have_text("Completed")
    expect(page.locator("[data-testid=call-row] [data-status='']")).to_have_count(0)


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def double_message(call_sid: str, **fields: object) -> dict[str, object]:
    return {"type": "call", "callSid": call_sid, **fields, "at": iso(datetime.now(UTC))}
