"""The in-memory fakes and the DynamoDB adapters agree: the same scenarios, the same answers.

Unit tests trust the fakes (`tests/support/fake_calls/`, `FakeSegments`) to refuse exactly what
DynamoDB's conditions refuse; each test here runs once on the fakes and once on the DynamoDB adapters
(`shared/dal/calls/`, `DynamoSegments`) against moto, one adapter per port over one table on each
side, and asserts the same outcome, down to what `get` hands back (plain ints, dicts, floats), and
down to what the outbox announces: the fake table's `stream` and moto's DynamoDB stream of the same
writes make the same changes.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from callscribe_local.aws_local import LocalAws
from callscribe_local.outbox import lambda_record
from functions.outbox.changes import Change, changes
from functions.outbox.inputs import WrittenRecord
from shared.dal.calls.core import DynamoCallReader
from shared.dal.calls.cost import DynamoCostWrites
from shared.dal.calls.listing import MAX_DAYS_PER_PAGE, DynamoCallList
from shared.dal.calls.recordings import DynamoRecordingCalls
from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.calls.summaries import DynamoEvaluationBackfillCalls, DynamoSummaryCalls
from shared.dal.calls.sweep import DynamoSweeperCalls
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.keys import recording_segment_key, segment_key, sweep_shard
from shared.dal.records import (
    RECORDING,
    CallListQuery,
    CallParties,
    CallUpsert,
    CostBasis,
    EvaluationSet,
    Gap,
    ReconciliationUpdate,
    RecordingUpdate,
    Segment,
    StatusAdvance,
    StreamClaim,
    StreamUsage,
    SweepClaim,
    SweepDeferral,
    TranscriptEnd,
)
from shared.dal.segments import DynamoSegments
from shared.status import TERMINAL_RANK, TranscriptStatus
from tests.support.fake_calls.core import FakeCallReader, FakeCallTable
from tests.support.fake_calls.cost import FakeCostWrites
from tests.support.fake_calls.listing import FakeCallList
from tests.support.fake_calls.recordings import FakeRecordingCalls
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.summaries import FakeEvaluationBackfillCalls, FakeSummaryCalls
from tests.support.fake_calls.sweep import FakeSweeperCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_outbox import table_changes
from tests.support.fake_segments import FakeSegments

pytestmark = pytest.mark.integration

NOW = "2026-11-22T09:31:00.000Z"
T0, T1, T2 = "2026-11-22T09:30:00.000Z", "2026-11-22T09:30:05.000Z", "2026-11-22T09:30:50.000Z"
PARTIES = CallParties(direction="inbound", from_number="+14155550100", to_number="+14155550199", to_zip="")


@dataclass
class Tables:
    """Each port's adapter, all over one calls table and one segments table (fakes or DynamoDB)."""

    calls: Any  # CallReader
    webhooks: Any  # WebhookCallWrites
    stream: Any  # StreamClaims, TranscriptStatusWrites, StreamUsageWrites, RedactionCountWrites
    recordings: Any  # RecordingCalls
    summaries: Any  # SummaryCalls
    backfill: Any  # EvaluationBackfillCalls
    sweep: Any  # SweeperCalls
    costs: Any  # CostWrites
    segments: Any  # every segments port
    listing: Any  # CallListReader
    changes: Callable[[str], list[Change]]  # what the outbox finds in the call's writes so far


def stream_changes(table_name: str) -> Callable[[str], list[Change]]:
    """The changes in the records moto's stream of the table holds from now on, for one call, read
    as the outbox Lambda reads them (Lambda's record shape, Powertools' record, `WrittenRecord`)."""
    arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    start = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")

    def read(call_sid: str) -> list[Change]:
        found: list[Change] = []
        iterator = start["ShardIterator"]
        while True:
            response = streams.get_records(ShardIterator=iterator)
            for record in response["Records"]:
                if record["dynamodb"]["Keys"]["call_sid"]["S"] == call_sid:
                    written = WrittenRecord.of(DynamoDBRecord(lambda_record(record, arn)))
                    found += changes(written.old, written.new)
            if not response["Records"]:
                return found
            iterator = response["NextShardIterator"]

    return read


@pytest.fixture(params=["fake", "dynamo"])
def tables(request: pytest.FixtureRequest) -> Iterator[Tables]:
    if request.param == "fake":
        table = FakeCallTable(now=NOW)
        yield Tables(
            calls=FakeCallReader(table),
            webhooks=FakeWebhookCalls(table),
            stream=FakeStreamCalls(table),
            recordings=FakeRecordingCalls(table),
            summaries=FakeSummaryCalls(table),
            backfill=FakeEvaluationBackfillCalls(table),
            sweep=FakeSweeperCalls(table),
            costs=FakeCostWrites(table),
            segments=FakeSegments(),
            listing=FakeCallList(table),
            changes=lambda call_sid: table_changes(table, call_sid),
        )
    else:
        stack: LocalAws = request.getfixturevalue("local_stack")
        name, now = stack.names.calls_table, (lambda: NOW)
        yield Tables(
            calls=DynamoCallReader(name, now),
            webhooks=DynamoWebhookCalls(name, now),
            stream=DynamoStreamCalls(name, now),
            recordings=DynamoRecordingCalls(name, now),
            summaries=DynamoSummaryCalls(name, now),
            backfill=DynamoEvaluationBackfillCalls(name, now),
            sweep=DynamoSweeperCalls(name, now),
            costs=DynamoCostWrites(name, now),
            segments=DynamoSegments(stack.names.transcripts_table, now=lambda: NOW),
            listing=DynamoCallList(name, now),
            changes=stream_changes(name),
        )


def stored(tables: Tables, call_sid: str) -> dict[str, Any]:
    """What `get` returns, minus the bookkeeping times only the real table writes."""
    call = tables.calls.get(call_sid)
    assert call is not None
    view = asdict(call)
    for name in ("created_at", "updated_at"):
        view.pop(name)
    if view["recording"] is not None:
        view["recording"].pop("updated_at")
    return view


OWNER, OTHER = "0f" * 16, "a1" * 16  # two streams' per-connection ids


def claim(call_sid: str, owner: str = OWNER, started_at: str = T0, stream_sid: str = "MZ1") -> StreamClaim:
    return StreamClaim(call_sid=call_sid, owner=owner, stream_sid=stream_sid, started_at=started_at)


def ringing(call_sid: str, **overrides: Any) -> StatusAdvance:
    return StatusAdvance(call_sid=call_sid, status="ringing", rank=2, at=T0, parties=PARTIES, **overrides)


def test_status_only_moves_up_and_the_first_terminal_wins(tables: Tables, call_sid: str) -> None:
    assert tables.calls.get(call_sid) is None
    assert tables.webhooks.advance_status(ringing(call_sid))  # unseen call: the history map is created
    assert not tables.webhooks.advance_status(ringing(call_sid))  # repeated
    answered = StatusAdvance(call_sid=call_sid, status="in-progress", rank=3, at=T1, answered_at=T1)
    assert tables.webhooks.advance_status(answered)
    done = StatusAdvance(
        call_sid=call_sid, status="completed", rank=TERMINAL_RANK, at=T2, ended_at=T2, duration_seconds=45
    )
    busy = StatusAdvance(call_sid=call_sid, status="busy", rank=TERMINAL_RANK, at=T2, ended_at=T2)
    assert tables.webhooks.advance_status(done)
    assert not tables.webhooks.advance_status(busy)
    assert not tables.webhooks.advance_status(answered)

    call = stored(tables, call_sid)
    assert (call["status"], call["status_rank"], call["duration_seconds"]) == ("completed", 4, 45)
    assert isinstance(call["duration_seconds"], int)
    assert call["status_history"] == {"ringing": T0, "in-progress": T1, "completed": T2}
    assert (call["started_at"], call["call_date"], call["answered_at"], call["ended_at"]) == (
        T0,
        "2026-11-22",
        T1,
        T2,
    )
    assert (call["direction"], call["from_number"], call["to_zip"]) == ("inbound", "+14155550100", None)


def test_upsert_keeps_first_seen_times_and_fills_the_parties(tables: Tables, call_sid: str) -> None:
    tables.webhooks.upsert_call(
        CallUpsert(
            call_sid,
            PARTIES,
            T1,
            route="forward",
            connect_to="+14155550111",
            language="es",
            stt_model="nova-2",
            recording_expected=False,
        )
    )
    tables.webhooks.upsert_call(CallUpsert(call_sid, CallParties(caller_name="ALICE"), T2))
    assert tables.webhooks.advance_status(ringing(call_sid))
    call = stored(tables, call_sid)
    assert (call["started_at"], call["route"], call["connect_to"], call["caller_name"]) == (
        T1,
        "forward",
        "+14155550111",
        "ALICE",
    )
    assert (call["language"], call["stt_model"], call["recording_expected"]) == ("es", "nova-2", False)
    assert call["status_history"] == {"ringing": T0}


def test_legs_are_added_to_an_existing_parent_once(tables: Tables, call_sid: str) -> None:
    first, second = "CA" + "7" * 32, "CA" + "8" * 32
    assert not tables.webhooks.add_leg(call_sid, first)  # no parent stored: nothing is created
    assert tables.calls.get(call_sid) is None
    assert tables.webhooks.advance_status(ringing(call_sid))
    assert tables.webhooks.add_leg(call_sid, first)
    assert not tables.webhooks.add_leg(call_sid, first)  # a repeated leg callback
    assert tables.webhooks.add_leg(call_sid, second)
    assert stored(tables, call_sid)["leg_call_sids"] == (first, second)


def test_a_completed_recording_is_never_replaced_by_a_lesser_report(tables: Tables, call_sid: str) -> None:
    completed = RecordingUpdate(call_sid, "RE" + "1" * 32, "completed", duration_seconds=37, channels=2)
    assert tables.webhooks.update_recording(completed)
    assert not tables.webhooks.update_recording(RecordingUpdate(call_sid, "RE" + "1" * 32, "in-progress"))
    assert tables.webhooks.update_recording(completed)
    recording = stored(tables, call_sid)["recording"]
    assert (recording["status"], recording["duration_seconds"], recording["channels"]) == ("completed", 37, 2)


def test_transcript_status_never_moves_back_and_a_failure_wins(tables: Tables, call_sid: str) -> None:
    assert tables.stream.claim_stream(claim(call_sid))
    assert tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.COMPLETED, 3, None) == (
        TranscriptEnd.ENDED
    )
    assert tables.stream.transcript_failed(call_sid, OWNER, "x" * 600)
    ended = tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.INCOMPLETE, 2, "gap")
    assert ended is TranscriptEnd.REFUSED
    assert tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.FAILED, 3, None) == (
        TranscriptEnd.ENDED  # a failure's end keeps the failure's error
    )
    call = stored(tables, call_sid)
    assert (call["transcript_status"], call["segment_count"], call["stream_sid"]) == ("failed", 3, "MZ1")
    assert call["transcript_error"] == "x" * 500
    assert call["transcript_completed_at"] == NOW


def test_a_call_is_claimed_by_one_stream_once(tables: Tables, call_sid: str) -> None:
    """A stream takes its call in one write, with what a start writes; no other stream, running or
    ended, takes it again; the owner's own retried claim repeats itself."""
    assert tables.webhooks.advance_status(ringing(call_sid))
    assert tables.stream.claim_stream(claim(call_sid, started_at=T1))
    call = stored(tables, call_sid)
    assert (call["stream_owner"], call["stream_sid"], call["transcript_status"]) == (
        OWNER,
        "MZ1",
        "in-progress",
    )
    assert (call["stream_started_at"], call["stream_heartbeat_at"], call["status"]) == (T1, NOW, "ringing")
    assert not tables.stream.claim_stream(claim(call_sid, OTHER, T2, "MZ2"))  # a second stream, running
    assert tables.stream.claim_stream(claim(call_sid, started_at=T2))  # the claim's own retry
    assert stored(tables, call_sid)["stream_started_at"] == T1  # written once
    assert tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.COMPLETED, 0, None) == (
        TranscriptEnd.ENDED
    )
    assert not tables.stream.claim_stream(claim(call_sid, OTHER, T2, "MZ2"))  # ... or ended
    call = stored(tables, call_sid)
    assert (call["stream_owner"], call["stream_sid"], call["transcript_status"]) == (
        OWNER,
        "MZ1",
        "completed",
    )

    unseen = "CA" + call_sid[2:][::-1]
    assert tables.stream.claim_stream(claim(unseen))  # no tier has written the call yet: created
    assert stored(tables, unseen)["transcript_status"] == "in-progress"


def test_only_the_owning_stream_writes_the_call_or_its_segments(tables: Tables, call_sid: str) -> None:
    assert tables.stream.claim_stream(claim(call_sid))
    assert tables.stream.record_stream_usage(StreamUsage(call_sid=call_sid, live_audio_seconds=12.5), OWNER)
    assert tables.stream.save_redaction_counts(call_sid, OWNER, {"CARD": 1})
    segment = Segment(
        call_sid=call_sid,
        segment_key=segment_key(1.0, "inbound"),
        track="inbound",
        speaker="caller",
        text="i will pay the full amount",
        start=1.0,
        end=2.5,
    )
    assert tables.segments.write_owned_segment(segment, OWNER)
    assert tables.segments.write_owned_segment(segment, OWNER)  # a retry overwrites itself
    assert tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.INCOMPLETE, 1, "gap") == (
        TranscriptEnd.ENDED
    )
    before = stored(tables, call_sid)

    forged = replace(segment, text="i want a refund of five thousand dollars and you agreed")
    assert not tables.segments.write_owned_segment(forged, OTHER)
    assert not tables.stream.heartbeat(call_sid, OTHER)
    assert not tables.stream.transcript_failed(call_sid, OTHER, "forged")
    ended = tables.stream.transcript_finished(call_sid, OTHER, TranscriptStatus.COMPLETED, 9, None)
    assert ended is TranscriptEnd.REFUSED
    assert not tables.stream.record_stream_usage(
        StreamUsage(call_sid=call_sid, live_audio_seconds=99.0), OTHER
    )
    assert not tables.stream.save_redaction_counts(call_sid, OTHER, {})
    assert stored(tables, call_sid) == before
    assert [s.text for s in tables.segments.list_segments(call_sid)] == ["i will pay the full amount"]
    assert (before["live_audio_seconds"], before["redaction_counts"]) == (12.5, {"CARD": 1})

    # no claim, no writes: none of them creates a record
    unclaimed = "CA" + call_sid[2:][::-1]
    assert not tables.stream.heartbeat(unclaimed, OWNER)
    assert not tables.stream.record_stream_usage(
        StreamUsage(call_sid=unclaimed, live_audio_seconds=1.0), OWNER
    )
    assert not tables.stream.save_redaction_counts(unclaimed, OWNER, {})
    assert tables.stream.transcript_finished(unclaimed, OWNER, TranscriptStatus.COMPLETED, 0, None) == (
        TranscriptEnd.REFUSED
    )
    assert tables.calls.get(unclaimed) is None


def test_the_sweeper_ends_a_transcript_only_once_its_stream_is_silent(tables: Tables, call_sid: str) -> None:
    """The heartbeat (NOW, from the claim) against the sweeper's staleness bound; then the owner's
    own ending lands over the sweeper's, without its error, and says the sweeper announced it."""
    assert tables.stream.claim_stream(claim(call_sid))
    assert tables.stream.heartbeat(call_sid, OWNER)
    assert not tables.sweep.finish_stalled_transcript(call_sid, 0, "stalled", NOW)  # heartbeat at NOW: alive
    assert not tables.sweep.finish_stalled_transcript(call_sid, 0, "stalled", T0)
    assert stored(tables, call_sid)["transcript_status"] == "in-progress"
    assert tables.sweep.finish_stalled_transcript(call_sid, 0, "stalled", "2026-11-22T09:31:00.001Z")
    call = stored(tables, call_sid)
    assert (call["transcript_status"], call["transcript_error"], call["transcript_swept_at"]) == (
        "incomplete",
        "stalled",
        NOW,
    )
    assert tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.COMPLETED, 4, None) == (
        TranscriptEnd.AFTER_SWEEP
    )
    call = stored(tables, call_sid)
    assert (call["transcript_status"], call["transcript_error"], call["segment_count"]) == (
        "completed",
        None,
        4,
    )


def test_the_summary_is_stored_once(tables: Tables, call_sid: str) -> None:
    summary = {
        "summary": "Moved to Friday.",
        "estimated_cost_usd": 0.0,
        "usage": {"requests": 1, "input_tokens": 900},
        "action_items": [{"owner": "caller", "description": "Confirm"}],
        "follow_up_needed": True,
        "topics": [],
    }
    assert tables.summaries.save_summary(call_sid, {"summary": "first"}, NOW)  # creates the item
    assert not tables.summaries.save_summary(call_sid, summary, NOW)
    assert stored(tables, call_sid)["summary"] == {"summary": "first"}

    other = "CA" + call_sid[2:][::-1]
    assert tables.summaries.save_summary(other, summary, NOW)
    call = stored(tables, other)
    assert call["summary"] == summary
    assert isinstance(call["summary"]["estimated_cost_usd"], int)  # 0.0 reads back as JSON's 0
    assert isinstance(call["summary"]["usage"]["requests"], int)
    assert (call["summary_status"], call["summary_created_at"]) == ("completed", NOW)


def test_a_calls_writes_make_the_same_changes_on_both_streams(tables: Tables, call_sid: str) -> None:
    """A whole call's writes, repeats and no-op writes included: each transition once, in order."""
    completed = RecordingUpdate(call_sid, "RE" + "3" * 32, "completed", duration_seconds=37, channels=2)
    tables.webhooks.upsert_call(CallUpsert(call_sid, PARTIES, T0, route="forward"))
    tables.webhooks.advance_status(ringing(call_sid))
    tables.webhooks.advance_status(ringing(call_sid))  # a repeated callback: refused
    tables.stream.claim_stream(claim(call_sid))
    tables.stream.heartbeat(call_sid, OWNER)
    answered = StatusAdvance(call_sid=call_sid, status="in-progress", rank=3, at=T1, answered_at=T1)
    tables.webhooks.advance_status(answered)
    tables.stream.record_stream_usage(StreamUsage(call_sid=call_sid, live_audio_seconds=80.0), OWNER)
    tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.COMPLETED, 4, None)
    tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.COMPLETED, 4, None)  # a retry
    done = StatusAdvance(
        call_sid=call_sid, status="completed", rank=TERMINAL_RANK, at=T2, ended_at=T2, duration_seconds=50
    )
    tables.webhooks.advance_status(done)
    tables.webhooks.update_recording(completed)
    tables.webhooks.update_recording(completed)  # a duplicate callback: stored again, as it was
    tables.summaries.save_summary(call_sid, {"summary": "s", "model": "m"}, NOW)
    tables.costs.save_cost(call_sid, {"total_usd": 0.1}, CostBasis.of(tables.calls.get(call_sid)))

    found = tables.changes(call_sid)
    assert [(type(c).__name__, getattr(c, "previous", None)) for c in found] == [
        ("CallStatusChanged", None),
        ("CallStatusChanged", "ringing"),
        ("TranscriptFinished", None),
        ("CallStatusChanged", "in-progress"),
        ("RecordingReady", None),
        ("SummaryStored", None),
    ]
    assert (found[2].call.transcript_status, found[2].call.segment_count) == ("completed", 4)
    assert found[4].call.recording is not None
    assert found[4].call.recording.sid == "RE" + "3" * 32


def test_segments_are_keyed_by_their_timing_and_read_back_in_order(tables: Tables, call_sid: str) -> None:
    def segment(start: float, track: str, text: str) -> Segment:
        return Segment(
            call_sid=call_sid,
            segment_key=segment_key(start, track),
            track=track,
            speaker="caller" if track == "inbound" else "callee",
            text=text,
            start=start,
            end=start + 1.5,
            confidence=0.9,
        )

    tables.segments.write_segments([segment(3.5, "outbound", "b"), segment(0.0, "inbound", "first try")])
    tables.segments.write_segments([segment(0.0, "inbound", "a"), segment(0.0, "inbound", "a again")])
    rows = [(s.start, s.track, s.text, s.end) for s in tables.segments.list_segments(call_sid)]
    assert rows == [(0.0, "inbound", "a again", 1.5), (3.5, "outbound", "b", 5.0)]
    assert all(isinstance(s.start, float) for s in tables.segments.list_segments(call_sid))
    assert tables.segments.list_segments("CA" + "0" * 32) == []


def test_segment_pages_concatenate_to_the_whole_transcript(tables: Tables, call_sid: str) -> None:
    starts = [0.0, 0.0, 1.25, 2.5, 2.5, 3.75, 5.0]  # ties on start: the track orders them
    tracks = ["outbound", "inbound", "inbound", "inbound", "outbound", "outbound", "inbound"]
    tables.segments.write_segments(
        [
            Segment(
                call_sid=call_sid,
                segment_key=segment_key(start, track),
                track=track,
                speaker="caller",
                text=f"{start}/{track}",
                start=start,
                end=start + 1,
            )
            for start, track in zip(starts, tracks, strict=True)
        ]
    )
    whole = tables.segments.list_segments(call_sid)
    pages: list[list[Segment]] = []
    after = None
    while True:
        page = tables.segments.page_segments(call_sid, limit=3, after=after)
        pages.append(page.segments)
        if page.next_key is None:
            break
        assert page.next_key == page.segments[-1].segment_key
        after = page.next_key
    assert pages == [whole[0:3], whole[3:6], whole[6:7]]  # the same records, each once, in order
    assert [s.text for s in whole][:2] == ["0.0/inbound", "0.0/outbound"]

    exact = tables.segments.page_segments(call_sid, limit=len(whole))
    assert (len(exact.segments), exact.next_key) == (len(whole), None)  # no empty page after the last
    assert tables.segments.page_segments(call_sid, limit=5, after=whole[-1].segment_key).segments == []
    assert tables.segments.page_segments(call_sid, limit=5, after="9999999999#z").next_key is None
    middle = tables.segments.page_segments(call_sid, limit=1, after="0000001000#inbound")  # no such item
    assert [s.segment_key for s in middle.segments] == [segment_key(1.25, "inbound")]
    empty = tables.segments.page_segments("CA" + "0" * 32, limit=10)
    assert (empty.segments, empty.next_key) == ([], None)


def test_the_stream_start_and_the_recording_copy_are_written_once_and_in_place(
    tables: Tables, call_sid: str
) -> None:
    assert tables.stream.claim_stream(claim(call_sid, started_at=T0))
    assert tables.stream.claim_stream(claim(call_sid, started_at=T1))  # retried: the first start stays
    recording_sid = "RE" + "1" * 32
    assert not tables.recordings.set_recording_s3_key(call_sid, recording_sid, "recordings/a.wav")  # none yet
    assert tables.webhooks.update_recording(RecordingUpdate(call_sid, recording_sid, "completed", channels=2))
    assert not tables.recordings.set_recording_s3_key(call_sid, "RE" + "2" * 32, "recordings/b.wav")
    assert tables.recordings.set_recording_s3_key(call_sid, recording_sid, "recordings/a.wav")
    assert tables.webhooks.update_recording(RecordingUpdate(call_sid, recording_sid, "completed", channels=2))
    call = stored(tables, call_sid)
    assert (call["stream_started_at"], call["recording_s3_key"]) == (T0, "recordings/a.wav")


def test_redaction_counts_are_set_as_totals(tables: Tables, call_sid: str) -> None:
    assert tables.stream.claim_stream(claim(call_sid))
    assert tables.stream.save_redaction_counts(call_sid, OWNER, {})  # redaction ran, found nothing
    assert stored(tables, call_sid)["redaction_counts"] == {}
    assert tables.stream.save_redaction_counts(call_sid, OWNER, {"CARD": 2, "SSN": 1})
    assert tables.stream.save_redaction_counts(call_sid, OWNER, {"CARD": 2, "SSN": 1})  # a retry
    call = stored(tables, call_sid)
    assert call["redaction_counts"] == {"CARD": 2, "SSN": 1}
    assert call["recording_redaction_counts"] is None


def test_a_reconciliation_stores_its_redaction_counts(tables: Tables, call_sid: str) -> None:
    def update(version: str, counts: dict[str, int] | None) -> ReconciliationUpdate:
        return ReconciliationUpdate(
            call_sid=call_sid,
            transcript_source="live+recording",
            segment_count=6,
            live_coverage=0.5,
            gaps=(),
            filled_seconds=3.0,
            transcript_version=version,
            alignment_offset=0.0,
            alignment_method="none",
            alignment_matches=0,
            transcript_status="completed",
            redaction_counts=counts,
        )

    assert tables.recordings.save_reconciliation(update("v1", {"CARD": 1}))
    assert not tables.recordings.save_reconciliation(update("v1", {"CARD": 5}))  # same version: refused
    assert stored(tables, call_sid)["recording_redaction_counts"] == {"CARD": 1}
    assert tables.recordings.save_reconciliation(update("v2", {}))
    assert stored(tables, call_sid)["recording_redaction_counts"] == {}
    assert tables.recordings.save_reconciliation(update("v3", None))  # redaction off: left as it was
    call = stored(tables, call_sid)
    assert (call["recording_redaction_counts"], call["redaction_counts"]) == ({}, None)


def test_a_reconciliation_is_stored_once_per_transcript_version(tables: Tables, call_sid: str) -> None:
    def update(version: str, coverage: float, status: str = "completed") -> ReconciliationUpdate:
        return ReconciliationUpdate(
            call_sid=call_sid,
            transcript_source="live+recording",
            segment_count=6,
            live_coverage=coverage,
            gaps=(Gap("inbound", 20.0, 40.5), Gap("outbound", 1.25, 2.0)),
            filled_seconds=12.5,
            transcript_version=version,
            alignment_offset=3.37,
            alignment_method="words",
            alignment_matches=120,
            transcript_status=status,
        )

    assert tables.recordings.save_reconciliation(update("v1", 0.75))
    assert not tables.recordings.save_reconciliation(update("v1", 0.5))
    call = stored(tables, call_sid)
    assert (call["transcript_source"], call["live_coverage"], call["filled_seconds"]) == (
        "live+recording",
        0.75,
        12.5,
    )
    assert call["gaps"] == (
        {"track": "inbound", "start": 20.0, "end": 40.5},
        {"track": "outbound", "start": 1.25, "end": 2.0},
    )
    assert call["alignment"] == {"offset_seconds": 3.37, "method": "words", "matches": 120}
    assert (call["transcript_version"], call["reconciled_at"]) == ("v1", NOW)
    assert call["reconciled_transcript_status"] == "completed"
    assert call["reconciled_segment_count"] == 6  # the final transcript's: `Transcript Reconciled` says it
    assert tables.recordings.save_reconciliation(update("v2", 1.0))
    assert stored(tables, call_sid)["live_coverage"] == 1
    # one read while live was still in progress never replaces one read from the final transcript
    assert not tables.recordings.save_reconciliation(update("v3", 0.5, "in-progress"))
    assert stored(tables, call_sid)["transcript_version"] == "v2"


def test_an_early_reconciliation_is_redone_once_live_is_final(tables: Tables, call_sid: str) -> None:
    def update(version: str, status: str) -> ReconciliationUpdate:
        return ReconciliationUpdate(
            call_sid=call_sid,
            transcript_source="live",
            segment_count=6,
            live_coverage=1.0,
            gaps=(),
            filled_seconds=0.0,
            transcript_version=version,
            alignment_offset=0.0,
            alignment_method="timestamps",
            alignment_matches=0,
            transcript_status=status,
        )

    assert tables.recordings.save_reconciliation(update("v1", "in-progress"))
    assert not tables.recordings.save_reconciliation(update("v1", "in-progress"))
    assert tables.recordings.save_reconciliation(update("v1", "completed"))  # same words, now final
    call = stored(tables, call_sid)
    assert (call["transcript_version"], call["reconciled_transcript_status"]) == ("v1", "completed")
    assert not tables.recordings.save_reconciliation(update("v1", "completed"))


def test_a_summary_is_rewritten_once_per_transcript_version(tables: Tables, call_sid: str) -> None:
    assert not tables.summaries.replace_summary(call_sid, {"headline": "v1"}, T1, "v1")  # nothing to replace
    assert tables.summaries.save_summary(call_sid, {"headline": "live"}, T0)
    assert tables.summaries.replace_summary(
        call_sid, {"headline": "v1", "transcript_version": "v1"}, T1, "v1"
    )
    call = stored(tables, call_sid)
    assert (call["summary"], call["summary_created_at"]) == (
        {"headline": "v1", "transcript_version": "v1"},
        T1,
    )
    again = {"headline": "again", "transcript_version": "v1"}
    assert not tables.summaries.replace_summary(call_sid, again, T2, "v1")
    assert tables.summaries.replace_summary(
        call_sid, {"headline": "v2", "transcript_version": "v2"}, T2, "v2"
    )
    assert stored(tables, call_sid)["summary"]["headline"] == "v2"


def test_the_summary_failure_mark_never_lands_on_a_summary_and_a_summary_replaces_it(
    tables: Tables, call_sid: str
) -> None:
    """Both writers of `summary_status = failed` (the summaries, the sweeper) hold the same condition."""
    assert not tables.summaries.summary_failed(call_sid)  # no record yet: the mark creates none
    assert not tables.sweep.summary_failed(call_sid)
    assert tables.calls.get(call_sid) is None
    tables.webhooks.upsert_call(CallUpsert(call_sid, PARTIES, T0))
    assert tables.summaries.summary_failed(call_sid)
    assert tables.sweep.summary_failed(call_sid)  # a repeat lands the same value
    assert stored(tables, call_sid)["summary_status"] == "failed"

    assert tables.summaries.save_summary(call_sid, {"summary": "Moved to Friday."}, NOW)
    assert stored(tables, call_sid)["summary_status"] == "completed"
    assert not tables.sweep.summary_failed(call_sid)  # a late failure cannot contradict it
    assert not tables.summaries.summary_failed(call_sid)
    call = stored(tables, call_sid)
    assert (call["summary_status"], call["summary"]) == ("completed", {"summary": "Moved to Friday."})


def test_recording_segments_never_touch_live_ones(tables: Tables, call_sid: str) -> None:
    live = Segment(
        call_sid=call_sid,
        segment_key=segment_key(3.5, "inbound"),
        track="inbound",
        speaker="caller",
        text="live",
        start=3.5,
        end=4.0,
        source="deepgram:nova-3",
    )
    filled = [
        Segment(
            call_sid=call_sid,
            segment_key=recording_segment_key(start, "inbound"),
            track="inbound",
            speaker="caller",
            text=f"filled {start}",
            start=start,
            end=start + 0.4,
            source="deepgram:nova-3",
            origin=RECORDING,
        )
        for start in (3.5, 9.0)
    ]
    tables.segments.write_segments([live])
    tables.segments.write_recording_segments(filled)
    tables.segments.write_recording_segments(filled)  # a re-drive overwrites itself
    rows = [(s.segment_key, s.text, s.origin) for s in tables.segments.list_segments(call_sid)]
    assert rows == [
        ("0000003500#inbound", "live", None),
        ("0000003500#inbound#r", "filled 3.5", "recording"),
        ("0000009000#inbound#r", "filled 9.0", "recording"),
    ]
    with pytest.raises(ValueError, match="not a recording segment key"):
        tables.segments.delete_recording_segments(call_sid, [live.segment_key])
    # a recording key that is gone already, and one that stays: only the named one goes
    tables.segments.delete_recording_segments(call_sid, ["0000009000#inbound#r", "0000123000#inbound#r"])
    assert [s.segment_key for s in tables.segments.list_segments(call_sid)] == [
        "0000003500#inbound",
        "0000003500#inbound#r",
    ]


# The sweeper's index is shared by every test on the moto table, so these use times of their own
# (years no other test writes) and only ever look for their own call in the due list.
FALLBACK, ENDED, LATER = "1999-01-02T00:00:00.000Z", "1999-01-01T10:00:00.000Z", "1999-01-01T12:00:00.000Z"


def due(tables: Tables, cutoff: str) -> list[str]:
    return tables.sweep.calls_due_for_sweep(cutoff, 10_000)


def test_status_writes_mark_the_call_for_the_sweeper(tables: Tables, call_sid: str) -> None:
    assert tables.webhooks.advance_status(ringing(call_sid, sweep_after=FALLBACK))
    answered = StatusAdvance(call_sid=call_sid, status="in-progress", rank=3, at=T1, sweep_after=LATER)
    assert tables.webhooks.advance_status(answered)  # an earlier status keeps the first fallback
    call = stored(tables, call_sid)
    assert (call["sweep_shard"], call["sweep_after"]) == (sweep_shard(call_sid), FALLBACK)
    assert call_sid in due(tables, FALLBACK)
    assert call_sid not in due(tables, ENDED)

    done = StatusAdvance(
        call_sid=call_sid, status="completed", rank=TERMINAL_RANK, at=ENDED, ended_at=ENDED, sweep_after=ENDED
    )
    assert tables.webhooks.advance_status(done)  # the terminal status replaces the fallback
    assert stored(tables, call_sid)["sweep_after"] == ENDED
    assert call_sid in due(tables, ENDED)
    assert call_sid not in due(tables, "1999-01-01T09:59:59.999Z")
    assert call_sid in tables.sweep.calls_due_for_sweep(ENDED, 10_000)


def test_sweep_claims_settle_and_park_only_on_the_marker_they_read(tables: Tables, call_sid: str) -> None:
    done = StatusAdvance(
        call_sid=call_sid, status="completed", rank=TERMINAL_RANK, at=ENDED, ended_at=ENDED, sweep_after=ENDED
    )
    assert tables.webhooks.advance_status(done)
    claim = SweepClaim(call_sid, expected_after=ENDED, next_after=LATER, attempts=1)
    assert not tables.sweep.claim_sweep(SweepClaim(call_sid, LATER, FALLBACK, 1))  # not what is stored
    assert tables.sweep.claim_sweep(claim)
    assert not tables.sweep.claim_sweep(claim)  # a second run read the same marker: it loses
    call = stored(tables, call_sid)
    assert (call["sweep_after"], call["sweep_attempts"], call["swept_at"]) == (LATER, 1, NOW)
    assert call_sid not in due(tables, ENDED)

    tables.sweep.release_sweep(claim)
    assert (stored(tables, call_sid)["sweep_after"], stored(tables, call_sid)["sweep_attempts"]) == (ENDED, 0)
    tables.sweep.release_sweep(claim)  # released already: nothing moves
    assert stored(tables, call_sid)["sweep_after"] == ENDED

    assert not tables.sweep.settle_sweep(call_sid, LATER)
    assert tables.sweep.settle_sweep(call_sid, ENDED)
    call = stored(tables, call_sid)
    assert (call["sweep_shard"], call["sweep_after"], call["sweep_gave_up_at"]) == (None, None, None)
    assert call_sid not in due(tables, FALLBACK)
    assert not tables.sweep.settle_sweep(call_sid, ENDED)  # a second settle changes nothing

    other = "CA" + call_sid[2:][::-1]
    tables.webhooks.advance_status(
        StatusAdvance(
            call_sid=other, status="busy", rank=TERMINAL_RANK, at=ENDED, ended_at=ENDED, sweep_after=ENDED
        )
    )
    assert tables.sweep.park_sweep(other, ENDED)
    call = stored(tables, other)
    assert (call["sweep_after"], call["sweep_gave_up_at"], call["status"]) == (None, NOW, "busy")
    assert other not in due(tables, FALLBACK)


def test_a_sweep_is_deferred_only_from_the_marker_read_and_counts_twilios_asks(
    tables: Tables, call_sid: str
) -> None:
    assert tables.webhooks.advance_status(ringing(call_sid, sweep_after=T0))
    first = SweepDeferral(call_sid, expected_after=T0, next_after=LATER)
    assert tables.sweep.defer_sweep(first)
    call = stored(tables, call_sid)
    assert (call["sweep_after"], call["sweep_attempts"], call["twilio_asks"], call["swept_at"]) == (
        LATER,
        None,  # not a re-drive: the attempts are the re-drives'
        None,
        NOW,
    )
    assert not tables.sweep.defer_sweep(first)  # the marker moved since it was read
    asked = SweepDeferral(call_sid, expected_after=LATER, next_after=FALLBACK, twilio_asks=1)
    assert tables.sweep.defer_sweep(asked)
    call = stored(tables, call_sid)
    assert (call["sweep_after"], call["twilio_asks"], call["twilio_asked_at"]) == (FALLBACK, 1, NOW)
    assert call["status"] == "ringing"


def test_the_sweeper_writes_what_twilio_says_as_the_webhooks_do(tables: Tables, call_sid: str) -> None:
    """The sweeper's adapter holds the webhooks' status, recording and leg writes, with their rules."""
    assert tables.webhooks.advance_status(ringing(call_sid, sweep_after=T0))
    done = StatusAdvance(
        call_sid=call_sid, status="completed", rank=TERMINAL_RANK, at=ENDED, ended_at=ENDED, sweep_after=ENDED
    )
    assert tables.sweep.advance_status(done)
    assert not tables.sweep.advance_status(ringing(call_sid, sweep_after=T0))  # never back
    recording = RecordingUpdate(call_sid, "RE" + "1" * 32, "completed", duration_seconds=43, channels=2)
    assert tables.sweep.update_recording(recording)
    assert not tables.sweep.update_recording(RecordingUpdate(call_sid, "RE" + "1" * 32, "in-progress"))
    leg = "CA" + call_sid[2:][::-1]
    assert tables.sweep.add_leg(call_sid, leg)
    assert not tables.sweep.add_leg(call_sid, leg)
    call = stored(tables, call_sid)
    assert (call["status"], call["sweep_after"], call["leg_call_sids"]) == ("completed", ENDED, (leg,))
    assert (call["recording"]["status"], call["recording"]["duration_seconds"]) == ("completed", 43)


def test_a_call_recorded_by_nothing_settles_as_live_only_once(tables: Tables, call_sid: str) -> None:
    done = StatusAdvance(
        call_sid=call_sid, status="completed", rank=TERMINAL_RANK, at=ENDED, ended_at=ENDED, sweep_after=ENDED
    )
    assert tables.webhooks.advance_status(done)
    assert tables.stream.claim_stream(claim(call_sid))
    assert tables.stream.transcript_finished(call_sid, OWNER, TranscriptStatus.COMPLETED, 5, None)
    assert not tables.sweep.settle_live_only(call_sid, ENDED, "completed")  # a recording is expected
    tables.webhooks.upsert_call(CallUpsert(call_sid, PARTIES, T0, recording_expected=False))
    assert not tables.sweep.settle_live_only(call_sid, LATER, "completed")  # not the marker read
    assert not tables.sweep.settle_live_only(call_sid, ENDED, "in-progress")  # not the status read
    assert tables.sweep.settle_live_only(call_sid, ENDED, "completed")
    call = stored(tables, call_sid)
    assert (call["sweep_shard"], call["sweep_after"], call["swept_at"]) == (None, None, NOW)
    assert (call["transcript_source"], call["gaps"], call["filled_seconds"]) == ("live", (), 0)
    assert (call["live_coverage"], call["transcript_version"]) == (None, None)
    assert (call["reconciled_transcript_status"], call["reconciled_at"]) == ("completed", NOW)
    assert not tables.sweep.settle_live_only(call_sid, ENDED, "completed")  # once


def test_a_stalled_transcript_is_finished_only_while_it_is_still_open(tables: Tables, call_sid: str) -> None:
    stale_before = "2026-11-22T09:32:00.000Z"  # after the claim's heartbeat (NOW)
    assert not tables.sweep.finish_stalled_transcript(call_sid, 3, "stalled", stale_before)  # no transcript
    assert tables.stream.claim_stream(claim(call_sid))
    assert tables.sweep.finish_stalled_transcript(call_sid, 3, "s" * 600, stale_before)
    assert not tables.sweep.finish_stalled_transcript(call_sid, 4, "again", stale_before)
    call = stored(tables, call_sid)
    assert (call["transcript_status"], call["segment_count"], call["transcript_completed_at"]) == (
        "incomplete",
        3,
        NOW,
    )
    assert call["transcript_error"] == "s" * 500

    other = "CA" + call_sid[2:][::-1]
    assert tables.stream.claim_stream(claim(other))
    assert tables.stream.transcript_finished(other, OWNER, TranscriptStatus.COMPLETED, 5, None)
    assert not tables.sweep.finish_stalled_transcript(other, 1, "stalled", stale_before)  # the stream's wins
    assert stored(tables, other)["transcript_status"] == "completed"


def test_only_live_segments_are_counted(tables: Tables, call_sid: str) -> None:
    assert tables.segments.count_live_segments(call_sid) == 0
    live = [
        Segment(
            call_sid=call_sid,
            segment_key=segment_key(start, "inbound"),
            track="inbound",
            speaker="caller",
            text="live",
            start=start,
            end=start + 1,
        )
        for start in (0.0, 2.0)
    ]
    filled = Segment(
        call_sid=call_sid,
        segment_key=recording_segment_key(5.0, "inbound"),
        track="inbound",
        speaker="caller",
        text="filled",
        start=5.0,
        end=6.0,
        origin=RECORDING,
    )
    tables.segments.write_segments(live)
    tables.segments.write_recording_segments([filled])
    assert tables.segments.count_live_segments(call_sid) == 2


def test_a_cost_is_stored_only_on_the_record_it_was_computed_from(tables: Tables, call_sid: str) -> None:
    cost = {"total_usd": 0.0255, "voice_minutes": 3, "twilio_voice_usd": 0.0255, "prices_as_of": "2026-11-01"}
    assert not tables.costs.save_cost(call_sid, cost, CostBasis())  # no record: a cost never creates one
    assert tables.calls.get(call_sid) is None

    assert tables.webhooks.advance_status(ringing(call_sid))
    bare = tables.calls.get(call_sid)
    assert tables.costs.save_cost(call_sid, cost, CostBasis.of(bare))  # absent maps (recording, summary) too
    assert stored(tables, call_sid)["cost"] == cost

    done = StatusAdvance(
        call_sid=call_sid, status="completed", rank=TERMINAL_RANK, at=T2, ended_at=T2, duration_seconds=125
    )
    assert tables.webhooks.advance_status(done)
    assert not tables.costs.save_cost(
        call_sid, {"total_usd": 1}, CostBasis.of(bare)
    )  # status, duration moved
    recording_sid = "RE" + "1" * 32
    assert tables.webhooks.update_recording(
        RecordingUpdate(call_sid, recording_sid, "completed", duration_seconds=118, channels=2)
    )
    assert tables.stream.claim_stream(claim(call_sid))
    assert tables.stream.record_stream_usage(
        StreamUsage(call_sid=call_sid, live_audio_seconds=31.4125, tts_characters=77), OWNER
    )
    assert tables.summaries.save_summary(call_sid, {"model": "m", "estimated_cost_usd": 0.00012345}, T2)
    before_reconciliation = tables.calls.get(call_sid)
    assert (before_reconciliation.live_audio_seconds, before_reconciliation.tts_characters) == (31.4125, 77)
    assert tables.recordings.save_reconciliation(
        ReconciliationUpdate(
            call_sid=call_sid,
            transcript_source="live",
            segment_count=6,
            live_coverage=1.0,
            gaps=(),
            filled_seconds=0.0,
            transcript_version="v1",
            alignment_offset=2.37,
            alignment_method="words",
            alignment_matches=9,
            transcript_status="completed",
        )
    )
    # the recording was transcribed meanwhile (alignment stored): the earlier read is stale
    assert not tables.costs.save_cost(call_sid, {"total_usd": 2}, CostBasis.of(before_reconciliation))
    current = tables.calls.get(call_sid)
    basis = CostBasis.of(current)
    assert basis == CostBasis(
        direction="inbound",
        status="completed",
        duration_seconds=125,
        recording_status="completed",
        recording_duration_seconds=118,
        recording_channels=2,
        recording_transcribed=True,
        live_audio_seconds=31.4125,
        tts_characters=77,
        summary_cost_usd=0.00012345,
    )
    assert tables.costs.save_cost(call_sid, {"total_usd": 3}, basis)
    assert tables.costs.save_cost(
        call_sid, {"total_usd": 3}, basis
    )  # nothing changed: a repeat is stored alike

    # a usage write keeps what it does not name, and makes every earlier read stale
    tables.stream.record_stream_usage(StreamUsage(call_sid=call_sid, live_audio_seconds=40.0), OWNER)
    assert stored(tables, call_sid)["tts_characters"] == 77
    assert not tables.costs.save_cost(call_sid, {"total_usd": 4}, basis)
    # so does a rewritten summary with another estimate
    assert tables.summaries.replace_summary(
        call_sid, {"model": "m", "estimated_cost_usd": 0.5, "transcript_version": "v2"}, T2, "v2"
    )
    assert not tables.costs.save_cost(call_sid, {"total_usd": 4}, CostBasis.of(current))
    assert tables.costs.save_cost(
        call_sid, {"total_usd": 5, "claude_usd": 0.5}, CostBasis.of(tables.calls.get(call_sid))
    )
    assert stored(tables, call_sid)["cost"] == {"total_usd": 5, "claude_usd": 0.5}


def test_twilios_bill_is_part_of_the_cost_basis(tables: Tables, call_sid: str) -> None:
    """The sweeper stores `cost.billed` through the cost's own write; an estimate computed from a
    read before it never lands over it, and one computed after it carries it."""
    done = StatusAdvance(
        call_sid=call_sid, status="completed", rank=TERMINAL_RANK, at=T2, ended_at=T2, duration_seconds=61
    )
    assert tables.webhooks.advance_status(done)
    estimate = {"total_usd": 0.017, "twilio_voice_usd": 0.017, "voice_minutes": 2}
    before_bill = tables.calls.get(call_sid)
    assert tables.costs.save_cost(call_sid, estimate, CostBasis.of(before_bill))
    with_estimate = tables.calls.get(call_sid)
    billed = {"twilio_voice": 0.0085, "total": 0.0085, "price_unit": "USD", "read_at": NOW}
    assert tables.sweep.save_cost(call_sid, {**estimate, "billed": billed}, CostBasis.of(with_estimate))
    assert stored(tables, call_sid)["cost"]["billed"] == billed
    basis = CostBasis.of(tables.calls.get(call_sid))
    assert (basis.billed_twilio_voice, basis.billed_total, basis.billed_price_unit, basis.billed_read_at) == (
        0.0085,
        0.0085,
        "USD",
        NOW,
    )
    assert basis.billed() == billed

    # a writer that read before the bill: refused (it would drop the bill)
    assert not tables.costs.save_cost(call_sid, {"total_usd": 1}, CostBasis.of(with_estimate))
    # one that read after it, and carries it: stored
    assert tables.costs.save_cost(call_sid, {"total_usd": 2, "billed": billed}, basis)
    # a bill read again later (another read time) makes the earlier read stale as well
    again = {**billed, "read_at": T2}
    assert tables.sweep.save_cost(call_sid, {"total_usd": 2, "billed": again}, basis)
    assert not tables.costs.save_cost(call_sid, {"total_usd": 3, "billed": billed}, basis)


def test_evaluations_ride_in_the_summary_write_and_the_backfill_writes_once_per_set(
    tables: Tables, call_sid: str
) -> None:
    answers = (
        {"id": "greeted", "question": "Greeted?", "type": "yes_no", "answer": "yes", "answer_bool": True,
         "evidence": ["0000001000#inbound"], "answered_by": "claude-haiku-5-5"},
        {"id": "score", "question": "Score?", "type": "number", "answer": "4.5", "answer_number": 4.5,
         "evidence": [], "answered_by": "claude-haiku-5-5"},
        {"id": "reason", "question": "Why?", "type": "choice", "evidence": [], "answered_by": "offline"},
    )  # fmt: skip
    first = EvaluationSet(version="q-1", answers=answers)
    assert not tables.backfill.save_evaluations(call_sid, first)  # no call: the backfill creates nothing
    assert tables.summaries.save_summary(call_sid, {"summary": "s"}, NOW, first)
    call = stored(tables, call_sid)
    assert call["evaluations"] == answers
    assert call["evaluations_version"] == "q-1"
    assert isinstance(call["evaluations"][1]["answer_number"], float)
    assert not tables.backfill.save_evaluations(call_sid, first)  # same set: a re-run writes nothing
    second = EvaluationSet(version="q-2", answers=answers[:1])
    assert tables.backfill.save_evaluations(call_sid, second)
    assert stored(tables, call_sid)["evaluations"] == answers[:1]
    assert tables.summaries.replace_summary(
        call_sid, {"summary": "r", "transcript_version": "v1"}, NOW, "v1", first
    )
    assert stored(tables, call_sid)["evaluations_version"] == "q-1"


def test_the_calls_of_a_day_come_from_the_day_index(tables: Tables, call_sid: str) -> None:
    other = call_sid[:-1] + ("0" if call_sid[-1] != "0" else "1")
    tables.webhooks.advance_status(ringing(call_sid))
    tables.webhooks.advance_status(
        StatusAdvance(
            call_sid=other, status="ringing", rank=2, at="2026-11-21T23:59:00.000Z", parties=PARTIES
        )
    )
    mine = {call_sid, other}  # the session's moto table holds other tests' calls of those days too
    assert [c.call_sid for c in tables.backfill.calls_started_on(T0[:10]) if c.call_sid in mine] == [call_sid]
    assert [c.call_sid for c in tables.backfill.calls_started_on("2026-11-21") if c.call_sid in mine] == [
        other
    ]


# ---- the people's call list (calls_by_day, newest first, a page at a time) ----------------------


def _far_days(count: int) -> list[str]:
    """`count` consecutive days no other test writes calls on (this session's table is shared)."""
    first = date(2100, 1, 1) + timedelta(days=random.randrange(300_000))
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


def _placed(tables: Tables, started_at: str, *, status: str, rank: int, route: str, to: str) -> str:
    call_sid = "CA" + uuid.uuid4().hex
    parties = CallParties(direction="inbound", from_number="+14155550100", to_number=to)
    tables.webhooks.upsert_call(CallUpsert(call_sid, parties, started_at, route=route))
    assert tables.webhooks.advance_status(
        StatusAdvance(call_sid=call_sid, status=status, rank=rank, at=started_at)
    )
    return call_sid


def _follow(tables: Tables, query: CallListQuery) -> list[str]:
    """Every call of the list, page after page, each page within the limit."""
    sids: list[str] = []
    for _ in range(100):
        page = tables.listing.list_calls(query)
        assert len(page.calls) <= query.limit
        sids.extend(call.call_sid for call in page.calls)
        if page.next is None:
            return sids
        query = replace(query, after=page.next)
    raise AssertionError("the list never ended")


def test_the_call_list_pages_newest_first_through_the_day_index(tables: Tables) -> None:
    days = _far_days(3)
    ours, other = "+14155550199", "+14155550177"
    placed = {
        "a": _placed(
            tables, f"{days[0]}T08:00:00.000Z", status="completed", rank=4, route="forward", to=ours
        ),
        "b": _placed(
            tables, f"{days[0]}T09:00:00.000Z", status="in-progress", rank=3, route="agent", to=ours
        ),
        "c": _placed(tables, f"{days[0]}T23:59:59.999Z", status="busy", rank=4, route="forward", to=other),
        "d": _placed(
            tables, f"{days[2]}T00:00:00.000Z", status="ringing", rank=2, route="voicemail", to=ours
        ),
        "e": _placed(
            tables, f"{days[2]}T10:00:00.000Z", status="completed", rank=4, route="forward", to=ours
        ),
        "f": _placed(tables, f"{days[2]}T10:00:01.000Z", status="completed", rank=4, route="agent", to=other),
    }
    leg = "CA" + uuid.uuid4().hex  # a <Dial>ed leg of "e": listed on its call's page, not here
    leg_parties = CallParties(direction="outbound-dial", parent_call_sid=placed["e"], to_number=ours)
    tables.webhooks.upsert_call(CallUpsert(leg, leg_parties, f"{days[2]}T10:00:00.500Z", route="forward"))
    newest_first = [placed[name] for name in "fedcba"]
    whole = CallListQuery(first_day=days[0], last_day=days[2], limit=2)
    assert _follow(tables, whole) == newest_first
    assert _follow(tables, replace(whole, limit=50)) == newest_first

    def names(**filters: Any) -> str:
        found = _follow(tables, replace(whole, **filters))
        return "".join(name for sid in found for name, placed_sid in placed.items() if placed_sid == sid)

    assert names(statuses=frozenset({"completed"})) == "fea"
    assert names(statuses=frozenset({"busy", "ringing"})) == "dc"
    assert names(route="forward") == "eca"
    assert names(number=ours) == "edba"
    assert names(number="+14155550100") == "fedcba"  # the caller's side counts too: a `from` match
    assert names(live_only=True) == "db"
    assert names(started_from=f"{days[0]}T09:00:00.000Z", started_to=f"{days[2]}T00:00:00.000Z") == "dcb"
    assert names(first_day=days[1], last_day=days[1]) == ""


def test_the_call_list_goes_on_past_a_long_quiet_spell(tables: Tables) -> None:
    days = _far_days(MAX_DAYS_PER_PAGE * 2 + 3)
    old = _placed(tables, f"{days[0]}T12:00:00.000Z", status="completed", rank=4, route="forward", to="+1")
    new = _placed(tables, f"{days[-1]}T12:00:00.000Z", status="completed", rank=4, route="forward", to="+1")
    query = CallListQuery(first_day=days[0], last_day=days[-1], limit=10)
    assert _follow(tables, query) == [new, old]
