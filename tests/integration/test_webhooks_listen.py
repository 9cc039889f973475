"""Listen-in routes through the real webhooks handler, with signed API Gateway events, against moto:
the signature check, the TwiML Twilio gets (a stream the streamer will accept, the recording, the
hand-off), the call record, the recording callback of a `<Start><Recording>`, and a configuration
that must not answer calls."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from shared import stream_token
from tests.conftest import TEST_AUTH_TOKEN
from tests.support.apigw_events import API_HOST, twilio_event
from tests.support.twilio_forms import CALLED, recording_params, voice_params
from tests.support.webhooks_env import (
    STREAM_URL,
    Webhooks,
    webhooks_fixture,  # noqa: F401 - provides the `webhooks` fixture
)

pytestmark = pytest.mark.integration

PUBLIC = f"https://{API_HOST}/prod"
STUDIO = "https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/Flows/FW0123456789abcdef0123456789abcdef"
RETURN_TO_STUDIO = STUDIO + "?FlowEvent=return"


@pytest.fixture
def listening(webhooks: Webhooks) -> Webhooks:
    webhooks.configure(
        CALL_ROUTES=json.dumps({CALLED: {"listen": {"twimlUrl": RETURN_TO_STUDIO}}}),
        LISTEN_ALLOWED_URLS="https://webhooks.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/*",
    )
    return webhooks


def test_a_signed_voice_webhook_streams_records_and_hands_the_call_to_studio(
    listening: Webhooks, call_sid: str
) -> None:
    result = listening.invoke(twilio_event("/twilio/voice", voice_params(call_sid)))
    assert result["statusCode"] == 200
    root = ET.fromstring(str(result["body"]))  # noqa: S314 - our own TwiML
    assert [child.tag for child in root] == ["Start", "Start", "Redirect"]

    stream = root[0].find("Stream")
    assert stream is not None
    assert stream.attrib == {"url": STREAM_URL, "track": "both_tracks"}
    parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    assert parameters["route"] == "listen"
    # what the streamer checks at `start`: the token made for exactly this call and these parameters
    assert stream_token.verify([TEST_AUTH_TOKEN], call_sid, parameters)

    recording = root[1].find("Recording")
    assert recording is not None
    assert recording.attrib["recordingStatusCallback"] == f"{PUBLIC}/twilio/recording"
    assert recording.attrib["channels"] == "dual"
    assert (root[2].text, root[2].attrib) == (RETURN_TO_STUDIO, {"method": "POST"})

    record = listening.record(call_sid)
    assert record is not None
    assert (record.route, record.recording_expected, record.connect_to) == ("listen", True, None)


def test_an_unsigned_or_forged_request_is_refused_and_writes_nothing(
    listening: Webhooks, call_sid: str
) -> None:
    forged = twilio_event("/twilio/voice", voice_params(call_sid), auth_token="not-our-token-0123456789")
    assert listening.invoke(forged)["statusCode"] == 403
    unsigned = twilio_event("/twilio/voice", voice_params(call_sid), signature="")
    assert listening.invoke(unsigned)["statusCode"] == 403
    assert listening.record(call_sid) is None


def test_the_recording_of_a_listen_call_reaches_its_record(listening: Webhooks, call_sid: str) -> None:
    listening.invoke(twilio_event("/twilio/voice", voice_params(call_sid)))
    params = {**recording_params(call_sid), "RecordingSource": "StartCallRecordingTwiML"}
    assert listening.invoke(twilio_event("/twilio/recording", params))["statusCode"] == 204
    record = listening.record(call_sid)
    assert record is not None
    assert record.recording is not None
    assert (record.recording.source, record.recording.channels, record.recording.status) == (
        "StartCallRecordingTwiML",
        2,
        "completed",
    )


def test_a_route_to_a_url_not_allowed_answers_no_call(webhooks: Webhooks, call_sid: str) -> None:
    """A configuration error, never a hand-off somewhere else: the container's settings do not load,
    so every request is answered 500 (Twilio then plays its error, or the number's fallback URL)."""
    webhooks.configure(
        CALL_ROUTES=json.dumps({CALLED: {"listen": {"twimlUrl": "https://elsewhere.example/twiml"}}}),
        LISTEN_ALLOWED_URLS=STUDIO,
    )
    result = webhooks.invoke(twilio_event("/twilio/voice", voice_params(call_sid)))
    assert result["statusCode"] == 500
    assert json.loads(str(result["body"])) == {"message": "service misconfigured"}
    assert webhooks.record(call_sid) is None
