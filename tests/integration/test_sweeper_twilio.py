"""The sweeper Lambda asks Twilio's REST API (the stand-in, through the real `twilio` client) about
calls whose callbacks were lost, on moto: a lost final status is applied as the callback would
have applied it, a call Twilio still reports live is left alone, and Twilio's failures change
nothing on the record but when it is asked again, and are counted.

The calls are written through the webhooks' own data-layer port into tables of this module's own
(test_sweeper.py's fixtures), as the callbacks that did arrive wrote them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.twilio_rest import TwilioRestStandIn
from callscribe_local.wavfile import write_wav
from shared import clock
from shared.costs import Prices, record_cost
from shared.dal.calls.core import DynamoCallReader
from shared.dal.calls.recordings import DynamoRecordingCalls
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.records import CallParties, CallUpsert, ReconciliationUpdate, RecordingUpdate
from shared.status import CallStatus
from shared.status_changes import StatusChange, status_advance
from tests.integration.test_sweeper import announced, sweep_runner, sweeper_env
from tests.integration.test_sweeper import tables as tables
from tests.integration.test_sweeper import twilio as twilio

pytestmark = pytest.mark.integration

CALLER, OURS = "+14155550123", "+14155550100"


@pytest.fixture
def sweep(
    tables: tuple[str, str], local_stack: LocalAws, twilio: TwilioRestStandIn
) -> Callable[[], dict[str, Any]]:
    return sweep_runner(sweeper_env(tables, twilio))


class Calls:
    def __init__(self, tables: tuple[str, str], twilio: TwilioRestStandIn) -> None:
        self.read = DynamoCallReader(tables[0])
        self.webhooks = DynamoWebhookCalls(tables[0])
        self.twilio = twilio

    def answered(self, minutes_ago: float, *, record: bool = False) -> tuple[str, datetime]:
        """Rang and was answered `minutes_ago` (those callbacks arrived); Twilio holds it in progress."""
        call_sid = "CA" + uuid.uuid4().hex
        started = clock.now() - timedelta(minutes=minutes_ago)
        parties = CallParties(direction="inbound", from_number=CALLER, to_number=OURS)
        self.webhooks.upsert_call(
            CallUpsert(call_sid, parties, clock.iso(started), route="forward", recording_expected=record)
        )
        answered = started + timedelta(seconds=4)
        for status, at in ((CallStatus.RINGING, started), (CallStatus.IN_PROGRESS, answered)):
            self.webhooks.advance_status(status_advance(StatusChange(call_sid, status, clock.iso(at))))
        self.twilio.keep_call(
            call_sid,
            status="in-progress",
            direction="inbound",
            start_time=answered,
            **{"from": CALLER, "to": OURS},
        )
        return call_sid, answered

    def ended_at_twilio(self, call_sid: str, answered: datetime, seconds: int) -> datetime:
        ended = answered + timedelta(seconds=seconds)
        self.twilio.keep_call(call_sid, status="completed", end_time=ended, duration=seconds)
        return ended


def test_a_lost_completed_callback_is_recovered_from_twilio(
    tables: tuple[str, str],
    twilio: TwilioRestStandIn,
    sweep: Callable[[], dict[str, Any]],
) -> None:
    calls = Calls(tables, twilio)
    call_sid, answered = calls.answered(minutes_ago=90)
    ended = calls.ended_at_twilio(call_sid, answered, 49)

    report = sweep()

    call = calls.read.get(call_sid)
    assert call is not None
    assert (call.status, call.duration_seconds) == ("completed", 49)
    assert call.ended_at == clock.iso(ended.replace(microsecond=0))  # Twilio's end_time: whole seconds
    assert call.answered_at == clock.iso(answered)  # the callback's, kept
    assert call.cost is not None
    assert call.cost["voice_minutes"] == 1
    # Twilio's bill came with the same read (the stand-in prices a completed call at list price)
    assert call.cost["billed"] == {
        "twilio_voice": 0.0085,
        "total": 0.0085,
        "price_unit": "USD",
        "read_at": call.cost["billed"]["read_at"],
    }
    assert report["pricesFromTwilio"] == 1
    assert (report["statusesFromTwilio"], report["twilioRequests"], report["twilioFailures"]) == (1, 1, 0)
    assert report["settled"] == 1  # nothing else was open: swept from the record as it now is
    (asked,) = [r for r in twilio.requests if call_sid in r.path]
    assert (asked.method, asked.path.endswith(f"/Calls/{call_sid}.json"), asked.status) == ("GET", True, 200)


def test_a_call_twilio_still_reports_in_progress_is_left_alone(
    tables: tuple[str, str],
    twilio: TwilioRestStandIn,
    sweep: Callable[[], dict[str, Any]],
) -> None:
    calls = Calls(tables, twilio)
    call_sid, _ = calls.answered(minutes_ago=90)
    before = calls.read.get(call_sid)

    report = sweep()

    after = calls.read.get(call_sid)
    assert before is not None
    assert after is not None
    assert (report["waiting"], report["statusesFromTwilio"], report["twilioRequests"]) == (1, 0, 1)
    assert (after.status, after.ended_at, after.duration_seconds) == ("in-progress", None, None)
    assert after.twilio_asks == 1
    assert after.sweep_after is not None
    assert after.sweep_after > clock.iso(clock.now() + timedelta(minutes=14))  # asked again after a backoff
    old, new = asdict(before), asdict(after)
    assert {name for name in new if new[name] != old[name]} == {
        "sweep_after",
        "swept_at",
        "twilio_asks",
        "twilio_asked_at",
        "updated_at",
    }
    assert sweep()["due"] == 0


def test_twilio_failures_change_nothing_and_are_counted(
    tables: tuple[str, str],
    twilio: TwilioRestStandIn,
    sweep: Callable[[], dict[str, Any]],
) -> None:
    calls = Calls(tables, twilio)
    failing, answered = calls.answered(minutes_ago=100)
    calls.ended_at_twilio(failing, answered, 30)
    limited, answered = calls.answered(minutes_ago=95)
    calls.ended_at_twilio(limited, answered, 30)
    untouched, answered = calls.answered(minutes_ago=90)
    calls.ended_at_twilio(untouched, answered, 30)
    before = {sid: calls.read.get(sid) for sid in (failing, limited, untouched)}
    twilio.fail_next(500, 20500, "Internal Server Error")
    twilio.fail_next(429, 20429, "Too Many Requests")

    report = sweep()

    assert (report["twilioRequests"], report["twilioFailures"], report["statusesFromTwilio"]) == (2, 2, 0)
    for call_sid in (failing, limited, untouched):
        call = calls.read.get(call_sid)
        assert call is not None
        assert (call.status, call.ended_at) == ("in-progress", None)
    # the 500 and the 429 each defer their call with a backoff; the 429 ends the run's asks, so the
    # third call is not asked at all and not touched
    assert [calls.read.get(s).twilio_asks for s in (failing, limited)] == [1, 1]  # type: ignore[union-attr]
    assert calls.read.get(untouched) == before[untouched]
    assert [r.status for r in twilio.requests if r.method == "GET"] == [500, 429]


def test_a_lost_recording_callback_is_recovered_and_reconciled(
    tables: tuple[str, str],
    twilio: TwilioRestStandIn,
    sweep: Callable[[], dict[str, Any]],
    bus_tap: BusTap,
) -> None:
    calls = Calls(tables, twilio)
    call_sid, answered = calls.answered(minutes_ago=90, record=True)
    ended = calls.ended_at_twilio(call_sid, answered, 6)
    calls.webhooks.advance_status(
        status_advance(StatusChange(call_sid, CallStatus.COMPLETED, clock.iso(ended), duration_seconds=6))
    )  # the status callback arrived; the recording's did not
    recording_sid = "RE" + uuid.uuid4().hex
    twilio.add_recording(
        recording_sid,
        write_wav([b"\x00\x00" * 8000 * 5] * 2, 8000),
        call_sid=call_sid,
        channels=2,
        start_time=(answered + timedelta(seconds=1)).isoformat(),
        duration="5",
    )

    report = sweep()

    call = calls.read.get(call_sid)
    assert call is not None
    assert call.recording is not None
    assert (call.recording.sid, call.recording.status, call.recording.channels) == (
        recording_sid,
        "completed",
        2,
    )
    assert call.recording.duration_seconds == 5
    assert (
        call.recording.url
        == f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{recording_sid}"
    )
    # the sweeper's write is announced by the outbox, once; the sweeper re-publishes nothing this run
    # (a later look re-drives it if it is never reconciled)
    assert (report["recordingsFromTwilio"], report["recordingCompletedRepublished"]) == (1, 0)
    assert bus_tap.events_for(call_sid, wait_seconds=1) == []
    (event,) = [e for e in announced(tables[0], call_sid) if e["detail-type"] == "Recording Completed"]
    assert event["detail"]["recordingSid"] == recording_sid


def test_a_settled_call_is_asked_for_its_bill_until_twilio_has_priced_it(
    tables: tuple[str, str],
    twilio: TwilioRestStandIn,
    bus_tap: BusTap,
) -> None:
    """Twilio prices a call (and its recordings) once final, often minutes later: until then the
    sweeper keeps the call and asks again after its backoff (1 s here), then stores the bill."""
    sweep = sweep_runner(sweeper_env(tables, twilio, SWEEP_BACKOFF_SECONDS="1"))
    calls = Calls(tables, twilio)
    call_sid, answered = calls.answered(minutes_ago=30, record=True)
    ended = calls.ended_at_twilio(call_sid, answered, 95)
    calls.webhooks.advance_status(
        status_advance(StatusChange(call_sid, CallStatus.COMPLETED, clock.iso(ended), duration_seconds=95))
    )
    recording_sid = "RE" + uuid.uuid4().hex
    twilio.add_recording(
        recording_sid, write_wav([b"\x00\x00" * 8000], 8000), call_sid=call_sid, channels=1, duration="90"
    )
    # its recording callback arrived, and the recordings tier reconciled it: nothing else is open
    completed = RecordingUpdate(call_sid, recording_sid, "completed", duration_seconds=90)
    calls.webhooks.update_recording(completed)
    DynamoRecordingCalls(tables[0]).save_reconciliation(
        ReconciliationUpdate(
            call_sid=call_sid,
            transcript_source="recording",
            live_coverage=0.0,
            gaps=(),
            filled_seconds=0.0,
            transcript_version="v1",
            alignment_offset=0.0,
            alignment_method="none",
            alignment_matches=0,
            transcript_status="completed",
            segment_count=0,
        )
    )
    record_cost(calls.webhooks, call_sid, Prices())  # as the tiers priced it: the estimate
    twilio.hold_prices()

    first = sweep()

    call = calls.read.get(call_sid)
    assert call is not None
    assert (first["settled"], first["waiting"], first["pricesFromTwilio"], call.twilio_asks) == (0, 1, 0, 1)
    assert call.cost is not None
    assert "billed" not in call.cost  # the estimate alone, until Twilio says

    twilio.hold_prices(False)
    marker = call.sweep_after
    assert marker is not None
    while clock.now_iso() <= marker:  # its backoff: asked again once the marker has passed
        time.sleep(0.05)
    second = sweep()

    call = calls.read.get(call_sid)
    assert call is not None
    assert call.cost is not None
    billed = call.cost["billed"]
    assert (billed["twilio_voice"], billed["twilio_recording"], billed["total"]) == (0.017, 0.005, 0.022)
    assert billed["price_unit"] == "USD"
    # the estimate stays beside it: 2 minutes inbound, a 90-second recording priced per started minute
    assert (call.cost["twilio_voice_usd"], call.cost["twilio_recording_usd"]) == (0.017, 0.005)
    assert (second["pricesFromTwilio"], second["settled"]) == (1, 1)
    assert [r.status for r in twilio.requests if r.method == "GET"] == [200] * 4  # call, recordings, twice
