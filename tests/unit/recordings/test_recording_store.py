"""The recordings tier's writes on the in-memory fakes (same conditions as the DynamoDB adapters;
tests/integration/test_dal_agreement.py runs the same scenarios on both)."""

from __future__ import annotations

from decimal import Decimal

from shared.dal.records import Call, Gap, ReconciliationUpdate, RecordingUpdate, StreamClaim
from tests.support.fake_calls.recordings import FakeRecordingCalls
from tests.support.fake_calls.stream import FakeStreamCalls
from tests.support.fake_calls.webhooks import FakeWebhookCalls

SID = "CA" + "9" * 32
RE = "RE" + "1" * 32


def update(version: str, gaps: tuple[Gap, ...] = (Gap("inbound", 20.0, 40.5),)) -> ReconciliationUpdate:
    return ReconciliationUpdate(
        call_sid=SID,
        transcript_source="live+recording",
        segment_count=5,
        live_coverage=0.75,
        gaps=gaps,
        filled_seconds=12.5,
        transcript_version=version,
        alignment_offset=3.37,
        alignment_method="words",
        alignment_matches=120,
        transcript_status="completed",
    )


def test_the_stream_start_is_written_once() -> None:
    store = FakeStreamCalls()
    assert store.claim_stream(StreamClaim(SID, "stream-1", "MZ1", "2026-11-26T10:00:00.250Z"))
    assert store.claim_stream(StreamClaim(SID, "stream-1", "MZ1", "2026-11-26T10:00:09.000Z"))  # a retry
    assert not store.claim_stream(StreamClaim(SID, "stream-2", "MZ2", "2026-11-26T10:00:09.000Z"))
    call = store.table.get(SID)
    assert call is not None
    assert call.stream_started_at == "2026-11-26T10:00:00.250Z"


def test_the_s3_key_lands_only_on_the_recording_it_names() -> None:
    store = FakeRecordingCalls()
    webhooks = FakeWebhookCalls(store.table)
    assert not store.set_recording_s3_key(SID, RE, "recordings/x.wav")  # no recording yet
    webhooks.update_recording(RecordingUpdate(SID, RE, "completed", channels=2))
    assert not store.set_recording_s3_key(SID, "RE" + "2" * 32, "recordings/y.wav")
    assert store.set_recording_s3_key(SID, RE, "recordings/x.wav")
    webhooks.update_recording(RecordingUpdate(SID, RE, "completed", channels=2))  # a repeated callback
    call = store.get(SID)
    assert call is not None
    assert call.recording_s3_key == "recordings/x.wav"  # kept: it is not inside the `recording` map


def test_a_reconciliation_is_stored_once_per_transcript_version() -> None:
    store = FakeRecordingCalls()
    assert store.save_reconciliation(update("v1"))
    assert not store.save_reconciliation(update("v1", gaps=()))
    call = store.get(SID)
    assert call is not None
    assert (call.transcript_source, call.live_coverage, call.filled_seconds) == ("live+recording", 0.75, 12.5)
    assert call.gaps == (Gap("inbound", 20.0, 40.5),)
    assert call.alignment == {"offset_seconds": 3.37, "method": "words", "matches": 120}
    assert (call.transcript_version, call.reconciled_at) == ("v1", store.table.now)
    assert store.save_reconciliation(update("v2", gaps=()))
    assert store.get(SID) == Call.from_item({**store.items[SID]})


def test_stored_numbers_and_maps_read_back_as_plain_values() -> None:
    call = Call.from_item(
        {
            "call_sid": SID,
            "live_coverage": Decimal("1"),
            "filled_seconds": Decimal("0.5"),
            "gaps": [{"track": "outbound", "start": Decimal("1"), "end": Decimal("2.25")}],
            "alignment": {"offset_seconds": Decimal("0"), "method": "none", "matches": Decimal("0")},
        }
    )
    assert (call.live_coverage, call.filled_seconds) == (1, 0.5)
    assert isinstance(call.live_coverage, int)
    assert call.gaps == (Gap("outbound", 1.0, 2.25),)
    assert call.alignment == {"offset_seconds": 0, "method": "none", "matches": 0}
