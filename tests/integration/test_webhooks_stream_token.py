"""Every `<Stream>` the webhooks answer with carries the per-call token over exactly what it emits.

Through the real handler (signed API Gateway events, moto): each route's TwiML is parsed and every
stream's `<Parameter>`s, as Twilio will hand them back in `start.customParameters`, must verify with
`shared.stream_token.verify` for that call. The simulated phone is checked to pass them through.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from callscribe_local.apigw import LocalApiGateway
from callscribe_local.phone import Conversation, SimulatedPhone
from callscribe_local.twilio_rest import TwilioRestStandIn
from shared import stream_token
from shared.signatures import verify_stream_upgrade
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.apigw_events import json_event, twilio_event
from tests.support.twilio_forms import voice_params
from tests.support.webhooks_env import (
    ROUTED_NUMBER,
    Webhooks,
    webhooks_fixture,  # noqa: F401 - provides the `webhooks` fixture
)

pytestmark = pytest.mark.integration
AGENT_NUMBER = "+14155550177"  # an agent route in tests.support.webhooks_env.CALL_ROUTES
VOICEMAIL_NUMBER = "+14155550100"  # no route: voicemail
SECONDARY = "secondary-auth-token-fedcba9876543210"


def streams(body: str) -> list[dict[str, str]]:
    """Each started stream's parameters, as the flat map Twilio puts in `start.customParameters`."""
    root = ET.fromstring(body)  # noqa: S314 - our own TwiML
    found = []
    for verb in root:
        if verb.tag in ("Start", "Connect"):
            for stream in verb.findall("Stream"):
                names = [p.attrib["name"] for p in stream.findall("Parameter")]
                assert len(names) == len(set(names)), f"duplicate <Parameter> names: {names}"
                found.append({p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")})
    return found


def voice(webhooks: Webhooks, params: dict[str, str]) -> str:
    result = webhooks.invoke(twilio_event("/twilio/voice", params))
    assert result["statusCode"] == 200, result["body"]
    return str(result["body"])


@pytest.mark.parametrize(
    ("called", "route"),
    [(ROUTED_NUMBER, "forward"), (VOICEMAIL_NUMBER, "voicemail"), (AGENT_NUMBER, "agent")],
)
def test_inbound_routes_sign_their_stream(webhooks: Webhooks, call_sid: str, called: str, route: str) -> None:
    [parameters] = streams(voice(webhooks, voice_params(call_sid, called=called)))
    assert parameters["route"] == route
    assert stream_token.verify([TEST_AUTH_TOKEN], call_sid, parameters)
    assert not stream_token.verify([TEST_AUTH_TOKEN], "CA" + "0" * 32, parameters)
    assert not stream_token.verify([TEST_AUTH_TOKEN], call_sid, {**parameters, "route": "agent-ish"})


def test_agent_stream_signs_its_agent_parameters(webhooks: Webhooks, call_sid: str) -> None:
    [parameters] = streams(voice(webhooks, voice_params(call_sid, called=AGENT_NUMBER)))
    assert parameters["mode"] == "agent"
    assert stream_token.verify([TEST_AUTH_TOKEN], call_sid, parameters)
    assert not stream_token.verify([TEST_AUTH_TOKEN], call_sid, {**parameters, "mode": "transcribe"})


def test_outbound_leg_without_a_party_still_signs_its_stream(webhooks: Webhooks, call_sid: str) -> None:
    answered = voice_params(call_sid, direction="outbound-api", status="in-progress")
    [parameters] = streams(voice(webhooks, answered))
    assert parameters["route"] == "outbound"
    assert stream_token.verify([TEST_AUTH_TOKEN], call_sid, parameters)


def test_outbound_leg_placed_by_post_calls_signs_its_stream(webhooks: Webhooks) -> None:
    with TwilioRestStandIn(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as twilio:
        webhooks.configure(TWILIO_API_BASE_URL=twilio.base_url, TWILIO_FROM_NUMBER="+14155550999")
        created = webhooks.invoke(
            json_event("POST", "/calls", {"to": "+14155550100", "connectTo": "+14155550111"})
        )
        assert created["statusCode"] == 201
        call_sid = json.loads(str(created["body"]))["callSid"]
    answered = voice_params(
        call_sid, caller="+14155550999", called="+14155550100", direction="outbound-api", status="in-progress"
    )
    [parameters] = streams(voice(webhooks, answered))
    assert parameters["connectTo"] == "+14155550111"
    assert stream_token.verify([TEST_AUTH_TOKEN], call_sid, parameters)


def test_the_actions_of_our_own_verbs_start_no_new_stream(webhooks: Webhooks, call_sid: str) -> None:
    after_dial = voice_params(call_sid, called=ROUTED_NUMBER, DialCallStatus="no-answer")
    assert streams(voice(webhooks, after_dial)) == []


def test_a_value_twilio_might_not_hand_back_is_neither_emitted_nor_signed(
    webhooks: Webhooks, call_sid: str
) -> None:
    # No Direction: the parameter is absent, not an empty value Twilio may or may not return.
    params = {k: v for k, v in voice_params(call_sid, called=ROUTED_NUMBER).items() if k != "Direction"}
    [parameters] = streams(voice(webhooks, params))
    assert "direction" not in parameters
    assert all(value for value in parameters.values())
    assert stream_token.verify([TEST_AUTH_TOKEN], call_sid, parameters)


def test_streams_are_signed_with_the_primary_token_only(webhooks: Webhooks, call_sid: str) -> None:
    webhooks.configure(TWILIO_AUTH_TOKEN_SECONDARY=SECONDARY)
    [parameters] = streams(voice(webhooks, voice_params(call_sid, called=ROUTED_NUMBER)))
    assert stream_token.verify([TEST_AUTH_TOKEN], call_sid, parameters)
    assert not stream_token.verify([SECONDARY], call_sid, parameters)


def test_webhooks_signed_with_the_secondary_token_verify_during_a_rotation(
    webhooks: Webhooks, call_sid: str
) -> None:
    """Once the secondary token is promoted at Twilio it signs the webhooks, possibly before every
    container has the new primary: the secondary slot keeps them verifying meanwhile."""
    event = twilio_event("/twilio/voice", voice_params(call_sid), auth_token=SECONDARY)
    assert webhooks.invoke(event)["statusCode"] == 403
    webhooks.configure(TWILIO_AUTH_TOKEN_SECONDARY=SECONDARY)
    assert webhooks.invoke(event)["statusCode"] == 200


# -- the simulated phone hands the TwiML's parameters to the streamer as Twilio does ------------------


class StreamRecorder:
    def __init__(self) -> None:
        self.url = ""
        self.starts: list[dict[str, Any]] = []

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if not verify_stream_upgrade(self.url, request.headers, TEST_AUTH_TOKEN):
            return connection.respond(HTTPStatus.FORBIDDEN, "forbidden\n")
        return None

    async def receive(self, ws: ServerConnection) -> None:
        async for message in ws:
            doc = json.loads(message)
            if doc["event"] == "start":
                self.starts.append(doc["start"])


@pytest.fixture
async def recorder() -> AsyncIterator[StreamRecorder]:
    side = StreamRecorder()
    async with serve(side.receive, "127.0.0.1", 0, process_request=side.process_request) as server:
        side.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/media"
        yield side


@pytest.fixture
def gateway(webhooks: Webhooks, recorder: StreamRecorder) -> Iterator[str]:
    webhooks.configure(STREAM_URL=recorder.url)
    with LocalApiGateway(webhooks) as running:
        yield running.url


async def test_simulated_phone_passes_the_signed_parameters_through(
    gateway: str, recorder: StreamRecorder
) -> None:
    phone = SimulatedPhone(gateway, TEST_AUTH_TOKEN, TEST_ACCOUNT_SID, speed=50.0)
    frames = math.ceil(0.2 * 8000 / 160)
    result = await phone.call(Conversation.from_audio(bytes([0x10]) * 160 * frames))
    [start] = recorder.starts
    assert start["callSid"] == result.call_sid
    assert "token" in start["customParameters"]
    assert stream_token.verify([TEST_AUTH_TOKEN], start["callSid"], start["customParameters"])
