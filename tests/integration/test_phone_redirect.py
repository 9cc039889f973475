"""The simulated phone follows `<Redirect>` as Twilio does, into a team's own TwiML app.

The same Twilio-side checks as tests/integration/test_phone.py (a webhook handler verifying every
request with `shared.signatures`, a WebSocket server verifying the upgrade), now answering the
listen-in shape: `<Start><Stream>`, `<Start><Recording>`, `<Redirect>`. The team's app
(`callscribe_local.team_app`) verifies the redirected request's signature itself and answers with
its own flow; the phone must carry on with it while the stream and the recording keep running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import serve

from callscribe_local.apigw import LocalApiGateway
from callscribe_local.phone import START_RECORDING, PhoneError, SimulatedPhone, parse_twiml
from callscribe_local.team_app import TEAM_DESK, TeamApp
from tests.integration.test_phone import ACCOUNT, TOKEN, TwilioSide, _conversation

pytestmark = pytest.mark.integration

LISTEN = (
    '<Start><Recording recordingStatusCallback="recording" recordingStatusCallbackEvent="completed" '
    'channels="dual" track="both" trim="do-not-trim"/></Start>'
)


@pytest.fixture
async def sides() -> AsyncIterator[tuple[TwilioSide, TeamApp]]:
    side = TwilioSide()
    async with serve(side.receive, "127.0.0.1", 0, process_request=side.process_request) as server:
        port = server.sockets[0].getsockname()[1]
        side.stream_url = f"ws://127.0.0.1:{port}/media"
        with LocalApiGateway(side.handler, stage="local") as gateway, TeamApp(TOKEN) as team:
            side.api_url = gateway.url
            yield side, team


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_listen_in_call_is_handed_to_the_team_and_keeps_streaming_and_recording(
    sides: tuple[TwilioSide, TeamApp], method: str
) -> None:
    side, team = sides
    target = team.twiml_url + "?desk=support"
    side.after_stream = f'{LISTEN}<Redirect method="{method}">{target}</Redirect>'
    phone = SimulatedPhone(side.api_url, TOKEN, ACCOUNT, speed=50.0)

    result = await phone.call(_conversation(1.0))

    # Twilio's own signed request reached the team (403 otherwise), with the call's parameters
    (request,) = team.received(result.call_sid)
    assert (request.method, request.signature_valid) == (method, True)
    assert request.params["CallStatus"] == "in-progress"
    assert request.params["desk"] == "support" if method == "GET" else request.url.endswith("?desk=support")
    assert "token" not in request.params  # the stream token stays in our <Stream>
    # the team's flow decides the rest: its <Dial> rings the desk
    assert result.plan.dial_to == TEAM_DESK
    assert result.lead_in_seconds == phone.ring_seconds
    # our stream ran the whole call, both tracks, with our parameters
    assert result.plan.stream is not None
    assert result.plan.stream.url == side.stream_url
    starts = [m for m in side.messages if m["event"] == "start"]
    assert len(starts) == 1
    assert starts[0]["start"]["tracks"] == ["inbound", "outbound"]
    # our recording: the whole call from answer (not from the desk's answer), to our callback
    recording = result.recording
    assert recording is not None
    assert (recording.source, recording.channels, recording.offset_seconds) == (START_RECORDING, 2, 0.0)
    callbacks = [form for path, form in side.forms if path == "/twilio/recording"]
    assert [form["RecordingSource"] for form in callbacks] == [START_RECORDING]
    assert callbacks[0]["RecordingChannels"] == "2"
    assert callbacks[0]["RecordingTrack"] == "both"


async def test_a_team_app_that_refuses_the_signature_fails_the_call(
    sides: tuple[TwilioSide, TeamApp],
) -> None:
    side, _ = sides
    with TeamApp("another-accounts-token-0123456789") as stranger:
        side.after_stream = f"<Redirect>{stranger.twiml_url}</Redirect>"
        with pytest.raises(PhoneError, match="HTTP 403"):
            await SimulatedPhone(side.api_url, TOKEN, ACCOUNT, speed=50.0).call(_conversation(0.2))


async def test_a_redirect_loop_ends(sides: tuple[TwilioSide, TeamApp]) -> None:
    side, team = sides
    team.twiml = f'<?xml version="1.0"?><Response><Redirect>{team.twiml_url}</Redirect></Response>'
    side.after_stream = f"<Redirect>{team.twiml_url}</Redirect>"
    with pytest.raises(PhoneError, match="a loop"):
        await SimulatedPhone(side.api_url, TOKEN, ACCOUNT, speed=50.0).call(_conversation(0.2))


def test_relative_redirects_resolve_against_the_document_and_a_start_recording_wins() -> None:
    plan = parse_twiml(
        '<Response><Start><Stream url="wss://s/media"/></Start>'
        '<Start><Recording recordingStatusCallback="/local/twilio/recording"/></Start>'
        '<Redirect method="get">next</Redirect></Response>',
        "http://127.0.0.1:9/local/twilio/voice",
    )
    assert plan.redirect is not None
    assert (plan.redirect.url, plan.redirect.method) == ("http://127.0.0.1:9/local/twilio/next", "GET")
    assert (plan.recording_source, plan.recording_channels) == (START_RECORDING, 2)
    assert plan.recording_callback == "http://127.0.0.1:9/local/twilio/recording"
    team = parse_twiml(
        '<Response><Dial record="record-from-answer" recordingStatusCallback="https://team/rec">'
        "+14155550199</Dial></Response>",
        "https://team/voice",
    )
    followed = plan.followed_by(team)
    assert followed.stream == plan.stream
    assert followed.dial_to == "+14155550199"
    assert (followed.recording_source, followed.recording_callback) == (
        START_RECORDING,
        plan.recording_callback,
    )
    assert followed.redirect is None
