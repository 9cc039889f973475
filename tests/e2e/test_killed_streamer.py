"""A call whose streamer is killed mid-way ends finished and summarised after the sweeper; sweeping
again changes nothing.

Its own stack, because it SIGKILLs the stack's streamer (no drain, no `Transcript Completed`). The
simulated phone places the bundled call's first four turns at 2x; once the first live segments are
stored (and the stream is past its first turn) a stream hook kills the streamer. Twilio's side goes
on: the stream's WebSocket drops, but the call runs to its end, sends `completed` and the recording
callback, and the recording is served by the Twilio stand-in. The transcript is then stuck
`in-progress` with no summary until the sweeper finishes it `incomplete` (a write the outbox
announces as `Transcript Completed`) and the recording is announced once more (by the outbox when it
was reconciled before, else by the sweeper); the summaries and the
recordings Lambda (through the local dispatchers) do the rest. A second sweep finds nothing due and
changes nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from callscribe_local.aws_local import BusTap, LocalNames
from callscribe_local.phone import CallResult, SimulatedPhone, bundled_conversation
from callscribe_local.stack import LocalStack, StackOptions
from shared import clock

pytestmark = pytest.mark.e2e

SPEED = 2.0
# Four turns (caller, callee, caller, callee: 24.6 s on the stream clock with the ring). The kill comes
# after the first (in practice during the second), so the recording has words after it to fill. The
# whole 32 s call only added paced silence after the kill and audio to transcribe twice (~15 s).
CLIP_SECONDS = 22.2
KILL_NOT_BEFORE = 9.5  # stream seconds: the first turn (2.97-9.04 s after the ring) has been spoken
# The sweeper ends only the transcript of a dead stream: one whose heartbeat (every second here) is
# older than the staleness bound. Short, so the test need not wait the default 300 s after the kill.
HEARTBEAT = {"STREAM_HEARTBEAT_SECONDS": "1", "STREAM_HEARTBEAT_STALE_SECONDS": "4"}
SEGMENT_WAIT = 20.0  # seconds: bounded wait for the first stored live segment before the kill
FINAL_STATUSES = {"completed", "incomplete", "failed"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """A dedicated stack: its streamer is killed and not restarted."""
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"e2e-killed-calls-{suffix}",
        transcripts_table=f"e2e-killed-transcripts-{suffix}",
        idempotency_table=f"e2e-killed-idempotency-{suffix}",
        event_bus_name=f"e2e-killed-bus-{suffix}",
    )
    options = StackOptions(names=names, deepgram_api_key=None, anthropic_api_key=None, extra_env=HEARTBEAT)
    with LocalStack(options) as running:
        yield running


def _item(stack: LocalStack, call_sid: str) -> dict[str, Any]:
    """The call as stored (every attribute, consistent read): what the sweeper itself reads."""
    table = boto3.resource("dynamodb").Table(stack.options.names.calls_table)
    item: dict[str, Any] = table.get_item(Key={"call_sid": call_sid}, ConsistentRead=True)["Item"]
    return item


def _record(stack: LocalStack, call_sid: str) -> dict[str, Any]:
    record = stack.get_call_json(call_sid)
    assert record is not None
    return record


def _wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.25)


def _quiet_events(
    tap: BusTap, call_sid: str, quiet: float = 3.0, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """The call's events once no new one has come for `quiet` seconds (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    seen = len(tap.events_for(call_sid))
    calm_since = time.monotonic()
    while time.monotonic() < deadline:
        now_seen = len(tap.events_for(call_sid, wait_seconds=0.25))
        if now_seen != seen:
            seen, calm_since = now_seen, time.monotonic()
        elif time.monotonic() - calm_since >= quiet:
            break
    return tap.events_for(call_sid)


def _types(events: list[dict[str, Any]]) -> list[str]:
    return sorted(e["detail-type"] for e in events)


def test_a_call_whose_streamer_was_killed_is_finished_by_the_sweeper_once(stack: LocalStack) -> None:
    assert stack.urls is not None
    assert stack.streamer is not None
    streamer = stack.streamer
    tap = BusTap(stack.options.names.event_bus_name)
    call_sid = "CA" + uuid.uuid4().hex
    killed: dict[str, Any] = {}

    async def kill_the_streamer() -> None:
        """SIGKILL once a live segment is stored: no drain, no final writes, no event."""
        deadline = time.monotonic() + SEGMENT_WAIT
        while time.monotonic() < deadline:
            record = await asyncio.to_thread(stack.get_call_json, call_sid)
            if record is not None and record["transcript"]:
                break
            await asyncio.sleep(0.2)
        killed["at"] = time.monotonic()
        streamer.kill()
        killed["code"] = await asyncio.to_thread(streamer.wait, 10)

    conversation = bundled_conversation().clip(CLIP_SECONDS)
    phone = SimulatedPhone(
        stack.urls.api,
        stack.auth_token,
        stack.account_sid,
        speed=SPEED,
        twilio_api_url=stack.urls.twilio,
        stream_hooks=((KILL_NOT_BEFORE, kill_the_streamer),),
    )
    started = time.monotonic()
    result: CallResult = asyncio.run(phone.call(conversation, call_sid=call_sid))

    # 1. The streamer died mid-call (SIGKILL), Twilio's side of the call went on to its end.
    assert killed["code"] == -9
    assert result.stream_error is not None, "the stream outlived the kill"
    total_frames = 2 * len(conversation.delayed(result.lead_in_seconds).inbound) // 160
    assert 0 < result.frames_sent < total_frames
    killed_at = (killed["at"] - started) * SPEED  # about the stream second of the kill (upper bound)
    assert any(what == "status completed" and status < 300 for what, status in result.callbacks)
    assert any(what == "recording callback" and status < 300 for what, status in result.callbacks)
    assert result.recording is not None

    # 2. Stuck: the recording is announced (and may be reconciled early, against what was stored),
    # but nothing finishes the transcript and nothing summarises it.
    _wait_until(
        "the recording's own reconciliation attempt",
        lambda: any(d.call_sid == call_sid for d in stack.recording_deliveries),
        timeout=120,
    )
    stuck_events = _quiet_events(tap, call_sid)
    assert "Transcript Completed" not in _types(stuck_events), _types(stuck_events)
    assert "Summary Created" not in _types(stuck_events)
    stuck = _record(stack, call_sid)
    assert stuck["status"] == "completed"
    assert stuck["transcriptStatus"] == "in-progress"
    assert stuck["summary"] is None
    live_before = [s for s in stuck["transcript"] if s["source"] == "live"]
    assert live_before, "no live segment was stored before the kill"

    # 3. Once its stream is silent for the staleness bound, the sweeper finishes it (the outbox
    # announces that write). The recording is reconciled again with the finished transcript, once: the
    # outbox re-announces it when it had been reconciled early, else the sweeper re-drives it; the
    # summaries and the recordings Lambda do the rest.
    stale_after = float(HEARTBEAT["STREAM_HEARTBEAT_STALE_SECONDS"])
    _wait_until(
        "the killed stream's heartbeat is stale",
        lambda: (
            (clock.now() - clock.parse_iso(_item(stack, call_sid)["stream_heartbeat_at"])).total_seconds()
            > stale_after
        ),
        timeout=60,
    )
    reconciled_early = _item(stack, call_sid).get("reconciled_transcript_status") == "in-progress"
    first = stack.sweep()
    assert first["failed"] == []
    assert first["transcriptsFinished"] == 1
    assert first["transcriptCompletedRepublished"] == 0
    assert first["recordingCompletedRepublished"] == (0 if reconciled_early else 1)

    def settled() -> bool:
        item = _item(stack, call_sid)
        summary = item.get("summary")
        return (
            item.get("transcript_status") == "incomplete"
            and item.get("reconciled_transcript_status") in FINAL_STATUSES
            and summary is not None
            and summary.get("transcript_version") == item.get("transcript_version")
        )

    _wait_until("finished, reconciled against the final transcript and summarised", settled, timeout=180)
    assert stack.outbox is not None
    assert stack.outbox.wait_idle()  # every write so far announced
    events = _quiet_events(tap, call_sid)
    item = _item(stack, call_sid)
    record = _record(stack, call_sid)

    assert record["transcriptStatus"] == "incomplete"
    assert "never finished" in item["transcript_error"]
    transcript = record["transcript"]
    live = [s for s in transcript if s["source"] == "live"]
    # the live segments stored before the kill are kept (a filled recording segment never replaces one)
    assert {(s["track"], s["start"]) for s in live} == {(s["track"], s["start"]) for s in live_before}
    assert int(item["segment_count"]) == len(live_before)
    # the recording reconciled it: the words after the kill come from the recording
    assert record["transcriptSource"] is not None
    assert item["reconciled_transcript_status"] == "incomplete"
    filled = [s for s in transcript if s["source"] == "recording"]
    assert any(s["start"] >= killed_at for s in filled), (killed_at, filled)
    assert record["transcriptSource"] in {"live+recording", "recording"}
    assert float(item["filled_seconds"]) > 0
    # summarised: once from the finished transcript, rewritten at most once for the filled words,
    # and the summary stands for the stored transcript version
    summary = record["summary"]
    assert summary is not None
    assert summary["model"] == "offline-extractive"
    assert summary["transcript_version"] == item["transcript_version"]
    types = _types(events)
    assert types.count("Transcript Completed") == 1
    assert types.count("Call Completed") == 1
    assert types.count("Recording Completed") == 2  # its own, and once more for the finished transcript
    assert 1 <= types.count("Summary Created") <= 2, types
    assert types.count("Transcript Reconciled") >= 1
    mine = [d for d in [*stack.deliveries, *stack.recording_deliveries] if d.call_sid == call_sid]
    assert all(d.ok for d in mine), mine
    assert not any(d.dead_lettered for d in mine)

    # 4. Sweeping again changes nothing: nothing due, the call as it was, no event on the bus.
    before_item, before_record, before_events = item, record, len(events)
    second = stack.sweep()
    assert second["due"] == 0
    assert (second["redriven"], second["transcriptsFinished"], second["failed"]) == (0, 0, [])
    assert len(_quiet_events(tap, call_sid)) == before_events
    assert _item(stack, call_sid) == before_item
    assert _record(stack, call_sid) == before_record
