"""The Twilio REST stand-in serves recordings as Twilio does, for the recordings Lambda to download:
`GET …/Recordings/{RE}.wav` with basic auth, the Recording resource, `DELETE`, and scripted
failures (404, 5xx, a truncated WAV) per recording SID. Checked with httpx and the real `twilio`
client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from callscribe_local.twilio_rest import TwilioRestStandIn
from callscribe_local.wavfile import WavError, read_wav, write_wav
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN

pytestmark = pytest.mark.integration

SID = "RE" + "ab" * 16
CALL = "CA" + "cd" * 16
AUTH = (TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)


@pytest.fixture
def twilio() -> Iterator[TwilioRestStandIn]:
    with TwilioRestStandIn(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as standin:
        yield standin


def media_url(twilio: TwilioRestStandIn, sid: str = SID, ext: str = ".wav") -> str:
    return f"{twilio.base_url}/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Recordings/{sid}{ext}"


@pytest.fixture
def wav() -> bytes:
    return write_wav([b"\x01\x00" * 8000, b"\x02\x00" * 8000], 8000)


def test_the_phone_keeps_a_recording_and_twilio_serves_it(twilio: TwilioRestStandIn, wav: bytes) -> None:
    put = httpx.put(
        media_url(twilio),
        params={
            "CallSid": CALL,
            "Channels": "2",
            "Source": "DialVerb",
            "StartTime": "2026-11-26T10:00:02.370000+00:00",
            "Duration": "1.000",
        },
        content=wav,
        auth=AUTH,
        timeout=5,
    )
    assert put.status_code == 201

    got = httpx.get(media_url(twilio), auth=AUTH, timeout=5)
    assert got.status_code == 200
    assert got.headers["content-type"] == "audio/x-wav"
    assert got.content == wav
    assert httpx.get(media_url(twilio, ext=""), auth=AUTH, timeout=5).content == wav  # no extension: WAV

    client = Client(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)
    client.api.base_url = twilio.base_url
    resource = client.recordings(SID).fetch()
    assert (resource.sid, resource.call_sid, resource.channels, resource.source) == (SID, CALL, 2, "DialVerb")
    assert resource.duration == "1"
    assert resource.start_time is not None
    assert resource.start_time.second == 2  # RFC 2822 in the resource: whole seconds only
    assert client.recordings(SID).delete() is True
    assert httpx.get(media_url(twilio), auth=AUTH, timeout=5).status_code == 404
    assert [r.status for r in twilio.recording_requests(SID)] == [201, 200, 200, 200, 204, 404]


def test_auth_and_unknown_sids(twilio: TwilioRestStandIn, wav: bytes) -> None:
    twilio.add_recording(SID, wav, call_sid=CALL, channels=2)
    assert httpx.get(media_url(twilio), timeout=5).status_code == 401
    wrong = httpx.get(media_url(twilio), auth=(TEST_ACCOUNT_SID, "wrong"), timeout=5)
    assert (wrong.status_code, wrong.json()["code"]) == (401, 20003)
    missing = httpx.get(media_url(twilio, "RE" + "0" * 32), auth=AUTH, timeout=5)
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)
    other_account = media_url(twilio).replace(TEST_ACCOUNT_SID, "AC" + "9" * 32)
    assert httpx.get(other_account, auth=AUTH, timeout=5).status_code in (401, 404)
    client = Client(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)
    client.api.base_url = twilio.base_url
    with pytest.raises(TwilioRestException) as caught:
        client.recordings("RE" + "0" * 32).delete()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_scripted_failures_per_recording(twilio: TwilioRestStandIn, wav: bytes) -> None:
    twilio.add_recording(SID, wav, call_sid=CALL, channels=2)
    other = "RE" + "ef" * 16
    twilio.add_recording(other, wav, call_sid=CALL, channels=2)

    twilio.fail_recording(SID, 503, times=2)
    statuses = [httpx.get(media_url(twilio), auth=AUTH, timeout=5).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert httpx.get(media_url(twilio, other), auth=AUTH, timeout=5).status_code == 200  # only that SID

    twilio.fail_recording(SID, 404)
    assert httpx.get(media_url(twilio), auth=AUTH, timeout=5).status_code == 404
    assert httpx.get(media_url(twilio), auth=AUTH, timeout=5).status_code == 200  # it was there all along

    twilio.truncate_recording(SID)
    cut = httpx.get(media_url(twilio), auth=AUTH, timeout=5)
    assert cut.status_code == 200
    assert len(cut.content) == len(wav) // 2
    with pytest.raises(WavError, match="truncated"):
        read_wav(cut.content)  # the header still declares the whole recording
    assert read_wav(cut.content, strict=False).truncated
    assert httpx.get(media_url(twilio), auth=AUTH, timeout=5).content == wav
