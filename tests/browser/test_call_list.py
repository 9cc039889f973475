"""The home page: calls in progress first (the live board, updated by the feed as calls start and end),
then every call newest first, with filters (date range, status, route, our number) kept in the
address, paging with `nextCursor`, and clear empty states."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.support.console_api_double import call_record, iso, minutes_ago
from tests.support.console_harness import ConsoleHarness, console_harness
from tests.support.console_people import VIEWER

pytestmark = pytest.mark.browser

OURS = "+14155550123"  # not the doubles' default number: calls other tests add here never match
OTHER_NUMBER = "+14155550111"


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def console() -> Iterator[ConsoleHarness]:
    """This module's calls: a known history, so order and filters have one right answer."""
    with console_harness() as harness:
        history = [
            # (minutes ago, status, route, our number)
            (30, "completed", "forward", OURS),
            (90, "no-answer", "voicemail", OURS),
            (150, "completed", "agent", OTHER_NUMBER),
            (60 * 24 * 3, "busy", "forward", OURS),
            (60 * 24 * 10, "completed", "forward", OTHER_NUMBER),
        ]
        harness.history = []  # type: ignore[attr-defined]
        for minutes, status, route, number in history:
            record = call_record(
                new_sid(),
                started=minutes_ago(minutes),
                status=status,
                route=route,
                to=number,
                durationSeconds=42,
                transcriptStatus="completed",
                endedAt=iso(minutes_ago(minutes - 1)),
                cost={"totalUsd": 0.0123},
            )
            harness.api.put_call(record)
            harness.history.append(record)  # type: ignore[attr-defined]
        yield harness


def rows(page: Page) -> list[tuple[str, str]]:
    return [
        (
            r.get_attribute("data-call-sid") or "",
            r.locator("[data-field=status]").get_attribute("data-status") or "",
        )
        for r in page.locator("[data-testid=call-row]").all()
    ]


def test_calls_newest_first_with_live_ones_first(page: Page, console: ConsoleHarness) -> None:
    live = call_record(
        new_sid(), started=minutes_ago(200), status="in-progress"
    )  # older than most, still first
    console.api.put_call(live)
    sign_in(page, console.url, VIEWER)
    first = page.locator("[data-testid=call-row]").first
    expect(first).to_have_attribute("data-call-sid", live["callSid"])
    expect(first.locator("[data-field=status]")).to_have_text("In progress")
    history = console.history  # type: ignore[attr-defined]
    expect(page.locator("section[aria-labelledby=list-heading] [data-testid=call-row]")).to_have_count(
        len(history)
    )
    listed = [sid for sid, _ in rows(page)[1:]]
    assert listed == [c["callSid"] for c in history]  # the module's history is newest first
    console.api.update_call(live["callSid"], status="completed")


def test_a_call_appears_on_the_live_board_and_moves_to_the_list_when_it_ends(
    page: Page, console: ConsoleHarness
) -> None:
    sign_in(page, console.url, VIEWER)
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    live_board = page.locator("section[aria-labelledby=live-heading]")
    expect(live_board.get_by_text("No calls in progress.")).to_be_visible()

    call = call_record(new_sid(), status="ringing", started=datetime.now(UTC))
    console.api.put_call(call)
    console.feed.publish(
        "/calls/live",
        {
            "type": "call",
            "callSid": call["callSid"],
            "status": "ringing",
            "startedAt": call["startedAt"],
            "direction": "inbound",
            "route": "forward",
            "from": call["from"],
            "to": call["to"],
            "at": call["startedAt"],
        },
    )
    row = live_board.locator(f"[data-testid=call-row][data-call-sid={call['callSid']}]")
    expect(row.locator("[data-field=status]")).to_have_text("Ringing")
    expect(live_board.locator(".count")).to_have_text("1")

    console.api.update_call(call["callSid"], status="in-progress")
    console.feed.publish(
        "/calls/live",
        {"type": "call", "callSid": call["callSid"], "status": "in-progress", "at": iso(datetime.now(UTC))},
    )
    expect(row.locator("[data-field=status]")).to_have_text("In progress")
    # a late "ringing" never moves it back
    console.feed.publish(
        "/calls/live",
        {"type": "call", "callSid": call["callSid"], "status": "ringing", "at": iso(datetime.now(UTC))},
    )

    console.api.update_call(call["callSid"], status="completed", durationSeconds=12)
    console.feed.publish(
        "/calls/live",
        {
            "type": "call",
            "callSid": call["callSid"],
            "status": "completed",
            "durationSeconds": 12,
            "at": iso(datetime.now(UTC)),
        },
    )
    expect(row).to_have_count(0)
    ended = page.locator(
        f"section[aria-labelledby=list-heading] [data-testid=call-row][data-call-sid={call['callSid']}]"
    )
    expect(ended.locator("[data-field=status]")).to_have_text("Completed")
    expect(ended.locator("[data-field=duration]")).to_have_text("0:12")
    expect(
        page.locator("section[aria-labelledby=list-heading] [data-testid=call-row]").first
    ).to_have_attribute("data-call-sid", call["callSid"])
    expect(live_board.get_by_text("No calls in progress.")).to_be_visible()


def test_filters_narrow_the_list_and_stay_in_the_address(page: Page, console: ConsoleHarness) -> None:
    history = console.history  # type: ignore[attr-defined]
    sign_in(page, console.url, VIEWER)
    listed = page.locator("section[aria-labelledby=list-heading] [data-testid=call-row]")
    expect(listed.first).to_be_visible()
    everything = listed.count()

    page.get_by_label("Route").select_option("voicemail")
    page.get_by_role("button", name="Apply").click()
    expect(listed).to_have_count(1)
    expect(listed.first).to_have_attribute("data-call-sid", history[1]["callSid"])
    assert "route=voicemail" in page.url

    page.get_by_label("Route").select_option("")
    page.get_by_label("Status").select_option("completed")
    page.get_by_label("Our number").fill(OURS)
    page.get_by_role("button", name="Apply").click()
    expect(listed).to_have_count(1)
    expect(listed.first).to_have_attribute("data-call-sid", history[0]["callSid"])

    page.reload()  # the filters are in the address: a reload (or a shared link) keeps them
    expect(page.get_by_label("Status")).to_have_value("completed")
    expect(page.get_by_label("Our number")).to_have_value(OURS)
    expect(listed).to_have_count(1)

    page.get_by_role("button", name="Clear").click()
    expect(listed).to_have_count(everything)
    assert "number=" not in page.url


def test_a_date_range_and_an_invalid_number(page: Page, console: ConsoleHarness) -> None:
    history = console.history  # type: ignore[attr-defined]
    sign_in(page, console.url, VIEWER)
    listed = page.locator("section[aria-labelledby=list-heading] [data-testid=call-row]")
    expect(listed.first).to_be_visible()
    page.get_by_label("Our number").fill("555-0100")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Enter the number in international format")).to_be_visible()
    expect(page.get_by_label("Our number")).to_be_focused()
    expect(page.get_by_label("Our number")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Our number").fill("")
    five_days = (datetime.now(UTC) - timedelta(days=5)).date().isoformat()
    one_day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    page.get_by_label("From").fill(five_days)
    page.get_by_label("To").fill(one_day)
    page.get_by_role("button", name="Apply").click()
    expect(listed).to_have_count(1)
    expect(listed.first).to_have_attribute("data-call-sid", history[3]["callSid"])  # three days ago


def test_no_match_and_no_calls_say_so(page: Page, console: ConsoleHarness) -> None:
    sign_in(page, console.url, VIEWER, at="/#/?number=%2B19995550000")
    expect(page.get_by_text("No calls match these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("section[aria-labelledby=list-heading] [data-testid=call-row]").first).to_be_visible()


def test_no_calls_yet_then_pages_with_the_cursor(page: Page) -> None:
    with console_harness() as harness:  # a stack of its own: empty at first
        sign_in(page, harness.url, VIEWER)
        expect(page.get_by_text("No calls yet.")).to_be_visible()
        expect(page.get_by_text("No calls in progress.")).to_be_visible()

        calls = [call_record(new_sid(), started=minutes_ago(i + 1), status="completed") for i in range(32)]
        for record in calls:
            harness.api.put_call(record)
        page.reload()
        listed = page.locator("[data-testid=call-row]")
        expect(listed).to_have_count(25)
        expect(page.get_by_text("25 calls shown.")).to_be_visible()
        page.get_by_role("button", name="Show older calls").click()
        expect(listed).to_have_count(32)
        expect(page.get_by_role("button", name="Show older calls")).to_be_hidden()
        assert [sid for sid, _ in rows(page)] == [c["callSid"] for c in calls]


def test_a_finished_transcript_makes_the_board_ask_the_api(page: Page, console: ConsoleHarness) -> None:
    """The streamer's last word on a call is its transcript status; the call's own end may be
    published later or not at all, so the board asks the API whether the call is still live."""
    sign_in(page, console.url, VIEWER)
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    call = call_record(new_sid(), status="in-progress", started=datetime.now(UTC))
    console.api.put_call(call)
    at = iso(datetime.now(UTC))
    console.feed.publish(
        "/calls/live",
        {
            "type": "call",
            "callSid": call["callSid"],
            "status": "in-progress",
            "transcriptStatus": "in-progress",
            "at": at,
        },
    )
    row = page.locator(f"section[aria-labelledby=live-heading] [data-call-sid={call['callSid']}]")
    expect(row).to_have_count(1)
    console.api.update_call(
        call["callSid"], status="completed", durationSeconds=7, transcriptStatus="completed"
    )
    console.feed.publish(
        "/calls/live", {"type": "call", "callSid": call["callSid"], "transcriptStatus": "completed", "at": at}
    )
    expect(row).to_have_count(0)
    ended = page.locator(f"section[aria-labelledby=list-heading] [data-call-sid={call['callSid']}]")
    expect(ended.locator("[data-field=status]")).to_have_text("Completed")


def test_news_of_an_unseen_call_without_its_status_is_read_from_the_api(
    page: Page, console: ConsoleHarness
) -> None:
    """A message may name a call the page does not show and not carry its status (the streamer's
    transcript news): the row comes from the API, never guessed from half a record."""
    sign_in(page, console.url, VIEWER)
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    call = call_record(new_sid(), status="completed", durationSeconds=9, transcriptStatus="completed")
    console.api.put_call(call)
    news = {
        "type": "call",
        "callSid": call["callSid"],
        "transcriptStatus": "completed",
        "at": iso(datetime.now(UTC)),
    }
    console.feed.publish("/calls/live", news)
    row = page.locator(f"section[aria-labelledby=list-heading] [data-call-sid={call['callSid']}]")
    expect(row.locator("[data-field=status]")).to_have_text("Completed")
    expect(page.locator("[data-testid=call-row] [data-status='']")).to_have_count(0)
