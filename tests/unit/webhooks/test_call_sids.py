"""Call SIDs are `CA` + 32 hex digits wherever the webhooks read one; anything else goes no further.

The voice/status/recording bodies are checked by the request models (tests/integration/
test_webhooks_routes.py); here the two other places a SID comes in: Twilio's answer to POST /calls
(it becomes a key and a log field) and the path of GET /calls/{callSid}.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from functions.webhooks.inputs import VoiceRequest
from functions.webhooks.twilio_calls import OutboundCall, TwilioApiError, TwilioRestCalls
from shared.errors import MalformedRequestError
from tests.support.twilio_forms import voice_params

MALFORMED = ["CA../../../x", "CA" + "a" * 31, "CA" + "a" * 33, "CA" + "g" * 32, "CA" + "a" * 32 + "\n", ""]


class _Calls:
    def __init__(self, sid: str) -> None:
        self.sid = sid

    def create(self, **options: Any) -> SimpleNamespace:
        return SimpleNamespace(sid=self.sid, status="queued")


def _api_answering(sid: str) -> TwilioRestCalls:
    api = TwilioRestCalls(account_sid="AC" + "0" * 32, auth_token="t")
    api._client = SimpleNamespace(calls=_Calls(sid))  # type: ignore[assignment]
    return api


CALL = OutboundCall(
    to="+14155550100",
    from_number="+14155550999",
    twiml_url="https://h/prod/twilio/voice",
    status_callback="https://h/prod/twilio/status",
    recording_status_callback="https://h/prod/twilio/recording",
)


@pytest.mark.parametrize("sid", MALFORMED)
def test_a_malformed_sid_from_twilio_is_a_bad_gateway(sid: str) -> None:
    with pytest.raises(TwilioApiError, match="call SID") as caught:
        _api_answering(sid).create_call(CALL)
    assert caught.value.http_status == 502


def test_a_good_sid_from_twilio_is_returned() -> None:
    assert _api_answering("CA" + "c" * 32).create_call(CALL).sid == "CA" + "c" * 32


@pytest.mark.parametrize("sid", MALFORMED)
def test_voice_request_refuses_malformed_call_sids(sid: str) -> None:
    with pytest.raises(MalformedRequestError, match="CallSid"):
        VoiceRequest.from_form(voice_params(sid))


def test_parent_call_sid_is_a_call_sid_too() -> None:
    child = voice_params("CA" + "d" * 32, direction="outbound-dial", ParentCallSid="CA" + "e" * 32)
    assert VoiceRequest.from_form(child).parent_call_sid == "CA" + "e" * 32
    with pytest.raises(MalformedRequestError, match="ParentCallSid"):
        VoiceRequest.from_form({**child, "ParentCallSid": "CA../../x"})
