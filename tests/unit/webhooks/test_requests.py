"""Typed Twilio requests: malformed bodies are refused with a reason, blanks read as absent."""

from __future__ import annotations

import pytest

from functions.webhooks.inputs import CreateCallRequest, RecordingCallback, StatusCallback, VoiceRequest
from shared.errors import MalformedRequestError
from shared.status import CallStatus
from tests.support.twilio_forms import real_status_callback, recording_params, status_params, voice_params

SID = "CA" + "3" * 32


def test_real_status_callback_parses() -> None:
    callback = StatusCallback.from_form(dict(real_status_callback()))
    assert callback.call_status is CallStatus.COMPLETED
    assert callback.call_duration == 49
    assert callback.answered_by == "human"
    assert callback.to_zip is None
    assert callback.to_city == "São Paulo"
    assert callback.sequence_number == 3
    assert callback.event_time() == "2018-03-25T09:53:19.000Z"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"CallSid": None}, "CallSid"),
        ({"CallSid": "not-a-sid"}, "CallSid"),
        ({"CallStatus": "exploded"}, "CallStatus"),
        ({"CallStatus": None}, "CallStatus"),
        ({"CallDuration": "forty"}, "CallDuration"),
    ],
)
def test_malformed_status_callbacks(change: dict[str, str | None], needle: str) -> None:
    params = status_params(SID, "completed", 3, duration=10)
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    with pytest.raises(MalformedRequestError) as caught:
        StatusCallback.from_form(params)
    assert needle in str(caught.value)


def test_every_twilio_status_is_accepted() -> None:
    for status in CallStatus:
        assert VoiceRequest.from_form(voice_params(SID, status=status.value)).call_status is status


def test_unparseable_timestamp_falls_back_to_now() -> None:
    request = VoiceRequest.from_form(voice_params(SID, Timestamp="yesterday"))
    assert request.event_time().endswith("Z")


def test_recording_callback() -> None:
    callback = RecordingCallback.from_form(recording_params(SID))
    assert callback.recording_duration == 37
    assert callback.recording_channels == 2
    assert callback.error_code is None  # Twilio's ErrorCode=0 means no error
    with pytest.raises(MalformedRequestError):
        RecordingCallback.from_form({**recording_params(SID), "RecordingStatus": "lost"})
    with pytest.raises(MalformedRequestError):
        RecordingCallback.from_form({**recording_params(SID), "RecordingSid": ""})


def test_create_call_request_validates_e164() -> None:
    request = CreateCallRequest.model_validate({"to": "+14155550100", "connectTo": "+14155550111"})
    assert request.from_number is None
    for bad in (
        {"to": "4155550100", "connectTo": "+14155550111"},
        {"to": "+14155550100"},
        {"to": "+1", "connectTo": "x"},
    ):
        with pytest.raises(ValueError, match="validation error"):
            CreateCallRequest.model_validate(bad)
