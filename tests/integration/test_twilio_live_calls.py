"""The Twilio REST stand-in follows the calls a simulated phone is on: the phone keeps its call there
(a stand-in-only PUT), the agent's REST updates (hang up, new TwiML) reach the phone through a long
poll, and a call that has ended cannot be redirected, as on Twilio. Updates go through the real
`twilio` client, as the streamer sends them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from callscribe_local.call_control import dialled_number
from callscribe_local.twilio_rest import TwilioRestStandIn
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

pytestmark = pytest.mark.integration

CALL = "CA" + "ef" * 16
AUTH = (TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)


@pytest.fixture
def twilio() -> Iterator[TwilioRestStandIn]:
    with TwilioRestStandIn(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as standin:
        yield standin


def _client(twilio: TwilioRestStandIn) -> Client:
    client = Client(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)
    client.api.base_url = twilio.base_url
    return client


def _keep(twilio: TwilioRestStandIn, status: str = "in-progress") -> httpx.Response:
    url = f"{twilio.base_url}/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Calls/{CALL}.json"
    form = {"From": "+14155550123", "To": "+14155550177", "Direction": "inbound", "Status": status}
    return httpx.put(url, data=form, auth=AUTH)


def _updates(twilio: TwilioRestStandIn, after: int, wait: float = 0.0) -> httpx.Response:
    return httpx.get(
        f"{twilio.base_url}/_local/calls/{CALL}/updates",
        params={"after": after, "wait": wait},
        auth=AUTH,
        timeout=wait + 10,
    )


def test_an_update_unknown_until_the_phone_keeps_the_call(twilio: TwilioRestStandIn) -> None:
    with pytest.raises(TwilioRestException) as refused:
        _client(twilio).calls(CALL).update(status="completed")
    assert refused.value.status == 404
    assert _updates(twilio, 0).status_code == 404

    kept = _keep(twilio)
    assert kept.status_code == 200
    assert kept.json()["status"] == "in-progress"
    assert kept.json()["direction"] == "inbound"
    assert _client(twilio).calls(CALL).fetch().status == "in-progress"


def test_the_phone_waits_for_the_agents_hang_up_and_sees_it_at_once(twilio: TwilioRestStandIn) -> None:
    _keep(twilio)
    answers: list[httpx.Response] = []
    poll = threading.Thread(target=lambda: answers.append(_updates(twilio, 0, wait=20)))
    poll.start()
    _client(twilio).calls(CALL).update(status="completed")
    poll.join(timeout=10)
    assert not poll.is_alive()  # answered by the update, not by the 20 s wait
    assert answers[0].json() == {"updates": [{"status": "completed", "twiml": None, "url": None}]}
    assert _client(twilio).calls(CALL).fetch().status == "completed"


def test_a_transfer_is_new_twiml_and_a_call_that_ended_cannot_be_redirected(
    twilio: TwilioRestStandIn,
) -> None:
    _keep(twilio)
    client = _client(twilio)
    client.calls(CALL).update(twiml="<Response><Dial>+14155550199</Dial></Response>")
    (update,) = _updates(twilio, 0).json()["updates"]
    assert update["status"] is None
    assert dialled_number(update["twiml"]) == "+14155550199"
    assert _updates(twilio, 1).json() == {"updates": []}  # nothing after it (no wait asked)

    _keep(twilio, status="completed")  # the caller hung up
    with pytest.raises(TwilioRestException) as refused:
        client.calls(CALL).update(twiml="<Response><Hangup/></Response>")
    assert (refused.value.status, refused.value.code) == (400, 21220)


def test_the_long_poll_needs_the_accounts_credentials(twilio: TwilioRestStandIn) -> None:
    _keep(twilio)
    answer = httpx.get(f"{twilio.base_url}/_local/calls/{CALL}/updates", auth=(TEST_ACCOUNT_SID, "wrong"))
    assert answer.status_code == 401
    assert answer.json()["code"] == 20003
