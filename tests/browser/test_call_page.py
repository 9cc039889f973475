"""A call's page in detail: the transcript by speaker read from the API (every page) and grown by the
feed, de-duplicated by segment, re-read after the feed comes back or falls silent; segments marked
live or recording, gaps shown; the player synced both ways (click, keyboard, playback) for
supervisors, and refused by the API for viewers; the summary, evaluation answers, cost with its
parts, and the legs; a finished call read again until it settles.

These run on the console server in front of test doubles of the read API and the feed
(tests/support/console_api_double.py, feed_double.py), because they need what the local stack cannot
be made to do on demand: a feed that drops or refuses connections, and records in exact states (a
gap, a line filled from the recording, priced legs, a summary arriving without a message). The same
pages on the real stack, with a placed call, are test_live_call.py's."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import eventually, sign_in
from tests.support.console_api_double import call_record, iso, minutes_ago, segment, tone_wav
from tests.support.console_harness import ConsoleHarness
from tests.support.console_people import SUPERVISOR, VIEWER

pytestmark = pytest.mark.browser

PLAYING = re.compile(r"(^|\s)playing(\s|$)")
OFFSET = 2.37  # the recording starts when the dialled party answers, 2.37 s into the stream
LINES = [
    (2.4, "outbound", "live", "Good morning, Acme support, Dana speaking."),
    (5.0, "inbound", "live", "Hi, I have a question about my November invoice."),
    (9.2, "outbound", "live", "Of course. Can you give me the account number?"),
    (12.1, "inbound", "recording", "Sure, it is four four seven two."),
    (15.8, "outbound", "live", "Thanks. I see a one-off installation fee."),
    (21.0, "inbound", "live", "Can it be split over two months?"),
    (24.5, "outbound", "live", "Yes, I can split it over the next two invoices."),
    (28.9, "inbound", "live", "That would be great, thank you."),
    (31.0, "outbound", "live", "You are welcome, have a good day."),
]


def now() -> str:
    return iso(minutes_ago(0))


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def finished_call(call_sid: str) -> dict[str, Any]:
    leg = new_sid()
    return call_record(
        call_sid,
        started=minutes_ago(30),
        status="completed",
        endedAt=iso(minutes_ago(28)),
        durationSeconds=95,
        transcriptStatus="completed",
        transcriptSource="live+recording",
        liveCoverage=0.93,
        gaps=[{"track": "inbound", "start": 11.9, "end": 14.0}],
        recording={
            "sid": "RE" + "1" * 32,
            "url": None,
            "status": "completed",
            "durationSeconds": 40,
            "channels": 2,
        },
        cost={
            "totalUsd": 0.0421,
            "twilioVoiceUsd": 0.017,
            "twilioRecordingUsd": 0.005,
            "deepgramLiveUsd": 0.0154,
            "deepgramPrerecordedUsd": 0.0043,
            "claudeUsd": 0.0004,
            "voiceMinutes": 2,
            "pricesAsOf": "2026-11-01",
            "billed": {"twilioVoice": 0.02, "twilioRecording": 0.0025, "total": 0.0225, "priceUnit": "USD"},
        },
        legs=[
            {
                "callSid": leg,
                "direction": "outbound-dial",
                "to": "+14155550199",
                "status": "completed",
                "durationSeconds": 90,
                "cost": {"totalUsd": 0.0127},
            }
        ],
        conversationCostUsd=0.0548,
        summaryStatus="completed",
        summary={
            "summary": "The caller asked why their November invoice was higher than usual.",
            "topics": ["billing", "installation fee"],
            "caller_intent": "Understand a higher invoice.",
            "outcome": "resolved",
            "sentiment": "positive",
            "action_items": [{"owner": "agent", "description": "Split the fee over two invoices."}],
            "follow_up_needed": False,
            "model": "offline-extractive",
            "segment_count": len(LINES),
        },
        evaluations=[
            {
                "id": "greeted",
                "question": "Did the agent greet the caller?",
                "type": "yes_no",
                "answer": "yes",
                "answered_by": "offline",
            },
            {
                "id": "reason",
                "question": "Reason for calling",
                "type": "choice",
                "answer": "billing",
                "answered_by": "offline",
            },
        ],
        transcript=[
            segment(call_sid, start, text, track=track, source=source) for start, track, source, text in LINES
        ],
    )


@pytest.fixture(scope="module")
def console(console_double: ConsoleHarness) -> ConsoleHarness:
    """This module's stack: the doubles, with one finished call (`finished`) in them."""
    call_sid = new_sid()
    console_double.api.put_call(finished_call(call_sid))
    console_double.api.set_recording(call_sid, tone_wav(40), OFFSET)
    console_double.finished = call_sid  # type: ignore[attr-defined]
    return console_double


def test_the_transcript_reads_every_page_with_sources_and_gaps(page: Page, console: ConsoleHarness) -> None:
    call_sid = console.finished  # type: ignore[attr-defined]
    sign_in(page, console.url, VIEWER, at=f"/#/calls/{call_sid}")
    segments = page.locator("[data-testid=segment]")
    expect(segments).to_have_count(len(LINES))  # the double pages 4 at a time: three pages followed
    for item, (start, track, source, text) in zip(segments.all(), LINES, strict=True):
        assert float(item.get_attribute("data-start") or "nan") == start
        expect(item).to_have_attribute("data-track", track)
        expect(item).to_have_attribute("data-source", source)
        expect(item).to_contain_text(text)
    expect(segments.nth(0).locator(".speaker")).to_have_text("Callee")
    expect(segments.nth(1).locator(".speaker")).to_have_text("Caller")
    expect(segments.nth(3).locator(".badge-recording")).to_have_text("from recording")
    expect(page.locator("[data-testid=gaps]")).to_contain_text("1 gap filled from the recording")
    expect(page.locator("[data-testid=gaps]")).to_contain_text("0:11\u20130:14")  # an en dash
    expect(page.get_by_text("Live coverage 93%.")).to_be_visible()


def test_summary_evaluation_cost_and_legs(page: Page, console: ConsoleHarness) -> None:
    call_sid = console.finished  # type: ignore[attr-defined]
    sign_in(page, console.url, VIEWER, at=f"/#/calls/{call_sid}")
    expect(page.locator("[data-testid=summary]")).to_contain_text("higher than usual")
    expect(page.locator("[data-testid=summary]")).to_contain_text("Resolved")
    facts = page.locator("[data-testid=summary] .facts dd")
    expect(facts).to_have_text(["Understand a higher invoice.", "Resolved", "Positive", "No"])
    expect(page.locator("[data-testid=summary] .chip")).to_have_text(["billing", "installation fee"])
    evaluation = page.locator("[data-testid=evaluations]")
    expect(evaluation.locator("dt")).to_have_text(["Did the agent greet the caller?", "Reason for calling"])
    expect(evaluation.locator("dd")).to_have_text(["Yes", "billing"])
    total = page.locator("[data-testid=cost-total]")
    expect(total).to_have_text("$0.0421")
    expect(total).to_have_attribute("data-value", "0.0421")
    cost = page.locator("#cost")
    expect(cost.get_by_role("row", name="Twilio voice 2 min $0.0170")).to_be_visible()
    expect(cost.get_by_role("row", name="Claude summary $0.0004")).to_be_visible()
    expect(page.locator("[data-testid=conversation-cost]")).to_have_text("$0.0548")
    billed = page.locator("#cost .billed")  # what Twilio billed, beside the estimate of the same parts
    expect(billed.get_by_role("row", name="Voice $0.0200")).to_be_visible()
    expect(billed.get_by_role("row", name="Recording $0.0025")).to_be_visible()
    expect(page.locator("[data-testid=billed-total]")).to_have_text("$0.0225")
    expect(billed).to_contain_text("The estimate of these parts is $0.0220, 2% below the bill.")
    legs = page.locator("[data-testid=legs] li")
    expect(legs).to_have_count(1)
    expect(legs.first).to_contain_text("+1 415 555 0199")
    expect(legs.first).to_contain_text("Completed")
    expect(legs.first).to_contain_text("1:30 · $0.0127")


def test_a_legs_news_on_the_calls_channel_updates_its_line(page: Page, console: ConsoleHarness) -> None:
    """The call feed announces a `<Dial>`ed leg's changes on its parent's channel, naming the parent."""
    call_sid, leg_sid = new_sid(), new_sid()
    leg = {"callSid": leg_sid, "direction": "outbound-dial", "to": "+14155550199", "status": "ringing",
           "durationSeconds": None, "cost": None}  # fmt: skip
    console.api.put_call(
        call_record(call_sid, legs=[leg], transcript=[segment(call_sid, 1.0, "Putting you through.")])
    )
    sign_in(page, console.url, VIEWER, at=f"/#/calls/{call_sid}")
    channel = f"/calls/{call_sid}"
    eventually(lambda: console.feed.subscribed(channel), "the page follows its call")
    line = page.locator(f"[data-testid=legs] li[data-leg-sid={leg_sid}]")
    expect(line).to_contain_text("Ringing")

    answered = {"type": "call", "callSid": leg_sid, "parentCallSid": call_sid, "status": "in-progress",
                "direction": "outbound-dial", "to": "+14155550199", "at": now()}  # fmt: skip
    console.feed.publish(channel, answered)
    expect(line).to_contain_text("In progress")
    expect(page.locator("h1 [data-field=status]")).to_have_text("In progress")  # the call's own, unchanged
    console.api.put_call(call_record(call_sid, legs=[{**leg, "status": "completed", "durationSeconds": 90,
                                                     "cost": {"totalUsd": 0.0127}}]))  # fmt: skip
    console.feed.publish(channel, {**answered, "status": "completed", "durationSeconds": 90, "at": now()})
    expect(line).to_contain_text("Completed")
    expect(line).to_contain_text("1:30 · $0.0127")  # its cost, read once it ended
    console.feed.publish(channel, {**answered, "status": "ringing", "at": now()})  # late: never moves it back
    expect(page.locator("h1 [data-field=status]")).to_have_text("In progress")
    expect(line).to_contain_text("Completed")


def test_the_player_and_the_transcript_follow_each_other(page: Page, console: ConsoleHarness) -> None:
    call_sid = console.finished  # type: ignore[attr-defined]
    sign_in(page, console.url, SUPERVISOR, at=f"/#/calls/{call_sid}")
    audio = page.locator("audio[data-testid=recording]")
    expect(audio).to_have_count(1)
    page.wait_for_function("() => document.querySelector('audio[data-testid=recording]').readyState >= 1")
    segments = page.locator("[data-testid=segment]")
    for item, (start, *_rest) in zip(segments.all(), LINES, strict=True):
        assert float(item.get_attribute("data-seek") or "nan") == pytest.approx(start - OFFSET, abs=0.001)

    fifth = segments.nth(4)  # 15.8 s of stream time: 13.43 s into the recording
    fifth.click()
    wait_for_player_at(page, 13.43)
    expect(fifth).to_have_class(PLAYING)
    expect(fifth).to_be_focused()

    # the keyboard: arrows move between lines, Enter plays from the focused one
    page.keyboard.press("ArrowDown")
    expect(segments.nth(5)).to_be_focused()
    page.keyboard.press("Enter")
    wait_for_player_at(page, 18.63)
    expect(segments.nth(5)).to_have_class(PLAYING)
    expect(fifth).not_to_have_class(PLAYING)

    # the other way: the player's position highlights the line being played
    audio.evaluate("a => { a.currentTime = 7.0; }")  # 9.37 s of stream time: the third line
    expect(segments.nth(2)).to_have_class(PLAYING)
    expect(segments.nth(5)).not_to_have_class(PLAYING)


def test_the_recordings_start_is_asked_again_once_the_call_is_reconciled(
    page: Page, console: ConsoleHarness
) -> None:
    """Before the reconciliation the API knows the recording's start from the timestamps at best
    (here: not at all, 0); once the words aligned it, the page moves every line's player time."""
    call_sid = new_sid()
    unreconciled = finished_call(call_sid)
    unreconciled.update(transcriptSource=None, liveCoverage=None, gaps=None)
    console.api.put_call(unreconciled)
    console.api.set_recording(call_sid, tone_wav(40), 0.0)
    sign_in(page, console.url, SUPERVISOR, at=f"/#/calls/{call_sid}")
    first = page.locator("[data-testid=segment]").first
    expect(first).to_have_attribute("data-seek", "2.4")

    console.api.set_recording(call_sid, tone_wav(40), OFFSET)
    console.api.put_call(finished_call(call_sid))
    reconciled = {"type": "call", "callSid": call_sid, "status": "completed", "reconciled": True, "at": now()}
    console.feed.publish(f"/calls/{call_sid}", reconciled)
    expect(page.locator("[data-testid=gaps]")).to_be_visible()
    expect(first).to_have_attribute("data-seek", "0.03")  # 2.4 s of stream time, 2.37 s after it started


def wait_for_player_at(page: Page, seconds: float) -> None:
    page.wait_for_function(
        "t => Math.abs(document.querySelector('audio[data-testid=recording]').currentTime - t) < 0.05",
        arg=seconds,
    )


def test_a_viewer_gets_no_recording(page: Page, console: ConsoleHarness) -> None:
    call_sid = console.finished  # type: ignore[attr-defined]
    sign_in(page, console.url, VIEWER, at=f"/#/calls/{call_sid}")
    expect(page.get_by_text("Recording available to supervisors.")).to_be_visible()
    expect(page.locator("audio")).to_have_count(0)
    expect(page.locator("[data-testid=segment]").first).not_to_have_attribute("data-seek", re.compile(".*"))
    assert console.api.count("GET", f"/api/calls/{call_sid}/recording") > 0  # the API said no, not the page


def test_the_transcript_grows_live_without_duplicates(page: Page, console: ConsoleHarness) -> None:
    call_sid = new_sid()
    first = segment(call_sid, 1.2, "Hello, thanks for calling.", track="outbound")
    console.api.put_call(call_record(call_sid, transcript=[first]))
    sign_in(page, console.url, VIEWER, at=f"/#/calls/{call_sid}")
    channel = f"/calls/{call_sid}"
    eventually(lambda: console.feed.subscribed(channel), "the page follows its call")
    segments = page.locator("[data-testid=segment]")
    expect(segments).to_have_count(1)
    expect(page.get_by_text("The recording is available shortly after the call ends.")).to_be_visible()

    second = segment(call_sid, 3.5, "Hi, I need help with my order.")
    console.api.store_segment(second)
    console.feed.publish(channel, second)
    expect(segments).to_have_count(2)
    expect(segments.nth(1)).to_contain_text("I need help with my order.")
    console.feed.publish(channel, second)  # twice on the feed
    console.feed.publish(channel, first)  # and one the page read from the API
    late = segment(call_sid, 2.9, "One moment.", track="outbound")  # an earlier start, arriving later
    console.api.store_segment(late)
    console.feed.publish(channel, late)
    expect(segments).to_have_count(3)
    expect(segments).to_contain_text(["Hello, thanks", "One moment.", "I need help"])
    expect(page.locator("[data-testid=summary]")).to_have_count(0)
    expect(page.get_by_text("The summary is written once the call has ended")).to_be_visible()


def test_after_a_reconnect_the_gap_is_read_from_the_api(page: Page, console: ConsoleHarness) -> None:
    call_sid = new_sid()
    console.api.put_call(call_record(call_sid, transcript=[segment(call_sid, 1.0, "Good afternoon.")]))
    sign_in(page, console.url, VIEWER, at=f"/#/calls/{call_sid}")
    channel = f"/calls/{call_sid}"
    eventually(lambda: console.feed.subscribed(channel), "the page follows its call")
    segments = page.locator("[data-testid=segment]")
    expect(segments).to_have_count(1)

    console.feed.refuse = 1  # the first reconnect fails too: the page says so, then catches up
    console.feed.drop_connections()
    missed = segment(call_sid, 4.0, "Said while the feed was away.", track="outbound")
    console.api.store_segment(missed)  # stored, but published to nobody
    expect(page.locator("[data-testid=feed-banner]")).to_contain_text("Live updates are interrupted")
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute(
        "data-state", "connected", timeout=20_000
    )
    expect(segments).to_have_count(2)
    expect(segments.nth(1)).to_contain_text("Said while the feed was away.")
    expect(page.locator("[data-testid=feed-banner]")).to_be_hidden()


def test_a_silent_feed_is_noticed_by_its_keep_alive(page: Page, console: ConsoleHarness) -> None:
    call_sid = new_sid()
    console.api.put_call(call_record(call_sid))
    page.clock.install()
    sign_in(page, console.url, VIEWER, at=f"/#/calls/{call_sid}")
    expect(page.locator("[data-testid=feed-status]")).to_have_attribute("data-state", "connected")
    connections = console.feed.connections_made
    missed = segment(call_sid, 2.0, "Nobody published this one.")
    console.api.store_segment(missed)
    page.clock.fast_forward("05:01")  # no `ka` within connectionTimeoutMs (5 min): the socket is dead
    eventually(lambda: console.feed.connections_made > connections, "the console reconnected")
    expect(page.locator("[data-testid=segment]")).to_contain_text(["Nobody published this one."])


def test_a_call_that_ends_gets_its_summary_and_recording(page: Page, console: ConsoleHarness) -> None:
    call_sid = new_sid()
    console.api.put_call(call_record(call_sid, transcript=[segment(call_sid, 1.0, "Bye now.")]))
    sign_in(page, console.url, SUPERVISOR, at=f"/#/calls/{call_sid}")
    channel = f"/calls/{call_sid}"
    eventually(lambda: console.feed.subscribed(channel), "the page follows its call")
    expect(page.locator("h1 [data-field=status]")).to_have_text("In progress")

    done = finished_call(call_sid)
    done["transcript"] = [segment(call_sid, 1.0, "Bye now.")]
    console.api.put_call(done)
    console.api.set_recording(call_sid, tone_wav(10), OFFSET)
    console.feed.publish(channel, {"type": "call", "callSid": call_sid, "status": "completed", "at": now()})
    expect(page.locator("h1 [data-field=status]")).to_have_text("Completed")
    expect(page.locator("audio[data-testid=recording]")).to_have_count(1)
    summary_ready = {
        "type": "call",
        "callSid": call_sid,
        "status": "completed",
        "summaryReady": True,
        "at": now(),
    }
    console.feed.publish(channel, summary_ready)
    expect(page.locator("[data-testid=summary]")).to_contain_text("higher than usual")
    expect(page.locator("[data-testid=cost-total]")).to_have_text("$0.0421")


def test_an_unknown_call_says_so(page: Page, console: ConsoleHarness) -> None:
    sign_in(page, console.url, VIEWER, at=f"/#/calls/{new_sid()}")
    expect(page.get_by_role("heading", name="Call not found")).to_be_visible()
    page.get_by_role("link", name="← All calls").click()
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()


def test_a_finished_call_is_read_again_until_it_settles(page: Page, console: ConsoleHarness) -> None:
    """After the stream ends the record keeps changing (status callback, recording, reconciliation,
    summary, cost) whether or not a publisher announces each step: the page reads it again until it
    has all of them."""
    call_sid = new_sid()
    console.api.put_call(call_record(call_sid, transcript=[segment(call_sid, 1.0, "Thanks, bye.")]))
    sign_in(page, console.url, SUPERVISOR, at=f"/#/calls/{call_sid}")
    channel = f"/calls/{call_sid}"
    eventually(lambda: console.feed.subscribed(channel), "the page follows its call")

    console.api.update_call(call_sid, status="completed", transcriptStatus="completed", endedAt=now())
    console.feed.publish(
        channel, {"type": "call", "callSid": call_sid, "transcriptStatus": "completed", "at": now()}
    )
    expect(page.locator("h1 [data-field=status]")).to_have_text("Completed")
    expect(page.get_by_text("No recording yet")).to_be_visible()
    expect(page.locator("[data-testid=summary]")).to_have_count(0)

    settled = finished_call(call_sid)  # no message announces any of this
    settled.update(transcript=[segment(call_sid, 1.0, "Thanks, bye.")], endedAt=now())
    early = {**settled["cost"], "deepgramPrerecordedUsd": None, "totalUsd": 0.0378}
    console.api.put_call({**settled, "cost": early})  # priced before the recording's transcription was
    console.api.set_recording(call_sid, tone_wav(10), OFFSET)
    expect(page.locator("[data-testid=summary]")).to_contain_text("higher than usual")
    expect(page.locator("audio[data-testid=recording]")).to_have_count(1)
    expect(page.locator("[data-testid=gaps]")).to_be_visible()
    expect(page.locator("[data-testid=cost-total]")).to_have_text("$0.0378")
    console.api.put_call(settled)  # the cost estimated again, with every part
    expect(page.locator("[data-testid=cost-total]")).to_have_text("$0.0421", timeout=20_000)
