"""POST /calls through the real `twilio` client against the local Twilio REST stand-in, on moto."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from callscribe_local.twilio_rest import TwilioRestStandIn
from shared.dal.tables import calls_model
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.apigw_events import API_HOST, json_event, twilio_event
from tests.support.log_capture import log_output_fixture  # noqa: F401 - provides `log_output`
from tests.support.twilio_forms import voice_params
from tests.support.webhooks_env import (
    STREAM_URL,
    Webhooks,
    webhooks_fixture,  # noqa: F401 - provides the `webhooks` fixture
)

pytestmark = pytest.mark.integration
PUBLIC = f"https://{API_HOST}/prod"
CUSTOMER = "+14155550100"
AGENT_DESK = "+14155550111"
OUR_NUMBER = "+14155550999"


@pytest.fixture
def twilio(webhooks: Webhooks) -> Iterator[TwilioRestStandIn]:
    with TwilioRestStandIn(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as standin:
        webhooks.configure(TWILIO_API_BASE_URL=standin.base_url, TWILIO_FROM_NUMBER=OUR_NUMBER)
        yield standin


def create(webhooks: Webhooks, payload: object) -> tuple[int, dict[str, object]]:
    result = webhooks.invoke(json_event("POST", "/calls", payload))
    return int(result["statusCode"]), json.loads(str(result["body"]))


@pytest.mark.usefixtures("twilio")
def test_create_call_then_its_answered_leg_dials_connect_to(
    webhooks: Webhooks, twilio: TwilioRestStandIn
) -> None:
    status, body = create(webhooks, {"to": CUSTOMER, "connectTo": AGENT_DESK})
    assert status == 201
    call_sid = str(body["callSid"])
    assert call_sid.startswith("CA")
    assert set(body) == {"callSid"}

    [request] = twilio.created_calls()
    assert request.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Calls.json"
    assert (request.value("To"), request.value("From")) == (CUSTOMER, OUR_NUMBER)
    assert request.value("Url") == f"{PUBLIC}/twilio/voice"
    assert request.value("StatusCallback") == f"{PUBLIC}/twilio/status"
    assert request.values("StatusCallbackEvent") == ["initiated", "ringing", "answered", "completed"]
    assert request.value("Record") == "true"
    assert request.value("RecordingChannels") == "dual"
    assert request.value("RecordingStatusCallback") == f"{PUBLIC}/twilio/recording"

    record = webhooks.record(call_sid)
    assert record is not None
    assert (record.direction, record.status, record.connect_to, record.route) == (
        "outbound-api",
        "queued",
        AGENT_DESK,
        "outbound",
    )
    assert (record.from_number, record.to_number) == (OUR_NUMBER, CUSTOMER)

    answered = voice_params(
        call_sid, caller=OUR_NUMBER, called=CUSTOMER, direction="outbound-api", status="in-progress"
    )
    result = webhooks.invoke(twilio_event("/twilio/voice", answered))
    assert result["statusCode"] == 200
    root = ET.fromstring(str(result["body"]))  # noqa: S314 - our own TwiML
    assert root[0].tag == "Start"
    stream = root[0].find("Stream")
    assert stream is not None
    assert stream.attrib["url"] == STREAM_URL
    number = root.find("Dial/Number")
    assert number is not None
    assert number.text == AGENT_DESK
    record = webhooks.record(call_sid)
    assert record is not None
    assert (record.status, record.connect_to) == ("in-progress", AGENT_DESK)


def test_no_full_phone_number_is_logged(
    webhooks: Webhooks, twilio: TwilioRestStandIn, log_output: io.StringIO
) -> None:
    """The outbound-call log line names both parties, and Twilio's errors quote numbers: the
    Powertools output (what CloudWatch stores) keeps only their last four digits."""
    status, _ = create(webhooks, {"to": CUSTOMER, "connectTo": AGENT_DESK})
    assert status == 201
    twilio.fail_next(400, 21211, f"Invalid 'To' Phone Number: {CUSTOMER}", times=5)
    assert create(webhooks, {"to": CUSTOMER, "connectTo": AGENT_DESK})[0] == 400
    out = log_output.getvalue()
    assert "outbound call created" in out
    assert "Invalid 'To' Phone Number: +***0100" in out
    for number in (CUSTOMER, AGENT_DESK, OUR_NUMBER):
        assert number not in out
    for logged in (CUSTOMER, AGENT_DESK):  # the parties of the outbound-call line
        assert f"+***{logged[-4:]}" in out


@pytest.mark.usefixtures("twilio")
@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"to": "4155550100", "connectTo": AGENT_DESK}, 422),
        ({"to": CUSTOMER}, 422),
        ({"to": CUSTOMER, "connectTo": AGENT_DESK, "from": "me"}, 422),
        ({"to": CUSTOMER, "connectTo": AGENT_DESK, "extra": 1}, 422),
        ([CUSTOMER, AGENT_DESK], 400),
    ],
)
def test_invalid_input_is_refused_before_twilio(
    webhooks: Webhooks, twilio: TwilioRestStandIn, payload: object, status: int
) -> None:
    assert create(webhooks, payload)[0] == status
    assert twilio.requests == []


@pytest.mark.usefixtures("twilio")
def test_undecodable_json_is_400(webhooks: Webhooks, twilio: TwilioRestStandIn) -> None:
    result = webhooks.invoke(json_event("POST", "/calls", raw_body="{not json"))
    assert result["statusCode"] == 400
    assert twilio.requests == []


@pytest.mark.usefixtures("twilio")
@pytest.mark.parametrize("body", ["[" * 100_000, '{"to": ' + "[" * 100_000])
def test_deeply_nested_json_is_400_not_500(webhooks: Webhooks, twilio: TwilioRestStandIn, body: str) -> None:
    """Past its depth limit json raises RecursionError, which is not a ValueError: it must still be 400."""
    result = webhooks.invoke(json_event("POST", "/calls", raw_body=body))
    assert result["statusCode"] == 400
    assert json.loads(str(result["body"])) == {"message": "body must be a JSON object"}
    assert twilio.requests == []


def calls_stored(webhooks: Webhooks) -> int:
    model = calls_model(webhooks.stack.names.calls_table)
    return sum(1 for _ in model.scan(attributes_to_get=["call_sid"]))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "+441909123456", "connectTo": AGENT_DESK}, "to"),  # a UK premium-rate number
        ({"to": CUSTOMER, "connectTo": "+88213000001"}, "connectTo"),  # international networks
    ],
)
def test_a_destination_outside_the_allowed_prefixes_is_403_and_nothing_is_called_or_written(
    webhooks: Webhooks, twilio: TwilioRestStandIn, payload: dict[str, str], field: str
) -> None:
    before = calls_stored(webhooks)
    status, body = create(webhooks, payload)
    assert status == 403
    assert body == {
        "message": f'"{field}" is not a destination this deployment dials (allowed prefixes: +1; '
        "OUTBOUND_ALLOWED_PREFIXES sets them)"
    }
    assert twilio.requests == []
    assert calls_stored(webhooks) == before


def test_allowed_prefixes_can_be_set(webhooks: Webhooks, twilio: TwilioRestStandIn) -> None:
    webhooks.configure(OUTBOUND_ALLOWED_PREFIXES="+1415, +4420")
    assert create(webhooks, {"to": "+442071838750", "connectTo": AGENT_DESK})[0] == 201
    assert create(webhooks, {"to": "+12125550100", "connectTo": AGENT_DESK})[0] == 403  # +1 212: not listed
    assert len(twilio.created_calls()) == 1


def test_missing_from_is_400(webhooks: Webhooks, twilio: TwilioRestStandIn) -> None:
    webhooks.configure(TWILIO_FROM_NUMBER=None)
    status, body = create(webhooks, {"to": CUSTOMER, "connectTo": AGENT_DESK})
    assert status == 400
    assert "from" in str(body["message"])
    assert twilio.requests == []


@pytest.mark.parametrize(
    ("twilio_status", "code", "message", "expected"),
    [
        (400, 21211, "Invalid 'To' Phone Number: +15005550001", 400),
        (400, 21215, "Geo Permission configuration is not permitting call", 400),
        (401, 20003, "Authenticate", 502),
        (429, 20429, "Too Many Requests", 503),
        (500, 20500, "Internal Server Error", 502),
        (503, 20503, "Service Unavailable", 502),
    ],
)
def test_twilio_errors_are_mapped(
    webhooks: Webhooks, twilio: TwilioRestStandIn, twilio_status: int, code: int, message: str, expected: int
) -> None:
    twilio.fail_next(twilio_status, code, message, times=5)  # covers the client's own retries, if any
    status, body = create(webhooks, {"to": CUSTOMER, "connectTo": AGENT_DESK})
    assert status == expected
    assert str(code) in str(body["message"])
    if expected == 400:
        assert message in str(body["message"])


def test_unreachable_twilio_is_503(webhooks: Webhooks, twilio: TwilioRestStandIn) -> None:
    webhooks.configure(TWILIO_API_BASE_URL="http://127.0.0.1:9")  # discard port: nothing listens
    status, _ = create(webhooks, {"to": CUSTOMER, "connectTo": AGENT_DESK})
    assert status == 503


def test_wrong_credentials_are_502(webhooks: Webhooks, twilio: TwilioRestStandIn) -> None:
    webhooks.configure(TWILIO_AUTH_TOKEN="stale-token")
    status, body = create(webhooks, {"to": CUSTOMER, "connectTo": AGENT_DESK})
    assert status == 502
    assert "20003" in str(body["message"])


def test_standin_updates_and_fetches_calls_with_the_real_client(twilio: TwilioRestStandIn) -> None:
    """What the agent mode will do later: end or redirect a live call through the REST API."""
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    client = Client(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)
    client.api.base_url = twilio.base_url
    call = client.calls.create(to=CUSTOMER, from_=OUR_NUMBER, url=f"{PUBLIC}/twilio/voice")
    assert call.status == "queued"
    assert call.direction == "outbound-api"
    redirected = client.calls(call.sid).update(twiml="<Response><Dial>+14155550111</Dial></Response>")
    assert redirected.status == "queued"
    assert client.calls(call.sid).update(status="completed").status == "completed"
    assert client.calls(call.sid).fetch().status == "completed"
    update = twilio.requests[-2]
    assert update.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Calls/{call.sid}.json"
    assert update.value("Status") == "completed"
    with pytest.raises(TwilioRestException) as caught:
        client.calls("CA" + "0" * 32).update(status="completed")
    assert (caught.value.status, caught.value.code) == (404, 20404)
