"""The HTTP adapters' decisions without a network: scripted urllib3 responses stand in for the
wire (tests/integration/test_recordings_handler.py speaks to real local servers). What is asked
(URL, auth, body), what is retried (connection errors, 408/429/5xx) and what is final at once (4xx)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import urllib3
from urllib3.exceptions import NewConnectionError, ProtocolError

from functions.recordings.adapters import DeepgramBatch, RetryPolicy, TwilioMedia
from functions.recordings.errors import (
    RecordingNotFoundError,
    RecordingRejectedError,
    RecordingTooLargeError,
    RecordingUnavailableError,
    TranscriptionRejectedError,
)
from functions.recordings.words import Word
from shared.deepgram import DeepgramOptions
from tests.support.recording_media import prerecorded_response, wav_bytes

ACCOUNT = "AC" + "0" * 32
RE = "RE" + "3" * 32
WAV = wav_bytes(0.5)


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(
        body=io.BytesIO(body), status=status, headers=headers or {}, preload_content=False
    )


Answer = urllib3.HTTPResponse | Exception


@dataclass
class FakeHttp:
    """A PoolManager whose answers are scripted; it records each request (and reads its body)."""

    answers: list[Answer]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.HTTPResponse:
        body = kwargs.get("body")
        self.requests.append({"method": method, "url": url, **kwargs, "body": body.read() if body else None})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if kwargs.get("preload_content"):
            answer.read(cache_content=True)
        return answer


@dataclass
class Sleeps:
    seconds: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def twilio(http: FakeHttp, sleeps: Sleeps) -> TwilioMedia:
    return TwilioMedia(
        http=http,  # type: ignore[arg-type]
        base_url="http://twilio.test/",
        account_sid=ACCOUNT,
        auth_token="secret",
        timeout_seconds=5,
        retry=RetryPolicy(attempts=3, backoff_seconds=0.5, sleep=sleeps),
    )


def test_the_wav_is_fetched_with_basic_auth_from_the_contracts_url() -> None:
    http, sleeps = FakeHttp([response(200, WAV, {"Content-Length": str(len(WAV))})]), Sleeps()
    sink = io.BytesIO(b"left over from an earlier attempt")
    assert twilio(http, sleeps).download(RE, sink, max_bytes=10**6) == len(WAV)
    assert sink.getvalue() == WAV
    [request] = http.requests
    assert (request["method"], request["url"]) == (
        "GET",
        f"http://twilio.test/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RE}.wav",
    )
    credentials = base64.b64encode(f"{ACCOUNT}:secret".encode()).decode()
    assert request["headers"]["Authorization"] == f"Basic {credentials}"


def test_a_missing_recording_is_final_at_once() -> None:
    body = json.dumps({"code": 20404, "message": "The requested resource was not found", "status": 404})
    http, sleeps = FakeHttp([response(404, body.encode())]), Sleeps()
    with pytest.raises(RecordingNotFoundError, match="20404"):
        twilio(http, sleeps).download(RE, io.BytesIO(), max_bytes=10**6)
    assert len(http.requests) == 1
    assert sleeps.seconds == []


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_final(status: int) -> None:
    http, sleeps = FakeHttp([response(status, b"{}")]), Sleeps()
    with pytest.raises(RecordingRejectedError) as raised:
        twilio(http, sleeps).download(RE, io.BytesIO(), max_bytes=10**6)
    assert raised.value.reason == "twilio-refused"
    assert len(http.requests) == 1


def test_5xx_and_connection_errors_are_retried_with_backoff() -> None:
    refused = NewConnectionError(None, "connection refused")  # type: ignore[arg-type]
    http = FakeHttp([response(503), refused, response(200, WAV)])
    sleeps = Sleeps()
    sink = io.BytesIO()
    assert twilio(http, sleeps).download(RE, sink, max_bytes=10**6) == len(WAV)
    assert sink.getvalue() == WAV
    assert len(http.requests) == 3
    assert len(sleeps.seconds) == 2
    assert all(0 <= s <= 0.5 * 2**n for n, s in enumerate(sleeps.seconds, start=1))  # full jitter


def test_a_body_that_breaks_off_is_retried_from_the_start() -> None:
    class Broken(io.BytesIO):
        def read(self, *args: Any) -> bytes:
            raise ProtocolError("Connection broken: IncompleteRead")

    broken = urllib3.HTTPResponse(body=Broken(b"x"), status=200, preload_content=False)
    http, sleeps = FakeHttp([broken, response(200, WAV)]), Sleeps()
    sink = io.BytesIO()
    twilio(http, sleeps).download(RE, sink, max_bytes=10**6)
    assert sink.getvalue() == WAV


def test_persistent_5xx_gives_up_as_unavailable() -> None:
    http, sleeps = FakeHttp([response(500), response(502), response(503)]), Sleeps()
    with pytest.raises(RecordingUnavailableError) as raised:
        twilio(http, sleeps).download(RE, io.BytesIO(), max_bytes=10**6)
    assert raised.value.reason == "twilio-unavailable"
    assert raised.value.retryable
    assert len(http.requests) == 3


def test_the_size_cap_holds_with_and_without_a_content_length() -> None:
    http, sleeps = FakeHttp([response(200, WAV, {"Content-Length": str(len(WAV))})]), Sleeps()
    with pytest.raises(RecordingTooLargeError):
        twilio(http, sleeps).download(RE, io.BytesIO(), max_bytes=1000)
    http = FakeHttp([response(200, WAV)])  # chunked: counted while streaming
    sink = io.BytesIO()
    with pytest.raises(RecordingTooLargeError):
        twilio(http, sleeps).download(RE, sink, max_bytes=1000)
    assert len(sink.getvalue()) <= 1000 + 256 * 1024
    assert len(http.requests) == 1  # too large is not retried


def test_delete_uses_the_json_resource_and_a_missing_copy_is_fine() -> None:
    http, sleeps = FakeHttp([response(204), response(404)]), Sleeps()
    media = twilio(http, sleeps)
    assert media.delete(RE) is True
    assert media.delete(RE) is False
    assert [(r["method"], r["url"].rsplit("/", 1)[1]) for r in http.requests] == [
        ("DELETE", f"{RE}.json"),
        ("DELETE", f"{RE}.json"),
    ]


def deepgram(http: FakeHttp, sleeps: Sleeps) -> DeepgramBatch:
    return DeepgramBatch(
        http=http,  # type: ignore[arg-type]
        connect_timeout_seconds=5,
        retry=RetryPolicy(attempts=3, backoff_seconds=0.5, sleep=sleeps),
    )


OPTIONS = DeepgramOptions.model_validate(
    {"api_key": "dg-key", "url": "wss://api.deepgram.test", "model": "nova-2", "redact": "pci"}
)
ANSWER = prerecorded_response([Word("inbound", 0.1, 0.3, "Hello.", 0.9)])


def transcribe(batch: DeepgramBatch, timeout: Callable[[], float] = lambda: 42.0) -> Any:
    return batch.transcribe(io.BytesIO(WAV), len(WAV), OPTIONS, timeout)


def test_the_recording_is_posted_with_the_live_options_and_multichannel() -> None:
    http, sleeps = FakeHttp([response(200, json.dumps(ANSWER).encode())]), Sleeps()
    transcript = transcribe(deepgram(http, sleeps))
    assert [w.text for w in transcript.words["inbound"]] == ["Hello."]
    [request] = http.requests
    url = urlsplit(request["url"])
    assert (request["method"], url.scheme, url.netloc, url.path) == (
        "POST",
        "https",
        "api.deepgram.test",
        "/v1/listen",
    )
    query = parse_qsl(url.query)
    assert ("multichannel", "true") in query
    for pair in OPTIONS.transcription_params():  # the streamer's own options, one owner
        assert pair in query
    assert request["headers"]["Authorization"] == "Token dg-key"
    assert request["headers"]["Content-Type"] == "audio/wav"
    assert request["headers"]["Content-Length"] == str(len(WAV))
    assert request["body"] == WAV
    assert request["timeout"].read_timeout == 42.0


def test_a_deepgram_400_is_final_at_once() -> None:
    error = {
        "err_code": "Bad Request",
        "err_msg": "Bad Request: failed to process audio",
        "request_id": "r-1",
    }
    http, sleeps = FakeHttp([response(400, json.dumps(error).encode())]), Sleeps()
    with pytest.raises(TranscriptionRejectedError, match="failed to process audio"):
        transcribe(deepgram(http, sleeps))
    assert len(http.requests) == 1
    assert sleeps.seconds == []


def test_a_deepgram_500_is_retried_then_raised() -> None:
    http, sleeps = FakeHttp([response(500), response(503), response(500)]), Sleeps()
    with pytest.raises(RecordingUnavailableError) as raised:
        transcribe(deepgram(http, sleeps))
    assert raised.value.reason == "deepgram-unavailable"
    assert len(http.requests) == 3
    assert [r["body"] for r in http.requests] == [WAV] * 3  # the whole file every time


def test_a_deepgram_429_then_success() -> None:
    http, sleeps = FakeHttp([response(429), response(200, json.dumps(ANSWER).encode())]), Sleeps()
    assert transcribe(deepgram(http, sleeps)).channels == 2
    assert len(sleeps.seconds) == 1


def test_each_attempt_asks_for_its_timeout() -> None:
    asked: list[int] = []

    def timeout() -> float:
        asked.append(1)
        return 10.0

    http, sleeps = FakeHttp([response(502), response(200, json.dumps(ANSWER).encode())]), Sleeps()
    transcribe(deepgram(http, sleeps), timeout)
    assert len(asked) == 2
