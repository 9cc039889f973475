"""A listen-in call end to end on the local stack: callscribe streams and records the call, then
hands it to a team's own TwiML app, whose flow (its own greeting, a `<Dial>` to its desk) runs it.

The simulated phone calls `LISTEN_NUMBER`, which the local stack routes to its team app (a listen
route whose URL LISTEN_ALLOWED_URLS allows). It follows the `<Redirect>` with a request signed as
Twilio signs it (the team app refuses anything else), streams both tracks to the real streamer and
makes the `<Start><Recording>` recording, which the recordings Lambda reconciles. Two turns (~12 s)
at 4x real time keep it short.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from callscribe_local.aws_local import BusTap, LocalNames
from callscribe_local.phone import START_RECORDING, CallerId, SimulatedPhone, bundled_conversation
from callscribe_local.stack import LISTEN_NUMBER, LocalStack, StackOptions
from callscribe_local.team_app import TEAM_DESK

pytestmark = pytest.mark.e2e

CLIP_SECONDS = 12.0  # the caller, then the team's desk
SPEED = 4.0
EXPECTED = {"Transcript Completed", "Recording Completed", "Transcript Reconciled"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"listen-calls-{suffix}",
        transcripts_table=f"listen-transcripts-{suffix}",
        idempotency_table=f"listen-idempotency-{suffix}",
        event_bus_name=f"listen-bus-{suffix}",
    )
    options = StackOptions(names=names, deepgram_api_key=None, anthropic_api_key=None)
    with LocalStack(options) as running:
        yield running


def _events(tap: BusTap, call_sid: str, timeout: float = 120.0) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    events: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and not set(events) >= EXPECTED:
        for event in tap.events_for(call_sid, wait_seconds=0.5):
            events.setdefault(event["detail-type"], event)
    return events


def test_a_listen_in_call_is_transcribed_recorded_and_run_by_the_teams_flow(stack: LocalStack) -> None:
    assert stack.urls is not None
    assert stack.team_app is not None
    tap = BusTap(stack.options.names.event_bus_name)
    phone = SimulatedPhone(
        stack.urls.api,
        stack.auth_token,
        stack.account_sid,
        caller=CallerId(to_number=LISTEN_NUMBER),
        speed=SPEED,
        twilio_api_url=stack.urls.twilio,
    )
    conversation = bundled_conversation().clip(CLIP_SECONDS)

    result = asyncio.run(phone.call(conversation))
    events = _events(tap, result.call_sid)
    assert set(events) >= EXPECTED, events

    # Twilio's side: every webhook accepted; the team's app got Twilio's signed request and ran the
    # call from there (its <Dial> rang its desk); our stream and recording ran the whole call
    assert all(status < 300 for _, status in result.callbacks), result.callbacks
    (handed,) = stack.team_app.received(result.call_sid)
    assert handed.signature_valid
    assert result.plan.dial_to == TEAM_DESK
    assert result.recording is not None
    assert (result.recording.source, result.recording.channels) == (START_RECORDING, 2)

    record = stack.get_call_json(result.call_sid)
    assert record is not None
    assert (record["route"], record["to"], record["status"]) == ("listen", LISTEN_NUMBER, "completed")
    assert (record["recording"]["status"], record["recording"]["channels"]) == ("completed", 2)
    assert record["transcriptStatus"] == "completed"
    # both sides heard: the caller on the inbound track, the team's desk on the outbound one
    transcript = record["transcript"]
    assert {s["track"] for s in transcript} == {"inbound", "outbound"}, transcript
    assert {s["speaker"] for s in transcript} == {"caller", "callee"}
    reconciled = events["Transcript Reconciled"]["detail"]
    assert reconciled["callSid"] == result.call_sid
    assert record["transcriptSource"] == reconciled["transcriptSource"]
