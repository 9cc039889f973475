"""On the local stack: a call whose live STT fails mid-way ends with
the missing words from the recording at the right stream times, once each, and a rewritten summary.

The bundled call is placed with the Deepgram stand-in's live API down for a window of stream time
(the phone's stream hooks, `LocalStack.deepgram_outage_hooks`: the same path as `callscribe call
--deepgram-outage`). The streamer replays only `REPLAY_BUFFER_SECONDS` (1 s here) after it
reconnects, so what was said in the outage is missing live; the recordings Lambda fills it from the
dual-channel recording and the summaries rewrite the summary once for the new transcript version.

The window takes the callee's first turn (turn 2: 9.74-14.32 s on the stream clock, after the 2.37 s
ring): live has finished the caller's first turn before the drop, and hears the caller's second turn
after the reconnect, so everything the recording adds belongs to the outage.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from callscribe_local.aws_local import BusTap, LocalNames
from callscribe_local.phone import (
    RING_SECONDS,
    CallResult,
    Conversation,
    SimulatedPhone,
    bundled_conversation,
)
from callscribe_local.stack import LocalStack, StackOptions
from tests.support.settled import wait_until_settled

pytestmark = pytest.mark.e2e

CLIP_SECONDS = 15.7  # caller, callee, caller (the outage takes the callee's turn)
REPLAY_BUFFER_SECONDS = 1.0
# Stream seconds: from inside turn 2 (1.5 s after turn 1 ended: live has finalised turn 1 by then)
# to the silence after turn 2. Turn 2's audio before the drop was never confirmed and is older than
# the replay buffer at the reconnect, so it is lost live as well: it starts within the window minus
# the replay buffer.
OUTAGE = (10.5, 14.7)
TOLERANCE = 0.5  # seconds: a recording word moved onto the stream clock (the contract's ±0.5 s)
WAIT_SECONDS = 180.0  # bounded: summary, then the recording transcribed whole and reconciled


@dataclass(frozen=True)
class OutageCall:
    stack: LocalStack
    conversation: Conversation  # on the stream clock (turns moved by the ring time)
    result: CallResult
    events: list[dict[str, Any]]  # every event of the call, in the order seen
    record: dict[str, Any]
    segment_keys: list[str]  # the transcripts table's sort keys of the call, as stored


@pytest.fixture(scope="module")
def outage_call() -> Iterator[OutageCall]:
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"e2e-outage-calls-{suffix}",
        transcripts_table=f"e2e-outage-transcripts-{suffix}",
        idempotency_table=f"e2e-outage-idempotency-{suffix}",
        event_bus_name=f"e2e-outage-bus-{suffix}",
    )
    options = StackOptions(
        names=names,
        deepgram_api_key=None,  # offline whatever the shell holds: only the stand-in has outages
        anthropic_api_key=None,
        replay_buffer_seconds=REPLAY_BUFFER_SECONDS,
    )
    with LocalStack(options) as stack:
        assert stack.urls is not None
        tap = BusTap(names.event_bus_name)
        phone = SimulatedPhone(
            stack.urls.api,
            stack.auth_token,
            stack.account_sid,
            speed=1.0,  # real time: the stand-in endpoints turn 1 before the drop, as Deepgram would
            twilio_api_url=stack.urls.twilio,
            stream_hooks=stack.deepgram_outage_hooks([OUTAGE]),
        )
        conversation = bundled_conversation().clip(CLIP_SECONDS)
        result = asyncio.run(phone.call(conversation))
        events = _wait_until_resummarised(stack, tap, result.call_sid)
        record = stack.get_call_json(result.call_sid)
        assert record is not None
        keys = _segment_keys(names.transcripts_table, result.call_sid)
        yield OutageCall(stack, conversation.delayed(result.lead_in_seconds), result, events, record, keys)


def _wait_until_resummarised(stack: LocalStack, tap: BusTap, call_sid: str) -> list[dict[str, Any]]:
    """Once the call has settled (tests/support/settled.py: reconciled, summary of the reconciled
    transcript, both summaries deliveries handled), every event it will get: until the tap has seen
    the reconciliation and the `Summary Created` of the final summary."""
    record = wait_until_settled(stack, call_sid, timeout=WAIT_SECONDS)
    version = record["transcriptVersion"]
    deadline = time.monotonic() + 30
    while True:
        events = tap.events_for(call_sid, wait_seconds=0.5)
        kinds = {e["detail-type"] for e in events}
        announced = [
            e["detail"].get("transcriptVersion") for e in events if e["detail-type"] == "Summary Created"
        ]
        if "Transcript Reconciled" in kinds and version in announced:
            return events
        if time.monotonic() >= deadline:
            raise AssertionError(f"{call_sid} settled but its events are not all on the bus: {events}")
        time.sleep(0.1)


def _segment_keys(table: str, call_sid: str) -> list[str]:
    client = boto3.client("dynamodb")
    keys: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "call_sid = :c",
        "ExpressionAttributeValues": {":c": {"S": call_sid}},
        "ProjectionExpression": "segment_key",
    }
    while True:
        page = client.query(**kwargs)
        keys.extend(item["segment_key"]["S"] for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return keys
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail-type"] == kind]


def test_the_outage_window_matches_the_call() -> None:
    """The window's premise: it starts well after turn 1 (live has finalised it), inside turn 2 no
    later than the replay buffer after turn 2 began, and ends before turn 3."""
    turns = bundled_conversation().clip(CLIP_SECONDS).delayed(RING_SECONDS).turns
    assert [t["track"] for t in turns] == ["inbound", "outbound", "inbound"]
    assert turns[0]["end"] + 1.0 < OUTAGE[0] < turns[1]["end"]
    assert OUTAGE[0] - REPLAY_BUFFER_SECONDS < turns[1]["start"]
    assert turns[1]["end"] < OUTAGE[1] < turns[2]["start"]


def _final_reconciliation(outage_call: OutageCall) -> dict[str, Any]:
    """The reconciliation the record holds: once against the final live transcript, or twice when
    the recording was reconciled while the stream was still replaying (the redo, announced once live
    ended, is the one that stands)."""
    record, events = outage_call.record, outage_call.events
    reconciled = _of(events, "Transcript Reconciled")
    assert 1 <= len(reconciled) <= 2, [e["detail-type"] for e in events]
    assert record["reconciledTranscriptStatus"] == "completed"
    final = [r for r in reconciled if r["transcriptVersion"] == record["transcriptVersion"]]
    assert final, (reconciled, record["transcriptVersion"])
    return final[-1]


def test_the_missing_words_come_from_the_recording_where_they_were_said(outage_call: OutageCall) -> None:
    record = outage_call.record
    final = _final_reconciliation(outage_call)
    assert record["transcriptSource"] == final["transcriptSource"] == "live+recording"
    assert record["liveCoverage"] is not None
    assert record["liveCoverage"] < 1
    assert final["filledSeconds"] > 0

    start, end = OUTAGE
    low, high = start - REPLAY_BUFFER_SECONDS - TOLERANCE, end + REPLAY_BUFFER_SECONDS + TOLERANCE
    gaps = record["gaps"]
    assert gaps, record
    for gap in gaps:
        # inside or overlapping the outage (widened by the replay buffer and the tolerance)
        assert gap["start"] < high, (gap, OUTAGE)
        assert gap["end"] > low, (gap, OUTAGE)

    transcript = record["transcript"]
    assert final["segmentCount"] == len(transcript)
    added = [s for s in transcript if s["source"] == "recording"]
    live = [s for s in transcript if s["source"] == "live"]
    assert added
    assert live
    turns = outage_call.conversation.turns
    for segment in added:
        assert low <= segment["start"] <= high, (segment, OUTAGE)
        # where the phone streamed those words: inside a turn of the same track
        spoken = [
            t
            for t in turns
            if t["track"] == segment["track"]
            and t["start"] - TOLERANCE <= segment["start"]
            and segment["end"] <= t["end"] + TOLERANCE
        ]
        assert spoken, (segment, turns)
        # and they are (roughly: pocketsphinx) that turn's words
        said = {w.strip(",.?!").lower() for w in spoken[0]["text"].split()}
        heard = {w.strip(",.?!").lower() for w in segment["text"].split()}
        assert said & heard, (segment, spoken[0]["text"])
        # never on top of what live heard on the same track
        assert not any(
            s["track"] == segment["track"] and s["start"] < segment["end"] and segment["start"] < s["end"]
            for s in live
        ), segment
    # the callee's turn, lost live, is what was filled
    assert any(s["track"] == "outbound" for s in added), added


def test_no_segment_is_stored_twice(outage_call: OutageCall) -> None:
    keys, transcript = outage_call.segment_keys, outage_call.record["transcript"]
    assert len(keys) == len(set(keys)) == len(transcript)
    assert sum(key.endswith("#r") for key in keys) == sum(s["source"] == "recording" for s in transcript)
    pairs = [(s["text"], s["start"]) for s in transcript]
    assert len(pairs) == len(set(pairs))
    assert len({(s["track"], s["start"]) for s in transcript}) == len(transcript)


def test_the_summary_is_rewritten_once_for_the_reconciled_transcript(outage_call: OutageCall) -> None:
    record, events = outage_call.record, outage_call.events
    version = _final_reconciliation(outage_call)["transcriptVersion"]
    reconciled = _of(events, "Transcript Reconciled")
    created = _of(events, "Summary Created")
    # one model call per transcript version: the live transcript's summary, then a rewrite per
    # reconciled version (an early reconciliation's, then its redo's when the words differ); or, when
    # the recording was reconciled before the first summary was written (a slow machine), that summary
    # was already of a reconciled transcript
    versions = [c.get("transcriptVersion") for c in created]
    assert 1 <= len(created) <= 1 + len(reconciled), created
    assert len(set(versions)) == len(versions), created
    assert versions[-1] == version
    summary = record["summary"]
    assert summary is not None
    assert summary["transcript_version"] == version
    mine = [d for d in outage_call.stack.deliveries if d.call_sid == outage_call.result.call_sid]
    # Transcript Completed, then each Transcript Reconciled
    assert [d.ok for d in mine] == [True] * (1 + len(reconciled))
