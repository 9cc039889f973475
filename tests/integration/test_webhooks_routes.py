"""Every webhooks route through the real handler, with signed API Gateway events, against moto.

Checks what the handler answers, what lands in the calls table and what lands on the bus.
"""

from __future__ import annotations

import base64
import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from callscribe_local.aws_local import BusTap
from shared.dal.keys import segment_key
from shared.dal.tables import segments_model
from tests.conftest import TEST_ACCOUNT_SID
from tests.support.apigw_events import API_HOST, json_event, twilio_event
from tests.support.twilio_forms import (
    CALLER,
    real_status_callback,
    recording_params,
    status_params,
    voice_params,
)
from tests.support.webhooks_env import (
    FORWARD_TO,
    STREAM_URL,
    Webhooks,
    webhooks_fixture,  # noqa: F401 - provides the `webhooks` fixture
)

pytestmark = pytest.mark.integration
PUBLIC = f"https://{API_HOST}/prod"


def content_type(result: dict[str, object]) -> str:
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    assert isinstance(single, dict)
    assert isinstance(multi, dict)
    return str(single.get("Content-Type") or multi["Content-Type"][-1])


def twiml(result: dict[str, object]) -> ET.Element:
    assert result["statusCode"] == 200
    assert content_type(result).startswith("text/xml")
    return ET.fromstring(str(result["body"]))  # noqa: S314 - our own TwiML


def message(result: dict[str, object]) -> str:
    assert content_type(result) == "application/json"
    body = json.loads(str(result["body"]))
    assert set(body) == {"message"}
    return str(body["message"])


def test_voice_forward_writes_the_cdr_and_answers_twiml(webhooks: Webhooks, call_sid: str) -> None:
    root = twiml(webhooks.invoke(twilio_event("/twilio/voice", voice_params(call_sid))))
    start = root[0]
    assert start.tag == "Start"
    stream = start.find("Stream")
    assert stream is not None
    assert stream.attrib == {"url": STREAM_URL, "track": "both_tracks"}
    dial = root.find("Dial")
    assert dial is not None
    assert dial.attrib["recordingStatusCallback"] == f"{PUBLIC}/twilio/recording"
    number = dial.find("Number")
    assert number is not None
    assert number.text == FORWARD_TO
    assert number.attrib["statusCallback"] == f"{PUBLIC}/twilio/status"

    record = webhooks.record(call_sid)
    assert record is not None
    assert (record.status, record.status_rank, record.direction) == ("ringing", 2, "inbound")
    assert (record.from_number, record.from_city) == (CALLER, "OAKLAND")
    assert record.to_zip is None  # Twilio's blank ToZip= is not stored
    assert (record.route, record.connect_to) == ("forward", FORWARD_TO)
    assert record.started_at is not None
    assert record.call_date == record.started_at[:10]


def test_callback_urls_use_webhook_base_url_when_set(webhooks: Webhooks, call_sid: str) -> None:
    webhooks.configure(WEBHOOK_BASE_URL="https://voice.example.com")
    event = twilio_event(
        "/twilio/voice",
        voice_params(call_sid),
        host="voice.example.com",
        signed_url="https://voice.example.com/twilio/voice",
    )
    dial = twiml(webhooks.invoke(event)).find("Dial")
    assert dial is not None
    assert dial.attrib["action"] == "https://voice.example.com/twilio/voice"


def test_callback_urls_ignore_x_forwarded_host(webhooks: Webhooks, call_sid: str) -> None:
    """X-Forwarded-Host is the client's word: Twilio's callbacks (signed with our token) must not
    be sent wherever it says."""
    event = twilio_event(
        "/twilio/voice", voice_params(call_sid), extra_headers={"X-Forwarded-Host": "evil.example"}
    )
    root = twiml(webhooks.invoke(event))
    dial = root.find("Dial")
    assert dial is not None
    assert dial.attrib["action"] == f"{PUBLIC}/twilio/voice"
    assert "evil.example" not in ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/status", "/twilio/recording"])
def test_bad_signature_is_403_and_writes_nothing(webhooks: Webhooks, call_sid: str, path: str) -> None:
    params = {**status_params(call_sid, "completed", 3, duration=5), **recording_params(call_sid)}
    for event in (
        twilio_event(path, params, auth_token="not-the-token"),
        twilio_event(path, params, signature=""),
        twilio_event(path, params, signed_url=f"{PUBLIC}/twilio/other"),
    ):
        result = webhooks.invoke(event)
        assert result["statusCode"] == 403
        assert message(result) == "invalid Twilio signature"
    assert webhooks.record(call_sid) is None


FOREIGN_ACCOUNT = "AC" + "9" * 32


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/status", "/twilio/recording"])
def test_another_accounts_callback_is_403_and_writes_nothing(
    webhooks: Webhooks, call_sid: str, bus_tap: BusTap, path: str
) -> None:
    """Correctly signed, but about a call of another Twilio account: not ours to record."""
    params = {
        **status_params(call_sid, "completed", 3, duration=5),
        **recording_params(call_sid),
        "AccountSid": FOREIGN_ACCOUNT,
    }
    result = webhooks.invoke(twilio_event(path, params))
    assert result["statusCode"] == 403
    assert message(result) == "request is for another Twilio account"
    assert webhooks.record(call_sid) is None
    assert bus_tap.events_for(call_sid, wait_seconds=0.5) == []


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/status", "/twilio/recording"])
def test_callback_without_account_sid_is_400_and_writes_nothing(
    webhooks: Webhooks, call_sid: str, path: str
) -> None:
    params = {**status_params(call_sid, "completed", 3, duration=5), **recording_params(call_sid)}
    del params["AccountSid"]
    result = webhooks.invoke(twilio_event(path, params))
    assert result["statusCode"] == 400
    assert "AccountSid" in message(result)
    assert webhooks.record(call_sid) is None


@pytest.mark.parametrize(
    "bad_sid", ["CA../../../x", "CA" + "a" * 31, "CA" + "a" * 33, "ca" + "a" * 32, "CA" + "g" * 32]
)
def test_malformed_call_sid_is_400_and_writes_nothing(webhooks: Webhooks, bad_sid: str) -> None:
    for path in ("/twilio/voice", "/twilio/status", "/twilio/recording"):
        params = {**status_params(bad_sid, "ringing", 1), **recording_params(bad_sid)}
        assert webhooks.invoke(twilio_event(path, params))["statusCode"] == 400
    assert webhooks.record(bad_sid) is None


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/twilio/voice", {"From": CALLER, "CallStatus": "ringing"}),  # no CallSid
        ("/twilio/status", {"CallSid": "CA" + "0" * 32, "CallStatus": "exploded"}),
        ("/twilio/recording", {"CallSid": "CA" + "0" * 32, "RecordingSid": "RE" + "0" * 32}),
    ],
)
def test_malformed_signed_bodies_are_400(webhooks: Webhooks, path: str, params: dict[str, str]) -> None:
    result = webhooks.invoke(twilio_event(path, params))
    assert result["statusCode"] == 400
    assert "Traceback" not in str(result["body"])
    assert webhooks.record("CA" + "0" * 32) is None


def test_undecodable_body_is_400(webhooks: Webhooks, call_sid: str) -> None:
    event = twilio_event("/twilio/status", status_params(call_sid, "ringing", 1))
    event["body"] = "%%% not base64 %%%"
    assert webhooks.invoke(event)["statusCode"] == 400
    event["body"] = base64.b64encode(b"CallSid=\xff\xfe").decode()
    assert webhooks.invoke(event)["statusCode"] == 400
    assert webhooks.record(call_sid) is None


def test_unsigned_request_is_403_whatever_its_body(webhooks: Webhooks, call_sid: str) -> None:
    event = twilio_event("/twilio/status", status_params(call_sid, "ringing", 1), signature="")
    event["body"] = "%%% not base64 %%%"
    assert webhooks.invoke(event)["statusCode"] == 403
    assert webhooks.record(call_sid) is None


def test_unknown_route_is_404(webhooks: Webhooks) -> None:
    assert webhooks.invoke(json_event("GET", "/nope"))["statusCode"] == 404
    assert webhooks.invoke(json_event("DELETE", "/calls"))["statusCode"] == 404


def test_status_sequence_and_one_call_completed_event(
    webhooks: Webhooks, call_sid: str, bus_tap: BusTap
) -> None:
    webhooks.invoke(twilio_event("/twilio/voice", voice_params(call_sid)))
    for sequence, status in enumerate(["initiated", "ringing", "in-progress"]):
        result = webhooks.invoke(twilio_event("/twilio/status", status_params(call_sid, status, sequence)))
        assert result["statusCode"] == 204
        assert not result["body"]
    done = status_params(call_sid, "completed", 3, duration=49, AnsweredBy="human", SipResponseCode="200")
    for _ in range(3):  # Twilio's retries
        assert webhooks.invoke(twilio_event("/twilio/status", done))["statusCode"] == 204
    record = webhooks.record(call_sid)
    assert record is not None
    assert (record.status, record.duration_seconds, record.answered_by) == ("completed", 49, "human")
    assert record.ended_at == "2026-11-22T09:30:03.000Z"
    assert record.answered_at == "2026-11-22T09:30:02.000Z"
    events = bus_tap.events_for(call_sid, wait_seconds=5)
    assert [e["detail-type"] for e in events] == ["Call Completed"]
    assert events[0]["source"] == "callscribe"
    assert events[0]["detail"] == {"callSid": call_sid, "status": "completed", "durationSeconds": 49}


def test_real_status_callback_creates_an_unseen_call(webhooks: Webhooks, bus_tap: BusTap) -> None:
    pairs = real_status_callback()
    call_sid = "CA" + uuid.uuid4().hex  # the real body, under a SID and the account of our own
    ours = {"CallSid": call_sid, "AccountSid": TEST_ACCOUNT_SID}
    pairs = [(k, ours.get(k, v)) for k, v in pairs]
    assert webhooks.invoke(twilio_event("/twilio/status", pairs))["statusCode"] == 204
    record = webhooks.record(call_sid)
    assert record is not None
    assert (record.status, record.direction, record.to_city) == ("completed", "outbound-api", "São Paulo")
    assert record.to_zip is None
    assert record.ended_at == "2018-03-25T09:53:19.000Z"
    assert record.duration_seconds == 49
    assert [e["detail"]["status"] for e in bus_tap.events_for(call_sid, wait_seconds=5)] == ["completed"]


def test_recording_callbacks_are_idempotent(webhooks: Webhooks, call_sid: str) -> None:
    completed = twilio_event("/twilio/recording", recording_params(call_sid, "completed"))
    late = twilio_event("/twilio/recording", recording_params(call_sid, "in-progress"))
    for event in (completed, late, completed):
        assert webhooks.invoke(event)["statusCode"] == 204
    record = webhooks.record(call_sid)
    assert record is not None
    assert record.recording is not None
    assert (record.recording.status, record.recording.duration_seconds, record.recording.channels) == (
        "completed",
        37,
        2,
    )
    assert record.recording.sid.startswith("RE")


def test_get_call_view(webhooks: Webhooks, call_sid: str) -> None:
    webhooks.invoke(twilio_event("/twilio/voice", voice_params(call_sid)))
    webhooks.invoke(twilio_event("/twilio/status", status_params(call_sid, "completed", 3, duration=12)))
    webhooks.invoke(twilio_event("/twilio/recording", recording_params(call_sid)))
    segments = segments_model(webhooks.stack.names.transcripts_table)
    for start, track, speaker, text in [
        (3.5, "outbound", "callee", "Hello, this is support."),
        (0.25, "inbound", "caller", "Hi, I need to move my delivery."),
        (3.5, "inbound", "caller", "Tomorrow?"),
    ]:
        segments(
            call_sid,
            segment_key(start, track),
            track=track,
            speaker=speaker,
            text=text,
            start=start,
            end=start + 1.1,
        ).save()
    record = webhooks.record(call_sid)
    assert record is not None
    record.update(
        actions=[
            type(record).summary.set({"headline": "Reschedule delivery", "actionItems": ["call back"]}),
            type(record).transcript_status.set("completed"),
        ]
    )

    result = webhooks.invoke(json_event("GET", f"/calls/{call_sid}"))
    assert result["statusCode"] == 200
    view = json.loads(str(result["body"]))
    assert view["callSid"] == call_sid
    assert (view["status"], view["direction"], view["from"], view["durationSeconds"]) == (
        "completed",
        "inbound",
        CALLER,
        12,
    )
    assert view["startedAt"]
    assert view["endedAt"]
    assert view["recording"]["sid"].startswith("RE")
    assert view["recording"]["durationSeconds"] == 37
    assert view["transcriptStatus"] == "completed"
    assert [(s["start"], s["track"]) for s in view["transcript"]] == [
        (0.25, "inbound"),
        (3.5, "inbound"),
        (3.5, "outbound"),
    ]
    assert view["transcript"][0] == {
        "track": "inbound",
        "speaker": "caller",
        "text": "Hi, I need to move my delivery.",
        "start": 0.25,
        "end": 1.35,
        "source": "live",
        "segmentId": "0000000250#inbound",
    }
    # not reconciled yet: the recordings tier's fields are null, every segment is live
    assert (view["transcriptSource"], view["liveCoverage"], view["gaps"]) == (None, None, None)
    assert view["summary"] == {"headline": "Reschedule delivery", "actionItems": ["call back"]}


def test_get_unknown_call_is_404(webhooks: Webhooks, call_sid: str) -> None:
    result = webhooks.invoke(json_event("GET", f"/calls/{call_sid}"))
    assert result["statusCode"] == 404
    assert message(result) == "call not found"


@pytest.mark.parametrize("bad_sid", ["CA..%2F..%2F..%2Fx", "CA" + "g" * 32, "CA" + "a" * 31, "nope"])
def test_get_call_with_a_malformed_sid_is_400(webhooks: Webhooks, bad_sid: str) -> None:
    result = webhooks.invoke(json_event("GET", f"/calls/{bad_sid}"))
    assert result["statusCode"] == 400
    assert "callSid" in message(result)


def test_missing_configuration_is_500_without_details(webhooks: Webhooks, call_sid: str) -> None:
    webhooks.configure(STREAM_URL=None)
    result = webhooks.invoke(twilio_event("/twilio/voice", voice_params(call_sid)))
    assert result["statusCode"] == 500
    assert message(result) == "service misconfigured"
    assert webhooks.record(call_sid) is None
