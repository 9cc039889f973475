"""The per-call stream token, checked by the streamer on real sockets.

Twilio signs every upgrade over the same bare STREAM_URL, so a signature seen once can be replayed
for any call. What the streamer trusts is the `start`'s token (shared/stream_token.py): made by our
webhooks for exactly this call SID and these parameters. Every stream here is upgraded with a
correct signature (the replay); only its `start` differs. A refused `start` must leave nothing
behind: no Deepgram connection, no CDR row or segment, no event, no agent, no Twilio REST call.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator

import pytest
from websockets.exceptions import ConnectionClosed

from callscribe_local.anthropic_replies import Reply
from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
from tests.conftest import TEST_AUTH_TOKEN
from tests.support.agent_harness import agent_rig, call_parameters
from tests.support.log_capture import log_output_fixture  # noqa: F401 - provides `log_output`
from tests.support.scripted_recognizer import ScriptedRecognizer, audio_for
from tests.support.streamer_harness import (
    DEEPGRAM_KEY,
    STREAM_URL,
    as_rows,
    blocks,
    call_record,
    events,
    expected_rows,
    segments,
    streamer_running,
    twilio_stream,
    wait_for_call_end,
)
from tests.support.twilio_media import TwilioMediaStream, sign_stream, signed_parameters

pytestmark = pytest.mark.integration

PARAMS = {"callSid": "", "route": "forward", "direction": "inbound"}  # callSid filled per test
WORDS = ["alpha", "bravo", None, "charlie"]
OLD, NEW = TEST_AUTH_TOKEN, "rotated-auth-token-fedcba9876543210"


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        yield dg


def _params(call_sid: str) -> dict[str, str]:
    return {**PARAMS, "callSid": call_sid}


def _forgeries(call_sid: str) -> dict[str, dict[str, str]]:
    """`start.customParameters` an attacker holding only the upgrade signature could send."""
    other_call = "CA" + uuid.uuid4().hex
    signed = signed_parameters(TEST_AUTH_TOKEN, call_sid, _params(call_sid))
    return {
        "no token": _params(call_sid),
        "forged token": {**_params(call_sid), "token": "0" * 64},
        "another call's token": signed_parameters(TEST_AUTH_TOKEN, other_call, _params(call_sid)),
        "a parameter changed": {**signed, "route": "agent", "mode": "agent"},
        "signed with another key": signed_parameters("not-the-auth-token", call_sid, _params(call_sid)),
        "token in upper case": {**signed, "token": signed["token"].upper()},
    }


async def _refused(stream: TwilioMediaStream) -> int | None:
    """Send `start`'s followers as Twilio would (media, then stop) until the streamer closes."""
    with contextlib.suppress(ConnectionClosed):
        await stream.play({"inbound": audio_for(WORDS)})
        await stream.stop()
    async with asyncio.timeout(10):
        await stream.wait_closed()
    assert stream.ws is not None
    return stream.ws.close_code


@pytest.mark.parametrize(
    "forgery",
    [
        "no token",
        "forged token",
        "another call's token",
        "a parameter changed",
        "signed with another key",
        "token in upper case",
    ],
)
async def test_a_replayed_upgrade_without_this_calls_token_is_refused_before_anything_happens(
    local_stack: LocalAws,
    bus_tap: BusTap,
    deepgram: DeepgramStandIn,
    call_sid: str,
    forgery: str,
    log_output: io.StringIO,
) -> None:
    parameters = _forgeries(call_sid)[forgery]
    async with streamer_running(local_stack, deepgram.url) as server:
        stream = twilio_stream(server, call_sid)
        await stream.open()  # the upgrade signature is right: it is the same for every call
        await stream.start(tracks=("inbound",), custom_parameters=parameters, signed=False)
        assert await _refused(stream) == 1008
        await wait_for_call_end(server)
        assert server.active_calls == 0
        totals = dict(server._deps.metrics.totals)

    assert deepgram.handshakes == 0
    assert await call_record(local_stack, call_sid) is None
    assert await segments(local_stack, call_sid) == []
    assert await events(bus_tap, call_sid, wait_seconds=1) == []
    assert totals["StreamsRefused"] == 1
    assert totals["FramesIn"] == 0
    logs = log_output.getvalue()
    assert "stream refused at start" in logs
    if "token" in parameters:
        assert parameters["token"] not in logs


@pytest.mark.parametrize(
    "call_sid_on_the_wire",
    ["CA../../../x", "CA" + "0" * 32 + "/../x", "CA" + "G" * 32, "ca" + "0" * 32, "CA" + "0" * 33],
)
async def test_a_start_whose_call_sid_is_not_a_call_sid_is_refused(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid_on_the_wire: str
) -> None:
    async with streamer_running(local_stack, deepgram.url) as server:
        stream = twilio_stream(server, call_sid_on_the_wire)
        await stream.open()
        await stream.start(
            tracks=("inbound",), custom_parameters={"route": "forward", "token": "0" * 64}, signed=False
        )
        assert await _refused(stream) == 1008
        await wait_for_call_end(server)
        assert server._deps.metrics.totals["StreamsRefused"] == 1
    assert deepgram.handshakes == 0


async def test_an_agent_stream_for_a_victims_call_with_a_forged_token_cannot_touch_the_call(
    local_stack: LocalAws, call_sid: str
) -> None:
    """The attack the token closes: a replayed upgrade, a live call's SID and `mode=agent`. Without
    the check the attacker is greeted, says a word, and the model's `end_call` hangs the victim's
    call up through Twilio's REST API; the test plays exactly that and waits (bounded) for either."""
    victim = call_sid
    replies = (Reply.tools("Goodbye.", ("end_call", {"reason": "caller is done"})),)
    async with agent_rig(local_stack, *replies) as rig:
        attacker = rig.phone(victim)  # the victim's call is live at Twilio (the REST stand-in)
        await attacker.answer({**call_parameters(victim), "token": "f" * 64}, signed=False)
        await attacker.say(["alpha", None])  # returns at once if the stream is already closed
        await attacker.wait_until(lambda: attacker.closed.is_set() or bool(rig.updates(victim)), within=20)
        close_code = attacker.stream.ws.close_code if attacker.stream.ws is not None else None
        await attacker.hang_up()
        await wait_for_call_end(rig.server)
        totals = dict(rig.server._deps.metrics.totals)

    assert rig.updates(victim) == []
    assert rig.twilio.requests == []
    assert close_code == 1008
    assert rig.model_requests() == []
    assert rig.deepgram.speak_connections == []
    assert rig.deepgram.handshakes == 0
    assert totals["StreamsRefused"] == 1
    assert totals["AgentTurns"] == 0
    assert await call_record(local_stack, victim) is None


async def test_the_token_reaches_no_log_no_agent_and_no_stored_data(
    local_stack: LocalAws, call_sid: str, log_output: io.StringIO
) -> None:
    """A genuine agent stream: it runs, and its token is dropped right after the check."""
    async with agent_rig(local_stack, Reply.message("Hello.")) as rig:
        phone = rig.phone(call_sid)
        parameters = call_parameters(call_sid)
        token = signed_parameters(TEST_AUTH_TOKEN, call_sid, {"mode": "agent", **parameters})["token"]
        await phone.answer(parameters)  # signed: the token above is the one on the wire
        await phone.wait_until(lambda: len(phone.echoed) >= 1)  # greeted: the agent started
        session = next(iter(rig.server.sessions))
        assert session.agent is not None
        await phone.hang_up()
        await wait_for_call_end(rig.server)
        requests = rig.model_requests()

    assert token not in log_output.getvalue()
    assert all(token not in str(request.body) for request in requests)
    stored = await segments(local_stack, call_sid)
    assert stored
    assert all(token not in repr(segment) for segment in stored)
    assert token not in repr(await call_record(local_stack, call_sid))


@pytest.mark.parametrize(
    ("upgrade_key", "token_key"), [(OLD, OLD), (OLD, NEW), (NEW, OLD), (NEW, NEW)], ids=str
)
async def test_during_a_rotation_either_token_verifies_the_upgrade_and_the_stream(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str, upgrade_key: str, token_key: str
) -> None:
    """docs/deploy.md's rotation: between its steps Twilio may sign the upgrade with one token while
    the TwiML's stream token was made with the other; with both configured, every mix streams."""
    async with streamer_running(
        local_stack, deepgram.url, TWILIO_AUTH_TOKEN=NEW, TWILIO_AUTH_TOKEN_SECONDARY=OLD
    ) as server:
        stream = twilio_stream(server, call_sid)
        await stream.open(signature=sign_stream(upgrade_key, STREAM_URL))
        await stream.start(
            tracks=("inbound",),
            custom_parameters=signed_parameters(token_key, call_sid, _params(call_sid)),
            signed=False,
        )
        await stream.play({"inbound": audio_for(WORDS)})
        await stream.stop()
        await wait_for_call_end(server)

    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(WORDS))
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"


async def test_without_a_secondary_token_a_stream_token_of_another_key_is_refused(
    local_stack: LocalAws, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    async with streamer_running(local_stack, deepgram.url, TWILIO_AUTH_TOKEN=NEW) as server:
        stream = twilio_stream(server, call_sid)
        await stream.open(signature=sign_stream(NEW, STREAM_URL))
        await stream.start(
            tracks=("inbound",),
            custom_parameters=signed_parameters(OLD, call_sid, _params(call_sid)),
            signed=False,
        )
        assert await _refused(stream) == 1008
        await wait_for_call_end(server)
    assert deepgram.handshakes == 0
