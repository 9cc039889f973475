"""Listen-in routes in the voice webhook: the TwiML (stream first and signed, the recording, the
hand-off), the record, a call that comes back, and configurations that must not load."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from functions.webhooks import logic, twiml
from functions.webhooks.inputs import VoiceRequest
from functions.webhooks.logic import Services
from functions.webhooks.twiml import CallbackUrls
from shared import stream_token
from shared.errors import ConfigError
from tests.conftest import TEST_AUTH_TOKEN
from tests.support.twilio_forms import CALLED, CALLER, voice_params
from tests.unit.webhooks.conftest import BASE, STREAM_URL, make_settings

SID = "CA" + "3" * 32
TEAM_APP = "https://voice.team.example/twiml/incoming?desk=support&lang=en"


def listen_env(route: dict[str, object] | None = None, **overrides: str) -> dict[str, str]:
    listen = route if route is not None else {"listen": {"twimlUrl": TEAM_APP}}
    return {
        "CALL_ROUTES": json.dumps({CALLED: listen}),
        "LISTEN_ALLOWED_URLS": "https://voice.team.example/twiml/*",
        **overrides,
    }


def answer(services: Services, callbacks: CallbackUrls, **params: str) -> str:
    return logic.answer_voice(VoiceRequest.from_form(voice_params(SID, **params)), services, callbacks)


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 - TwiML this code just built


def test_stream_first_then_recording_notice_and_the_hand_off(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(**listen_env(RECORDING_NOTICE="This call is recorded."))
    root = parse(answer(services, callbacks))

    assert [child.tag for child in root] == ["Start", "Start", "Say", "Redirect"]
    stream = root[0].find("Stream")
    assert stream is not None
    assert stream.attrib == {"url": STREAM_URL, "track": "both_tracks"}
    assert {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")} == {
        "callSid": SID,
        "direction": "inbound",
        "from": CALLER,
        "to": CALLED,
        "route": "listen",
    }
    recording = root[1].find("Recording")
    assert recording is not None
    assert recording.attrib == {
        "recordingStatusCallback": f"{BASE}/twilio/recording",
        "recordingStatusCallbackEvent": "in-progress completed absent",
        "channels": "dual",
        "track": "both",
        "trim": "do-not-trim",  # recording time stays stream time (reconciliation aligns on it)
    }
    assert root[2].text == "This call is recorded."
    redirect = root[3]
    assert (redirect.text, redirect.attrib) == (TEAM_APP, {"method": "POST"})


def test_the_stream_is_signed_and_nothing_of_ours_goes_into_the_hand_off(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(**listen_env())
    signed = twiml.sign_streams(answer(services, callbacks), call_sid=SID, auth_token=TEST_AUTH_TOKEN)
    root = parse(signed)
    stream = root[0].find("Stream")
    assert stream is not None
    parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    assert stream_token.verify([TEST_AUTH_TOKEN], SID, parameters)
    redirect = root.find("Redirect")
    assert redirect is not None
    assert redirect.text == TEAM_APP  # exactly as configured: no token, no call data, no secret
    assert parameters["token"] not in signed.split("<Redirect", 1)[1]
    assert TEST_AUTH_TOKEN not in signed


def test_the_record_says_listen_and_expects_the_recording(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(**listen_env())
    answer(services, callbacks)
    item = services.store.items[SID]  # type: ignore[attr-defined]
    assert (item["route"], item["recording_expected"], item["status"]) == ("listen", True, "ringing")
    assert "connect_to" not in item


def test_record_false_hands_off_without_recording(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    route = {"listen": {"twimlUrl": TEAM_APP, "method": "GET"}, "record": False, "language": "es"}
    services = make_services(**listen_env(route))
    root = parse(answer(services, callbacks))
    assert [child.tag for child in root] == ["Start", "Redirect"]
    assert root[1].attrib == {"method": "GET"}
    stream = root[0].find("Stream")
    assert stream is not None
    assert {"name": "language", "value": "es"} in [p.attrib for p in stream.findall("Parameter")]
    item = services.store.items[SID]  # type: ignore[attr-defined]
    assert (item["recording_expected"], item["language"]) == (False, "es")


def test_a_call_that_comes_back_is_handed_over_again_without_a_second_stream(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    """A Studio flow that redirects to us a second time: its stream and recording already run."""
    services = make_services(**listen_env())
    answer(services, callbacks)
    before = dict(services.store.items[SID])  # type: ignore[attr-defined]
    again = parse(answer(services, callbacks, status="in-progress"))
    assert [child.tag for child in again] == ["Redirect"]
    assert again[0].text == TEAM_APP
    assert services.store.items[SID] == before  # type: ignore[attr-defined]


def test_a_hand_off_back_to_our_own_api_is_refused_before_anything_is_written(
    make_services: Callable[..., Services],
) -> None:
    """Without WEBHOOK_BASE_URL only the request knows our URL: a listen route pointing at it would
    start the call over on every hand-off."""
    ours = "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod"
    route = {"listen": {"twimlUrl": f"{ours}/twilio/voice"}}
    services = make_services(**listen_env(route, LISTEN_ALLOWED_URLS=f"{ours}/*"))
    with pytest.raises(ConfigError, match="back to this API"):
        answer(services, CallbackUrls.under(ours))
    assert SID not in services.store.items  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"LISTEN_ALLOWED_URLS": ""}, "allowed: none"),
        ({"LISTEN_ALLOWED_URLS": "https://voice.team.example/other"}, "LISTEN_ALLOWED_URLS does not allow"),
        ({"LISTEN_ALLOWED_URLS": "https://voice.team.example/twiml/incoming"}, "does not allow"),  # exact
        ({"LISTEN_ALLOWED_URLS": "http://voice.team.example/*"}, "LISTEN_ALLOWED_URLS"),
        ({"LISTEN_ALLOWED_URLS": "https://voice.team.example*"}, "whole host"),
        (
            {"WEBHOOK_BASE_URL": "https://voice.team.example/twiml"},
            "hand calls back to this API",
        ),
    ],
)
def test_a_route_to_a_url_not_allowed_does_not_load(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**listen_env(**env))
    assert needle in str(caught.value)


def test_a_listen_route_to_plain_http_loads_only_for_loopback() -> None:
    local = "http://127.0.0.1:8080/team/voice"
    settings = make_settings(**listen_env({"listen": {"twimlUrl": local}}, LISTEN_ALLOWED_URLS=local))
    assert settings.call_routes.listen_targets() == [(CALLED, local)]
    with pytest.raises(ConfigError, match="not https://"):
        make_settings(
            **listen_env(
                {"listen": {"twimlUrl": "http://voice.team.example/t"}},
                LISTEN_ALLOWED_URLS="http://voice.team.example/t",
            )
        )
