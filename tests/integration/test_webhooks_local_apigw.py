"""The webhooks handler behind `LocalApiGateway`: real HTTP requests, signed as Twilio signs them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from callscribe_local.apigw import LocalApiGateway
from tests.support.apigw_events import sign
from tests.support.twilio_forms import status_params, voice_params
from tests.support.webhooks_env import (
    Webhooks,
    webhooks_fixture,  # noqa: F401 - provides the `webhooks` fixture
)

pytestmark = pytest.mark.integration
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def gateway(webhooks: Webhooks) -> Iterator[LocalApiGateway]:
    with LocalApiGateway(webhooks) as gw:
        yield gw


def post_signed(url: str, params: dict[str, str], signature: str | None = None) -> httpx.Response:
    headers = {**FORM, "X-Twilio-Signature": signature if signature is not None else sign(url, params)}
    return httpx.post(url, content=urlencode(params), headers=headers)


def test_signed_voice_webhook_over_http(gateway: LocalApiGateway, webhooks: Webhooks, call_sid: str) -> None:
    assert gateway.url.startswith("http://127.0.0.1:")
    assert gateway.url.endswith("/local")
    response = post_signed(f"{gateway.url}/twilio/voice", voice_params(call_sid))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.text)  # noqa: S314 - our own TwiML
    dial = root.find("Dial")
    assert dial is not None
    assert dial.attrib["action"] == f"{gateway.url}/twilio/voice"  # derived: Host + stage
    number = dial.find("Number")
    assert number is not None
    assert number.attrib["statusCallback"] == f"{gateway.url}/twilio/status"
    record = webhooks.record(call_sid)
    assert record is not None
    assert record.status == "ringing"


def test_status_then_get_call_over_http(gateway: LocalApiGateway, call_sid: str) -> None:
    response = post_signed(
        f"{gateway.url}/twilio/status", status_params(call_sid, "completed", 3, duration=9)
    )
    assert response.status_code == 204
    assert response.content == b""
    view = httpx.get(f"{gateway.url}/calls/{call_sid}")
    assert view.status_code == 200
    assert view.headers["content-type"] == "application/json"
    body = view.json()
    assert (body["callSid"], body["status"], body["durationSeconds"]) == (call_sid, "completed", 9)


def test_forged_and_unknown_requests_over_http(
    gateway: LocalApiGateway, webhooks: Webhooks, call_sid: str
) -> None:
    forged = post_signed(f"{gateway.url}/twilio/voice", voice_params(call_sid), signature="bm9wZQ==")
    assert forged.status_code == 403
    assert forged.json() == {"message": "invalid Twilio signature"}
    assert webhooks.record(call_sid) is None
    assert httpx.get(f"{gateway.url}/calls/{call_sid}").status_code == 404
    assert httpx.get(f"{gateway.url}/nothing/here").status_code == 404
    outside_stage = httpx.get(gateway.url.rsplit("/", 1)[0] + "/prod/calls")
    assert outside_stage.status_code == 403  # API Gateway's answer outside a deployed stage


def test_webhook_base_url_set_to_the_gateway_url(
    gateway: LocalApiGateway, webhooks: Webhooks, call_sid: str
) -> None:
    webhooks.configure(WEBHOOK_BASE_URL=gateway.url)  # how the demo runs it
    response = post_signed(f"{gateway.url}/twilio/voice", voice_params(call_sid))
    assert response.status_code == 200
    assert f'action="{gateway.url}/twilio/voice"' in response.text


def test_calls_api_json_over_http(gateway: LocalApiGateway) -> None:
    response = httpx.post(f"{gateway.url}/calls", json={"to": "nope", "connectTo": "+14155550111"})
    assert response.status_code == 422
    assert "to" in json.loads(response.text)["message"]


@pytest.mark.parametrize("header", ["X-Forwarded-Host", "Host"])
def test_signature_over_another_host_is_403_and_writes_nothing(
    gateway: LocalApiGateway,
    webhooks: Webhooks,
    call_sid: str,
    header: str,
) -> None:
    """A request Twilio signed for some other host, replayed at us naming that host, gets nowhere."""
    webhooks.configure(WEBHOOK_BASE_URL=gateway.url)
    params = voice_params(call_sid)
    # The URL the request's headers would rebuild: the gateway adds X-Forwarded-Proto/Port itself.
    forged_url = f"http://evil.example:{gateway.port}/local/twilio/voice"
    headers = {**FORM, "X-Twilio-Signature": sign(forged_url, params), header: "evil.example"}
    response = httpx.post(f"{gateway.url}/twilio/voice", content=urlencode(params), headers=headers)
    assert response.status_code == 403
    assert response.json() == {"message": "invalid Twilio signature"}
    assert webhooks.record(call_sid) is None
