"""The EventBridge sink: each change's contract event, built from the record alone, in one request."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from functions.outbox.bus import EventBridgeSink, contract_event
from functions.outbox.changes import (
    CallStatusChanged,
    ReconciliationStored,
    RecordingReady,
    SummaryStored,
    TranscriptFinished,
)
from shared.dal.records import Call, Recording
from shared.events import (
    CallCompleted,
    EventBridgePublisher,
    PublishError,
    RecordingCompleted,
    SummaryCreated,
    TranscriptCompleted,
    TranscriptReconciled,
)
from tests.support.fake_publisher import FakePublisher

SID = "CA" + "9" * 32
RECORDING_SID = "RE" + "1" * 32


def call(**fields: Any) -> Call:
    return Call(call_sid=SID, **fields)


def test_only_a_terminal_status_is_call_completed() -> None:
    assert contract_event(CallStatusChanged(call(status="ringing", status_rank=2), None)) is None
    busy = CallStatusChanged(call(status="busy", status_rank=4), "ringing")
    assert contract_event(busy) == CallCompleted(callSid=SID, status="busy")  # no duration: not sent


def test_a_recording_without_start_time_or_channels_gets_the_webhooks_defaults() -> None:
    ready = RecordingReady(call(recording=Recording(sid=RECORDING_SID, status="completed")))
    assert contract_event(ready) == RecordingCompleted(
        callSid=SID, recordingSid=RECORDING_SID, channels=1, durationSeconds=0
    )


def test_the_transcript_event_carries_the_stored_status_and_count() -> None:
    ended = TranscriptFinished(call(transcript_status="incomplete", segment_count=0))
    assert contract_event(ended) == TranscriptCompleted(
        callSid=SID, segmentCount=0, transcriptStatus="incomplete"
    )


def test_a_reconciliation_without_its_own_count_falls_back_to_the_live_count() -> None:
    stored = ReconciliationStored(
        call(
            reconciled_at="t",
            transcript_version="v1",
            segment_count=4,
            filled_seconds=0,
            transcript_source="live",
        )
    )
    assert contract_event(stored) == TranscriptReconciled(
        callSid=SID, segmentCount=4, filledSeconds=0, transcriptVersion="v1", transcriptSource="live"
    )
    assert contract_event(ReconciliationStored(call(reconciled_at="t", transcript_source="live"))) is None


def test_a_summary_no_model_wrote_is_announced_as_model_none() -> None:
    stored = SummaryStored(call(summary={"summary": "No conversation"}), rewrite=False)
    assert contract_event(stored) == SummaryCreated(callSid=SID, model="none")


def test_one_write_is_one_request_and_a_change_it_cannot_describe_is_refused() -> None:
    publisher = FakePublisher()
    sink = EventBridgeSink(publisher)
    written = call(
        status="completed",
        status_rank=4,
        duration_seconds=3,
        recording=Recording(sid="not-a-recording-sid", status="completed"),
        transcript_status="completed",
        segment_count=2,
    )
    delivery = sink.deliver(
        [CallStatusChanged(written, "in-progress"), RecordingReady(written), TranscriptFinished(written)]
    )
    assert delivery.sent == ("Call Completed", "Transcript Completed")
    [refusal] = delivery.refused
    assert (refusal.sink, refusal.change) == ("eventbridge", "RecordingReady")
    assert [type(e) for e in publisher.events] == [CallCompleted, TranscriptCompleted]


def _stubbed() -> tuple[Any, Stubber]:
    client = botocore.session.get_session().create_client(
        "events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_entries_the_bus_refused_are_put_again_alone() -> None:
    client, stub = _stubbed()
    first = CallCompleted(callSid=SID, status="completed", durationSeconds=3)
    second = TranscriptCompleted(callSid=SID, segmentCount=2)
    stub.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [{"EventId": "1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "x"}],
        },
    )
    stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "2"}]})
    with stub:
        EventBridgePublisher(client, "bus", sleep=lambda _: None).publish_all([first, second])
        stub.assert_no_pending_responses()


def test_an_entry_still_refused_after_its_attempts_raises() -> None:
    client, stub = _stubbed()
    refused = {
        "FailedEntryCount": 1,
        "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}],
    }
    for _ in range(2):
        stub.add_response("put_events", refused)
    event = TranscriptCompleted(callSid=SID, segmentCount=2)
    with stub, pytest.raises(PublishError, match="ThrottlingException"):
        EventBridgePublisher(client, "bus", entry_attempts=2, sleep=lambda _: None).publish_all([event])
