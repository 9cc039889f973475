"""Blocking work stays off the event loop, which serves every call on the task: the call record's
final status write (a botocore client, and its first creation takes ~100 ms under a lock; the
outbox announces it as `Transcript Completed`) and the DTMF tone synthesis for `send_dtmf` (~50 ms
for 32 digits). Each is observed by the thread it ran on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from callscribe_local.anthropic_replies import Reply
from callscribe_local.aws_local import BusTap, LocalAws
from shared import clock
from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.records import StreamClaim
from shared.status import TranscriptStatus
from streamer.agent import dtmf, tools
from streamer.calls import CallRecords
from tests.support.agent_harness import agent_rig, call_parameters
from tests.support.streamer_harness import events, wait_for_call_end

pytestmark = pytest.mark.integration


def _recording(fn: Callable[..., Any], threads: list[threading.Thread]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return fn(*args, **kwargs)

    return wrapper


async def test_the_transcripts_end_is_written_off_the_loop_and_announced(
    local_stack: LocalAws, bus_tap: BusTap, call_sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    finished = DynamoStreamCalls.transcript_finished
    monkeypatch.setattr(DynamoStreamCalls, "transcript_finished", _recording(finished, threads))
    records = CallRecords(local_stack.names.calls_table)
    owner = "0f" * 16
    try:
        claim = StreamClaim(call_sid=call_sid, owner=owner, stream_sid="MZ1", started_at=clock.now_iso())
        assert await records.claim_stream(claim)
        await records.transcript_finished(call_sid, owner, TranscriptStatus.COMPLETED, 3)
    finally:
        await records.close()

    (published,) = await events(bus_tap, call_sid)
    assert published["detail"] == {"callSid": call_sid, "segmentCount": 3, "transcriptStatus": "completed"}
    assert threads
    assert all(t is not threading.main_thread() for t in threads)


async def test_send_dtmf_synthesises_the_tones_off_the_loop(
    local_stack: LocalAws, call_sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    monkeypatch.setattr(tools, "dtmf_audio", _recording(dtmf.dtmf_audio, threads))
    replies = (Reply.tools("One moment.", ("send_dtmf", {"digits": "12"})), Reply.message("Done."))
    async with agent_rig(local_stack, *replies) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: len(rig.model_requests()) == 2)
        await phone.wait_quiet()
        await phone.hang_up()
        await wait_for_call_end(rig.server)

    assert len(threads) == 1
    assert threads[0] is not threading.main_thread()
