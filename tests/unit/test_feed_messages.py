"""The live feed's channels and message shapes (the contract's keys; unknown fields left out)."""

from __future__ import annotations

import json

from shared.dal.records import Segment
from shared.feed import LIVE_CHANNEL, CallUpdate, call_channel, segment_event

CALL = "CA" + "a" * 32


def test_channels() -> None:
    assert LIVE_CHANNEL == "/calls/live"
    assert call_channel(CALL) == f"/calls/{CALL}"
    assert CallUpdate(call_sid=CALL).channels() == ("/calls/live", f"/calls/{CALL}")


def test_a_segment_message_carries_the_stored_segment_and_its_id() -> None:
    segment = Segment(
        call_sid=CALL,
        segment_key="0000001230#inbound",
        track="inbound",
        speaker="caller",
        text="my card is [REDACTED CARD] é",
        start=1.23,
        end=2.5,
        source="deepgram:nova-3",
    )
    message = json.loads(segment_event(segment))
    assert message == {
        "type": "segment",
        "callSid": CALL,
        "segmentId": "0000001230#inbound",
        "track": "inbound",
        "speaker": "caller",
        "start": 1.23,
        "end": 2.5,
        "text": "my card is [REDACTED CARD] é",
        "source": "live",  # as GET /calls/{callSid} names it, not the engine
    }
    filled = Segment(**{**vars_of(segment), "segment_key": "0000001230#inbound#r", "origin": "recording"})
    assert json.loads(segment_event(filled))["source"] == "recording"


def vars_of(segment: Segment) -> dict[str, object]:
    return {name: getattr(segment, name) for name in segment.__dataclass_fields__}


def test_a_call_message_names_only_what_is_known() -> None:
    assert json.loads(CallUpdate(call_sid=CALL, transcript_status="completed").event(at="T")) == {
        "type": "call",
        "callSid": CALL,
        "transcriptStatus": "completed",
        "at": "T",
    }
    full = CallUpdate(
        call_sid=CALL,
        status="completed",
        transcript_status="completed",
        started_at="S",
        ended_at="E",
        direction="inbound",
        route="forward",
        from_number="+14155550100",
        to_number="+14155550199",
        duration_seconds=42,
        summary_ready=True,
        reconciled=False,
    )
    assert set(json.loads(full.event())) == {
        "type", "callSid", "status", "transcriptStatus", "startedAt", "endedAt", "direction", "route",
        "from", "to", "durationSeconds", "summaryReady", "reconciled", "at",
    }  # fmt: skip
    assert json.loads(full.event())["reconciled"] is False  # a known False is sent
