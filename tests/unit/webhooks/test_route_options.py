"""Per-route language, model and recording switch, and `Recording Completed` once per recording
(what the outbox announces of the webhooks' writes, read from the fake table's stream)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

from functions.webhooks import logic, twiml
from functions.webhooks.inputs import CreateCallRequest, RecordingCallback, VoiceRequest
from functions.webhooks.logic import Services
from functions.webhooks.twiml import CallbackUrls
from shared import stream_token
from shared.events import DomainEvent, RecordingCompleted
from tests.conftest import TEST_AUTH_TOKEN
from tests.support.fake_calls.webhooks import FakeWebhookCalls
from tests.support.fake_outbox import announced
from tests.support.twilio_forms import CALLED, recording_params, voice_params
from tests.unit.webhooks.conftest import AGENT_NUMBER, BASE, FakeCallsApi

SID = "CA" + "6" * 32
RE = "RE" + "a" * 32
FORWARD = "+14155550111"


def routes(**by_number: object) -> str:
    return json.dumps(by_number)


def answer(services: Services, callbacks: CallbackUrls, **params: str) -> ET.Element:
    request = VoiceRequest.from_form(voice_params(SID, **params))
    signed = twiml.sign_streams(
        logic.answer_voice(request, services, callbacks), call_sid=SID, auth_token=TEST_AUTH_TOKEN
    )
    return ET.fromstring(signed)  # noqa: S314 - TwiML this code just built


def parameters(root: ET.Element) -> dict[str, str]:
    stream = next(s for verb in root for s in verb.findall("Stream"))
    return {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}


def test_a_routes_language_and_model_travel_signed_and_are_stored(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(
        CALL_ROUTES=routes(**{CALLED: {"forwardTo": FORWARD, "language": "es", "model": "nova-2-phonecall"}})
    )
    params = parameters(answer(services, callbacks))
    assert (params["language"], params["model"]) == ("es", "nova-2-phonecall")
    assert stream_token.verify((TEST_AUTH_TOKEN,), SID, params)  # the token covers them
    assert not stream_token.verify((TEST_AUTH_TOKEN,), SID, {**params, "language": "en"})
    item = services.store.items[SID]  # type: ignore[attr-defined]
    stored = (item["language"], item["stt_model"], item["recording_expected"])
    assert stored == ("es", "nova-2-phonecall", True)


def test_a_route_without_language_emits_none_and_stores_none(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services()
    params = parameters(answer(services, callbacks))
    assert "language" not in params
    assert "model" not in params
    item = services.store.items[SID]  # type: ignore[attr-defined]
    assert "language" not in item
    assert item["recording_expected"] is True


def test_record_false_forwards_without_recording(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(CALL_ROUTES=routes(**{CALLED: {"forwardTo": FORWARD, "record": False}}))
    root = answer(services, callbacks)
    dial = root[-1]
    assert dial.tag == "Dial"
    assert "record" not in dial.attrib
    assert "recordingStatusCallback" not in dial.attrib
    assert services.store.items[SID]["recording_expected"] is False  # type: ignore[attr-defined]

    # the forward target does not answer: the voicemail that follows records nothing either
    after = answer(services, callbacks, DialCallStatus="no-answer", CallStatus="in-progress")
    assert [child.tag for child in after] == ["Say", "Pause", "Say", "Hangup"]


def test_record_false_voicemail_listens_on_the_stream_only(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(
        CALL_ROUTES=routes(**{"*": {"voicemail": True, "record": False}}), VOICEMAIL_MAX_SECONDS="60"
    )
    root = answer(services, callbacks)
    assert [child.tag for child in root] == ["Start", "Say", "Pause", "Say", "Hangup"]
    assert root[2].attrib["length"] == "60"
    assert root.find("Record") is None


def test_agent_calls_are_recorded_on_two_channels(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(CALL_ROUTES=routes(**{AGENT_NUMBER: {"agent": {"language": "de"}}}))
    root = answer(services, callbacks, To=AGENT_NUMBER, Called=AGENT_NUMBER)
    recording = root[0].find("Recording")
    assert recording is not None
    assert recording.attrib == {
        "recordingStatusCallback": f"{BASE}/twilio/recording",
        "recordingStatusCallbackEvent": twiml.RECORDING_EVENTS,
        "channels": "dual",
        "track": "both",
    }
    assert parameters(root)["language"] == "de"  # the agent's language is what the caller is heard in
    assert services.store.items[SID]["language"] == "de"  # type: ignore[attr-defined]


def test_agent_route_language_wins_and_record_false_drops_the_recording(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(
        CALL_ROUTES=routes(**{AGENT_NUMBER: {"agent": {"language": "de"}, "language": "fr", "record": False}})
    )
    root = answer(services, callbacks, To=AGENT_NUMBER, Called=AGENT_NUMBER)
    assert [child.tag for child in root] == ["Connect"]
    assert parameters(root)["language"] == "fr"


def test_outbound_defaults_apply_to_calls_placed_by_post_calls(
    make_services: Callable[..., Services], callbacks: CallbackUrls, calls_api: FakeCallsApi
) -> None:
    services = make_services(
        TWILIO_FROM_NUMBER="+14155550999",
        CALL_ROUTES=routes(outbound={"language": "pt-BR", "record": False}),
    )
    request = CreateCallRequest.model_validate({"to": "+14155550100", "connectTo": "+14155550111"})
    sid = logic.start_outbound_call(request, services, callbacks)
    assert calls_api.created[0].record is False
    item = services.store.items[sid]  # type: ignore[attr-defined]
    assert (item["language"], item["recording_expected"]) == ("pt-BR", False)


def completed(recording_sid: str = RE, **overrides: str) -> RecordingCallback:
    params = {**recording_params(SID, "completed", recording_sid=recording_sid), **overrides}
    return RecordingCallback.from_form(params)


def recording_events(services: Services) -> list[DomainEvent]:
    store = services.store
    assert isinstance(store, FakeWebhookCalls)
    return [e for e in announced(store.table) if isinstance(e, RecordingCompleted)]


def test_a_completed_recording_is_announced_once(make_services: Callable[..., Services]) -> None:
    services = make_services()
    logic.apply_recording(completed(), services)
    logic.apply_recording(completed(), services)  # Twilio's retry, or a duplicate callback
    assert recording_events(services) == [
        RecordingCompleted.model_validate(
            {
                "callSid": SID,
                "recordingSid": RE,
                "channels": 2,
                "durationSeconds": 37,
                "startTime": "2026-11-22T09:30:00.000Z",
            }
        )
    ]
    logic.apply_recording(completed("RE" + "b" * 32), services)  # another recording of the same call
    assert [event.recording_sid for event in recording_events(services)] == [RE, "RE" + "b" * 32]  # type: ignore[attr-defined]


def test_lesser_recording_reports_announce_nothing(make_services: Callable[..., Services]) -> None:
    services = make_services()
    for status in ("in-progress", "absent", "failed"):
        logic.apply_recording(RecordingCallback.from_form(recording_params(SID, status)), services)
    assert recording_events(services) == []


def test_the_event_copes_with_a_callback_missing_the_optional_values(
    make_services: Callable[..., Services],
) -> None:
    services = make_services()
    logic.apply_recording(
        completed(RecordingStartTime="", RecordingChannels="", RecordingDuration=""), services
    )
    [event] = recording_events(services)
    assert isinstance(event, RecordingCompleted)
    assert (event.channels, event.duration_seconds, event.start_time) == (1, 0, None)
    assert json.loads(event.detail_json()) == {
        "callSid": SID,
        "recordingSid": RE,
        "channels": 1,
        "durationSeconds": 0,
    }
