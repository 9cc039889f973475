"""The outbox's transitions: which writes of a call record announce what, once per change.

The record pairs come from the tiers' own writes on the fake calls table (its `stream` of old and new
items), so each case is a write a tier really makes, not a hand-built image.
"""

from __future__ import annotations

import random

import pytest

from functions.outbox.changes import (
    CallStatusChanged,
    ReconciliationOutdated,
    ReconciliationStored,
    RecordingReady,
    SummaryStored,
    TranscriptFinished,
    changes,
)
from functions.webhooks.cdr import StatusChange, advance
from shared.dal.records import (
    Call,
    CallParties,
    CallUpsert,
    Gap,
    ReconciliationUpdate,
    RecordingUpdate,
    StreamClaim,
    StreamUsage,
)
from shared.events import CallCompleted, RecordingCompleted, SummaryCreated, TranscriptCompleted
from shared.status import CallStatus, TranscriptStatus
from tests.support.fake_calls.core import FakeCallTable
from tests.support.fake_calls.recordings import FakeRecordingCalls
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.summaries import FakeSummaryCalls
from tests.support.fake_calls.sweep import FakeSweeperCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_outbox import announced, table_changes

SID = "CA" + "5" * 32
RECORDING_SID = "RE" + "6" * 32
T0 = "2026-11-22T09:30:00.000Z"
OWNER = "0f" * 16  # the stream's per-connection id


def claimed(table: FakeCallTable) -> FakeStreamCalls:
    """The streamer's writes to the call, its stream having claimed it."""
    stream = FakeStreamCalls(table)
    assert stream.claim_stream(StreamClaim(call_sid=SID, owner=OWNER, stream_sid="MZ1", started_at=T0))
    return stream


def status(table: FakeCallTable, value: CallStatus, at: str = T0, duration: int | None = None) -> bool:
    return advance(
        FakeWebhookCalls(table),
        StatusChange(
            call_sid=SID, status=value, at=at, duration_seconds=duration if value.is_terminal else None
        ),
    )


def recording(table: FakeCallTable, state: str, sid: str = RECORDING_SID) -> bool:
    return FakeWebhookCalls(table).update_recording(
        RecordingUpdate(
            call_sid=SID,
            sid=sid,
            status=state,
            duration_seconds=37 if state == "completed" else None,
            channels=2,
            started_at="Sun, 22 Nov 2026 09:30:06 +0000",
        )
    )


def reconciliation(version: str = "v1", live: str = "completed") -> ReconciliationUpdate:
    return ReconciliationUpdate(
        call_sid=SID,
        transcript_source="live+recording",
        segment_count=9,
        live_coverage=0.8,
        gaps=(Gap("inbound", 1.0, 2.0),),
        filled_seconds=1.5,
        transcript_version=version,
        alignment_offset=0.0,
        alignment_method="words",
        alignment_matches=4,
        transcript_status=live,
    )


def test_each_status_is_a_change_and_only_the_terminal_one_is_call_completed() -> None:
    table = FakeCallTable()
    for value in (CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.COMPLETED):
        status(table, value, duration=42)
    found = table_changes(table)
    assert [(type(c), c.previous, c.status) for c in found if isinstance(c, CallStatusChanged)] == [
        (CallStatusChanged, None, "ringing"),
        (CallStatusChanged, "ringing", "in-progress"),
        (CallStatusChanged, "in-progress", "completed"),
    ]
    assert announced(table) == [CallCompleted(callSid=SID, status="completed", durationSeconds=42)]


def test_a_write_that_changes_nothing_announces_nothing() -> None:
    table = FakeCallTable()
    status(table, CallStatus.COMPLETED, duration=42)
    recording(table, "completed")
    before = len(announced(table))
    calls = FakeWebhookCalls(table)
    calls.upsert_call(CallUpsert(call_sid=SID, parties=CallParties(direction="inbound"), started_at=T0))
    recording(table, "completed")  # the same completed report again: the map is rewritten as it was
    claimed(table).record_stream_usage(StreamUsage(call_sid=SID, live_audio_seconds=12.0), OWNER)
    call = table.get(SID)
    assert call is not None
    assert changes(call, call) == ()
    assert len(announced(table)) == before == 2  # the claim's write is a change of no event either


@pytest.mark.parametrize("seed", range(8))
def test_a_repeated_and_reordered_callback_sequence_announces_each_transition_once(seed: int) -> None:
    sequence = [
        CallStatus.INITIATED,
        CallStatus.RINGING,
        CallStatus.IN_PROGRESS,
        CallStatus.COMPLETED,
        CallStatus.COMPLETED,
        CallStatus.NO_ANSWER,  # a late, conflicting terminal callback: the first terminal one won
        CallStatus.RINGING,
    ]
    random.Random(seed).shuffle(sequence)
    table = FakeCallTable()
    for value in sequence:
        status(table, value, duration=7)
    recording(table, "completed")
    recording(table, "in-progress")  # late and stale: refused, a completed recording stays
    recording(table, "completed")
    completed = [e for e in announced(table) if isinstance(e, CallCompleted)]
    assert len(completed) == 1
    assert completed[0].status in {"completed", "no-answer"}
    assert [e.recording_sid for e in announced(table) if isinstance(e, RecordingCompleted)] == [RECORDING_SID]


def test_a_recording_is_ready_once_per_sid_and_carries_the_callback_fields() -> None:
    table = FakeCallTable()
    recording(table, "in-progress")
    assert not [c for c in table_changes(table) if isinstance(c, RecordingReady)]
    recording(table, "completed")
    other = "RE" + "7" * 32
    recording(table, "completed", sid=other)  # a second recording (voicemail after a dial) replaces it
    assert announced(table) == [
        RecordingCompleted(
            callSid=SID,
            recordingSid=RECORDING_SID,
            channels=2,
            durationSeconds=37,
            startTime="2026-11-22T09:30:06.000Z",
        ),
        RecordingCompleted(
            callSid=SID,
            recordingSid=other,
            channels=2,
            durationSeconds=37,
            startTime="2026-11-22T09:30:06.000Z",
        ),
    ]


def test_the_transcript_ends_once_with_its_count_and_not_at_the_early_failed_mark() -> None:
    table = FakeCallTable()
    stream = claimed(table)
    stream.transcript_failed(SID, OWNER, "inbound: Deepgram refused the key")  # early: it still drains
    assert not [c for c in table_changes(table) if isinstance(c, TranscriptFinished)]
    stream.transcript_finished(SID, OWNER, TranscriptStatus.FAILED, 3, None)
    stream.transcript_finished(SID, OWNER, TranscriptStatus.FAILED, 3, None)  # a retried write
    assert announced(table) == [TranscriptCompleted(callSid=SID, segmentCount=3, transcriptStatus="failed")]


def test_the_sweeper_finishing_a_stalled_transcript_is_its_end_and_the_streams_late_end_is_not() -> None:
    """The summaries summarise once per transcript: the first end announced is the one that counts."""
    table = FakeCallTable()
    stream = claimed(table)
    stale = "2026-11-22T09:40:00.000Z"  # the heartbeat (the claim's) is older than the bound: dead
    assert FakeSweeperCalls(table).finish_stalled_transcript(SID, 4, "the stream never finished", stale)
    stream.transcript_finished(SID, OWNER, TranscriptStatus.COMPLETED, 6, None)  # it was only slow
    assert table.items[SID]["transcript_status"] == "completed"
    assert announced(table) == [
        TranscriptCompleted(callSid=SID, segmentCount=4, transcriptStatus="incomplete")
    ]


def test_a_stored_reconciliation_is_announced_once_per_write_that_lands() -> None:
    table = FakeCallTable()
    calls = FakeRecordingCalls(table)
    calls.save_reconciliation(reconciliation(live="in-progress"))  # early: live still streaming
    calls.save_reconciliation(reconciliation(live="in-progress"))  # a re-run: refused, nothing new
    calls.save_reconciliation(reconciliation(live="completed"))  # redone against the final transcript
    reconciled = [c for c in table_changes(table) if isinstance(c, ReconciliationStored)]
    assert len(reconciled) == 2
    [event, _] = [e for e in announced(table)]
    assert event.model_dump(by_alias=True, exclude_none=True) == {
        "callSid": SID,
        "segmentCount": 9,
        "filledSeconds": 1.5,
        "transcriptVersion": "v1",
        "transcriptSource": "live+recording",
    }


@pytest.mark.parametrize("live_ends_first", [False, True], ids=["reconciled-then-live-ends", "race"])
def test_a_reconciliation_made_before_live_ended_announces_the_recording_again_once(
    live_ends_first: bool,
) -> None:
    """Whichever of the two writes lands last (the stream's end, or a reconciliation that read live
    while it was still in progress), the recording is announced again, once, for a redo against the
    final live transcript; the redo, which stores a final live status, announces nothing more."""
    table = FakeCallTable()
    stream = claimed(table)
    recording(table, "completed")
    calls = FakeRecordingCalls(table)
    if live_ends_first:
        stream.transcript_finished(SID, OWNER, TranscriptStatus.COMPLETED, 5, None)
        calls.save_reconciliation(reconciliation(live="in-progress"))  # read live before it ended
    else:
        calls.save_reconciliation(reconciliation(live="in-progress"))
        stream.transcript_finished(SID, OWNER, TranscriptStatus.COMPLETED, 5, None)
    calls.save_reconciliation(reconciliation(version="v2", live="completed"))  # the redo
    assert len([c for c in table_changes(table) if isinstance(c, ReconciliationOutdated)]) == 1
    completed = [e for e in announced(table) if isinstance(e, RecordingCompleted)]
    assert len(completed) == 2  # the recording's own announcement, and its redo's
    assert completed[0] == completed[1]


def test_a_reconciliation_made_after_live_ended_is_not_redone() -> None:
    table = FakeCallTable()
    claimed(table).transcript_finished(SID, OWNER, TranscriptStatus.COMPLETED, 5, None)
    recording(table, "completed")
    FakeRecordingCalls(table).save_reconciliation(reconciliation(live="completed"))
    assert not [c for c in table_changes(table) if isinstance(c, ReconciliationOutdated)]


def test_a_call_settled_as_live_only_is_a_change_but_no_bus_event() -> None:
    table = FakeCallTable()
    status(table, CallStatus.COMPLETED, duration=5)
    claimed(table).transcript_finished(SID, OWNER, TranscriptStatus.COMPLETED, 2, None)
    table.items[SID].update(recording_expected=False)
    marker = table.items[SID]["sweep_after"]
    assert FakeSweeperCalls(table).settle_live_only(SID, marker, "completed")
    assert isinstance(table_changes(table)[-1], ReconciliationStored)
    assert [type(e) for e in announced(table)] == [CallCompleted, TranscriptCompleted]


def test_a_summary_and_its_rewrite_are_each_announced_once() -> None:
    table = FakeCallTable()
    summaries = FakeSummaryCalls(table)
    summary = {"summary": "s", "model": "claude-x", "transcript_version": None}
    assert summaries.save_summary(SID, summary, T0)
    assert not summaries.save_summary(SID, summary, T0)  # a duplicate: refused
    rewritten = {**summary, "transcript_version": "v2", "created_at": "later"}
    assert summaries.replace_summary(SID, rewritten, "later", "v2")
    stored = [c for c in table_changes(table) if isinstance(c, SummaryStored)]
    assert [c.rewrite for c in stored] == [False, True]
    assert announced(table) == [
        SummaryCreated(callSid=SID, model="claude-x"),
        SummaryCreated(callSid=SID, model="claude-x", transcriptVersion="v2"),
    ]


def test_a_deleted_item_and_an_item_without_status_report_nothing_of_the_call() -> None:
    call = Call(call_sid=SID, status="completed", status_rank=4)
    assert changes(call, None) == ()
    assert changes(None, Call(call_sid=SID)) == ()
