"""The sweeper Lambda on moto: calls in every state, one run re-drives exactly what was lost, a second
run changes nothing.

The calls are written through the tiers' own data-layer ports (the webhooks' status and recording
writes, the streamer's transcript writes, the summaries' and recordings' results), into tables of
this module's own (the session's shared tables hold other tests' calls, which a run with
`SWEEP_AFTER_SECONDS=0` would sweep too). The handler gets a real-shaped scheduled event; what it
publishes itself is read back from the session's bus, where no outbox announces these tables' writes;
what the outbox announces of the sweeper's own writes is read from an outbox run on them after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import boto3
import pytest

from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.dispatcher import LocalLambdaContext
from callscribe_local.outbox import LocalOutbox
from callscribe_local.twilio_rest import TwilioRestStandIn
from functions.outbox.app import build_outbox
from functions.outbox.app import create_handler as outbox_handler
from functions.outbox.settings import OutboxSettings
from functions.sweeper import app
from functions.sweeper.service import SweeperService
from functions.sweeper.settings import SweeperSettings
from functions.webhooks.cdr import advance
from shared import clock
from shared.costs import Prices, call_cost, same_cost
from shared.dal.calls.core import DynamoCallReader
from shared.dal.calls.recordings import DynamoRecordingCalls
from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.calls.summaries import DynamoSummaryCalls
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.keys import segment_key
from shared.dal.records import Gap, ReconciliationUpdate, RecordingUpdate, Segment, StreamClaim
from shared.dal.segments import DynamoSegments
from shared.dal.tables import CALLS_TO_SWEEP_INDEX, calls_model, segments_model
from shared.status import CallStatus, TranscriptStatus
from shared.status_changes import StatusChange
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.lambda_container import LambdaContainer

pytestmark = pytest.mark.integration

STREAM_START = "2026-11-22T09:30:06.000Z"
ENDED = "2026-11-22T09:30:55.000Z"
OWNER = "0f" * 16
RECORDING_START = "Sun, 22 Nov 2026 09:30:06 +0000"


@pytest.fixture
def tables(local_stack: LocalAws) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    names = (f"sweep-calls-{suffix}", f"sweep-transcripts-{suffix}")
    for model in (calls_model(names[0]), segments_model(names[1])):
        model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    return names


def service(env: Mapping[str, str]) -> SweeperService:
    return app.build_service(SweeperSettings.from_env(env))


@pytest.fixture
def twilio() -> Iterator[TwilioRestStandIn]:
    """Twilio's REST API as the sweeper reads it (a call whose callbacks were lost)."""
    with TwilioRestStandIn(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as standin:
        yield standin


def sweeper_env(tables: tuple[str, str], twilio: TwilioRestStandIn, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CALLS_TABLE": tables[0],
        "TRANSCRIPTS_TABLE": tables[1],
        "SWEEP_AFTER_SECONDS": "0",
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio.base_url,
        **extra,
    }


@pytest.fixture
def sweep(
    tables: tuple[str, str], local_stack: LocalAws, twilio: TwilioRestStandIn
) -> Callable[[], dict[str, Any]]:
    """One run of the sweeper Lambda's handler code, in one container for the test (its service
    built from these tables on the first run)."""
    return sweep_runner(sweeper_env(tables, twilio))


def sweep_runner(env: Mapping[str, str]) -> Callable[[], dict[str, Any]]:
    sweeper = LambdaContainer(
        lambda env: app.build_service(SweeperSettings.from_env(env)), app.create_handler, env
    )

    def run() -> dict[str, Any]:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-11-22T10:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweeper"],
            "detail": {},
        }
        return sweeper(event, LocalLambdaContext(function_name="callscribe-sweeper"))

    return run


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


class Calls:
    """Writes a call's state the way each tier would (their own ports on the data layer)."""

    def __init__(self, tables: tuple[str, str]) -> None:
        self.calls = DynamoCallReader(tables[0])
        self.webhooks = DynamoWebhookCalls(tables[0])
        # the streams of these calls died long ago: their last heartbeat is the claim's, at their start
        self.stream = DynamoStreamCalls(tables[0], now=lambda: STREAM_START)
        self.summaries = DynamoSummaryCalls(tables[0])
        self.recordings = DynamoRecordingCalls(tables[0])
        self.segments = DynamoSegments(tables[1])

    def ended(self, status: CallStatus = CallStatus.COMPLETED) -> str:
        call_sid = new_sid()
        advance(self.webhooks, StatusChange(call_sid, CallStatus.IN_PROGRESS, "2026-11-22T09:30:06.000Z"))
        advance(self.webhooks, StatusChange(call_sid, status, ENDED, duration_seconds=49))
        return call_sid

    def transcript(self, call_sid: str, status: TranscriptStatus | None, segments: int = 2) -> None:
        claim = StreamClaim(call_sid, OWNER, "MZ" + uuid.uuid4().hex, STREAM_START)
        assert self.stream.claim_stream(claim)
        self.segments.write_segments(
            [
                Segment(
                    call_sid=call_sid,
                    segment_key=segment_key(i * 3.0, "inbound"),
                    track="inbound",
                    speaker="caller",
                    text=f"segment {i}",
                    start=i * 3.0,
                    end=i * 3.0 + 2,
                )
                for i in range(segments)
            ]
        )
        if status is not None:
            self.stream.transcript_finished(call_sid, OWNER, status, segments, None)

    def summarised(self, call_sid: str) -> None:
        self.summaries.save_summary(call_sid, {"summary": "Moved to Friday.", "model": "m"}, ENDED)

    def recording(self, call_sid: str, status: str) -> str:
        recording_sid = "RE" + uuid.uuid4().hex
        self.webhooks.update_recording(
            RecordingUpdate(
                call_sid,
                recording_sid,
                status,
                duration_seconds=43,
                channels=2,
                source="DialVerb",
                started_at=RECORDING_START,
            )
        )
        return recording_sid

    def reconciled(self, call_sid: str) -> None:
        self.recordings.save_reconciliation(
            ReconciliationUpdate(
                call_sid=call_sid,
                transcript_source="live",
                segment_count=4,
                live_coverage=1.0,
                gaps=(Gap("inbound", 1.0, 2.0),),
                filled_seconds=0.0,
                transcript_version="v1",
                alignment_offset=1.2,
                alignment_method="words",
                alignment_matches=8,
                transcript_status="completed",
            )
        )

    def still_live(self) -> str:
        """Answered a minute ago, no terminal status yet: too early to ask Twilio about it."""
        call_sid = new_sid()
        answered = clock.iso(clock.now() - timedelta(minutes=1))
        advance(self.webhooks, StatusChange(call_sid, CallStatus.IN_PROGRESS, answered))
        self.transcript(call_sid, None)
        return call_sid


def test_one_run_redrives_exactly_what_was_lost_and_a_second_changes_nothing(
    tables: tuple[str, str], sweep: Any, bus_tap: BusTap
) -> None:
    calls = Calls(tables)
    # settled: everything done
    done = calls.ended()
    calls.transcript(done, TranscriptStatus.COMPLETED)
    calls.summarised(done)
    calls.recording(done, "completed")
    calls.reconciled(done)
    # never answered: no stream, no recording
    busy = calls.ended(CallStatus.BUSY)
    # the streamer died: transcript still in progress, a recording to reconcile with it
    stalled = calls.ended()
    calls.transcript(stalled, None, segments=3)
    stalled_recording = calls.recording(stalled, "completed")
    # Transcript Completed lost: final transcript, no summary
    unsummarised = calls.ended()
    calls.transcript(unsummarised, TranscriptStatus.COMPLETED, segments=4)
    # Recording Completed lost: recording completed, never reconciled
    unreconciled = calls.ended()
    calls.transcript(unreconciled, TranscriptStatus.COMPLETED)
    calls.summarised(unreconciled)
    unreconciled_recording = calls.recording(unreconciled, "completed")
    # the recording is still at Twilio: nothing to re-drive, but not settled either
    recording_pending = calls.ended()
    calls.transcript(recording_pending, TranscriptStatus.COMPLETED)
    calls.summarised(recording_pending)
    calls.recording(recording_pending, "in-progress")
    # still on the phone (no terminal status)
    live = calls.still_live()
    everyone = [done, busy, stalled, unsummarised, unreconciled, recording_pending, live]

    first = sweep()

    # the live call is looked at and left for later (an hour after it started, Twilio is asked)
    assert (first["due"], first["settled"], first["redriven"], first["waiting"]) == (7, 2, 3, 2)
    assert first["twilioRequests"] == 0
    still = calls.calls.get(live)
    assert still is not None
    assert (still.status, still.transcript_status, still.twilio_asks) == ("in-progress", "in-progress", None)
    assert still.started_at is not None
    assert still.sweep_after == clock.iso(clock.parse_iso(still.started_at) + timedelta(hours=1))
    # no tier priced the two settled calls here (as if their cost writes had failed): the sweeper did
    assert first["costsRepaired"] == 2
    for settled in (done, busy):
        call = calls.calls.get(settled)
        assert call is not None
        assert same_cost(call.cost, call_cost(call, Prices()))
    bus_tap.receive(wait_seconds=2)
    recording = {"channels": 2, "durationSeconds": 43, "startTime": "2026-11-22T09:30:06.000Z"}
    expected = {
        # its transcript finished by the sweeper's write, which the outbox announces (below)
        stalled: [
            ("Recording Completed", {"callSid": stalled, "recordingSid": stalled_recording, **recording}),
        ],
        unsummarised: [
            (
                "Transcript Completed",
                {"callSid": unsummarised, "segmentCount": 4, "transcriptStatus": "completed"},
            )
        ],
        unreconciled: [
            (
                "Recording Completed",
                {"callSid": unreconciled, "recordingSid": unreconciled_recording, **recording},
            )
        ],
    }
    assert published(bus_tap, everyone) == expected

    assert first["summariesMarkedFailed"] == 1
    summary_owed = calls.calls.get(unsummarised)  # its event went to the DLQ, or was lost
    assert summary_owed is not None
    assert (summary_owed.summary, summary_owed.summary_status) == (None, "failed")
    stalled_call = calls.calls.get(stalled)
    assert stalled_call is not None
    assert (stalled_call.transcript_status, stalled_call.segment_count) == ("incomplete", 3)
    assert stalled_call.transcript_error is not None
    assert "never finished" in stalled_call.transcript_error
    for settled in (done, busy):
        call = calls.calls.get(settled)
        assert call is not None
        assert (call.sweep_shard, call.sweep_after, call.swept_at is not None) == (None, None, True)
    before = {sid: asdict(call) for sid in everyone if (call := calls.calls.get(sid)) is not None}

    second = sweep()

    assert second["due"] == 0
    bus_tap.receive(wait_seconds=1)
    assert published(bus_tap, everyone) == expected  # nothing new on the bus
    after = {sid: asdict(call) for sid in everyone if (call := calls.calls.get(sid)) is not None}
    assert after == before  # and nothing changed on any call

    finished = [
        e["detail"] for e in announced(tables[0], stalled) if e["detail-type"] == "Transcript Completed"
    ]
    assert finished == [{"callSid": stalled, "segmentCount": 3, "transcriptStatus": "incomplete"}]


def announced(calls_table: str, call_sid: str) -> list[dict[str, Any]]:
    """What the outbox announces of every write to `calls_table` (an outbox and a bus of their own)."""
    bus = f"sweep-bus-{uuid.uuid4().hex[:8]}"
    boto3.client("events").create_event_bus(Name=bus)
    tap = BusTap(bus_name=bus)
    dead_letters = LocalOutbox.create_dead_letter_queue(f"{bus}-dlq")
    runtime = build_outbox(
        OutboxSettings.from_env({"EVENT_BUS_NAME": bus, "OUTBOX_DEAD_LETTER_QUEUE_URL": dead_letters})
    )
    with LocalOutbox(
        calls_table, outbox_handler(lambda: runtime), dead_letter_queue_url=dead_letters
    ) as outbox:
        assert outbox.wait_idle()
    return tap.events_for(call_sid, wait_seconds=1)


def published(bus_tap: BusTap, call_sids: list[str]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every event the tap has seen for these calls, by call, in a stable order."""
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for call_sid in call_sids:
        events = sorted((e["detail-type"], e["detail"]) for e in bus_tap.events_for(call_sid))
        if events:
            found[call_sid] = events
    return found


def test_the_index_holds_only_calls_that_may_still_need_the_sweeper(
    tables: tuple[str, str], sweep: Any
) -> None:
    calls = Calls(tables)
    done = calls.ended(CallStatus.NO_ANSWER)
    live = calls.still_live()
    sweep()
    model = calls_model(tables[0])
    indexed = {
        item.call_sid
        for shard in range(8)
        for item in model.calls_to_sweep.query(str(shard))  # type: ignore[attr-defined]
    }
    assert live in indexed
    assert done not in indexed
    index = model.describe_table()["GlobalSecondaryIndexes"]
    assert {i["IndexName"]: i["Projection"]["ProjectionType"] for i in index}[
        CALLS_TO_SWEEP_INDEX
    ] == "KEYS_ONLY"
