"""The voice webhook's decisions and TwiML, against in-memory fakes (no network)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from functions.webhooks import logic
from functions.webhooks.inputs import VoiceRequest
from functions.webhooks.logic import Services
from functions.webhooks.twiml import CallbackUrls
from shared.dal.records import CallParties, CallUpsert
from tests.support.twilio_forms import CALLED, CALLER, voice_params
from tests.unit.webhooks.conftest import AGENT_NUMBER, BASE, FORWARD_NUMBER, STREAM_URL

SID = "CA" + "2" * 32


def parse(xml: str) -> ET.Element:
    root = ET.fromstring(xml)  # noqa: S314 - TwiML this code just built
    assert root.tag == "Response"
    return root


def stream_parameters(stream: ET.Element) -> dict[str, str]:
    return {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}


def assert_stream_first(root: ET.Element) -> ET.Element:
    """The contract: <Start><Stream both_tracks> before any verb that talks to the caller."""
    first = root[0]
    assert first.tag == "Start"
    stream = first.find("Stream")
    assert stream is not None
    assert stream.attrib == {"url": STREAM_URL, "track": "both_tracks"}
    return stream


def answer(services: Services, callbacks: CallbackUrls, **params: str) -> ET.Element:
    request = VoiceRequest.from_form(voice_params(SID, **params))
    return parse(logic.answer_voice(request, services, callbacks))


def test_forward_route_streams_then_dials_recorded(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services(RECORDING_NOTICE="This call is recorded.")
    root = answer(services, callbacks)
    stream = assert_stream_first(root)
    assert stream_parameters(stream) == {
        "callSid": SID,
        "direction": "inbound",
        "from": CALLER,
        "to": CALLED,
        "route": "forward",
        "connectTo": FORWARD_NUMBER,
    }
    assert [child.tag for child in root] == ["Start", "Say", "Dial"]
    assert root[1].text == "This call is recorded."
    dial = root[2]
    assert dial.attrib["record"] == "record-from-answer-dual"
    assert dial.attrib["recordingStatusCallback"] == f"{BASE}/twilio/recording"
    assert dial.attrib["action"] == f"{BASE}/twilio/voice"
    number = dial.find("Number")
    assert number is not None
    assert number.text == FORWARD_NUMBER
    assert number.attrib["statusCallback"] == f"{BASE}/twilio/status"
    assert number.attrib["statusCallbackEvent"] == "initiated ringing answered completed"
    item = services.store.items[SID]  # type: ignore[attr-defined]
    assert item["route"] == "forward"
    assert item["connect_to"] == FORWARD_NUMBER
    assert item["status"] == "ringing"
    assert item["from_city"] == "OAKLAND"
    assert "to_zip" not in item  # Twilio's blank ToZip= is not stored as a value


def test_unrouted_number_takes_a_voicemail(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services()
    root = answer(services, callbacks, To="+14155550000", Called="+14155550000")
    assert_stream_first(root)
    assert [child.tag for child in root] == ["Start", "Say", "Record"]
    record = root[2]
    assert record.attrib["recordingStatusCallback"] == f"{BASE}/twilio/recording"
    assert record.attrib["action"] == f"{BASE}/twilio/voice"
    assert services.store.items[SID]["route"] == "voicemail"  # type: ignore[attr-defined]


def test_no_call_routes_means_voicemail(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    root = answer(make_services(CALL_ROUTES=""), callbacks)
    assert [child.tag for child in root] == ["Start", "Say", "Record"]


def test_agent_route_connects_a_bidirectional_stream(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    root = answer(make_services(), callbacks, To=AGENT_NUMBER, Called=AGENT_NUMBER)
    assert [child.tag for child in root] == ["Start", "Connect"]  # <Start><Recording>, then the agent
    assert root[0].find("Stream") is None
    stream = root[1].find("Stream")
    assert stream is not None
    assert stream.attrib == {"url": STREAM_URL}  # the caller's track only: no track attribute
    params = stream_parameters(stream)
    assert params["mode"] == "agent"
    assert params["callSid"] == SID
    assert params["greeting"] == "Hi there"


def test_outbound_answered_leg_dials_the_stored_party(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services()
    services.store.upsert_call(
        CallUpsert(
            SID, CallParties(direction="outbound-api"), "2026-11-22T09:00:00.000Z", "outbound", "+14155550123"
        )
    )
    root = answer(
        services, callbacks, Direction="outbound-api", CallStatus="in-progress", From=CALLED, To=CALLER
    )
    stream = assert_stream_first(root)
    assert stream_parameters(stream)["route"] == "outbound"
    dial = root[-1]
    assert dial.tag == "Dial"
    assert "record" not in dial.attrib  # the REST call records the whole call already
    assert dial.attrib["callerId"] == CALLED
    number = dial.find("Number")
    assert number is not None
    assert number.text == "+14155550123"
    item = services.store.items[SID]  # type: ignore[attr-defined]
    assert item["connect_to"] == "+14155550123"
    assert item["status"] == "in-progress"


def test_outbound_leg_with_no_stored_party_still_streams_then_hangs_up(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    root = answer(make_services(), callbacks, Direction="outbound-api", CallStatus="in-progress")
    assert_stream_first(root)
    assert [child.tag for child in root] == ["Start", "Say", "Hangup"]


def test_unanswered_forward_falls_back_to_voicemail_without_a_second_stream(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    services = make_services()
    root = answer(services, callbacks, DialCallStatus="no-answer", CallStatus="in-progress")
    assert [child.tag for child in root] == ["Say", "Record"]
    assert SID not in services.store.items  # type: ignore[attr-defined]


def test_answered_forward_hangs_up_after_the_conversation(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    root = answer(make_services(), callbacks, DialCallStatus="completed", CallStatus="in-progress")
    assert [child.tag for child in root] == ["Hangup"]


def test_after_a_voicemail_the_caller_is_thanked(
    make_services: Callable[..., Services], callbacks: CallbackUrls
) -> None:
    root = answer(
        make_services(), callbacks, RecordingUrl="https://api.twilio.com/rec/RE1", CallStatus="in-progress"
    )
    assert [child.tag for child in root] == ["Say", "Hangup"]


def test_notice_is_escaped(make_services: Callable[..., Services], callbacks: CallbackUrls) -> None:
    services = make_services(RECORDING_NOTICE="Calls <may> be recorded & transcribed.")
    root = answer(services, callbacks)
    assert root[1].text == "Calls <may> be recorded & transcribed."
