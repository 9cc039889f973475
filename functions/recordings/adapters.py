"""The real adapters of the recordings tier's ports: Twilio's media and Deepgram over urllib3, and S3.

HTTP is spoken with urllib3, which botocore already brings into every Lambda bundle: no second HTTP
stack, no SDK to import (docs/recordings.md, "The HTTP client"). Each adapter takes its client as an
argument (one `urllib3.PoolManager`, one botocore S3 client per process) and retries only what a
retry can fix: connection errors, timeouts, 408/429 and 5xx, with the product's retry policy
(`shared.backoff`: tenacity, full-jitter backoff). A 4xx is final at once, so a bad key or a bad
file never turns into a retry storm. Errors leave as `functions.recordings.errors` types, so the
handler can say which dependency failed and whether retrying the event can help.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlencode

import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.util import Retry, Timeout

from functions.recordings.deepgram_batch import BatchTranscript, parse_response
from functions.recordings.errors import (
    RecordingError,
    RecordingNotFoundError,
    RecordingRejectedError,
    RecordingTooLargeError,
    RecordingUnavailableError,
    TranscriptionRejectedError,
)
from shared.backoff import retrying
from shared.deepgram import DeepgramOptions
from shared.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK_BYTES = 256 * 1024
ERROR_BODY_BYTES = 2048  # of an error answer, kept for the message
API_VERSION = "2010-04-01"
# Twilio may answer a media request with a redirect to where the file is; urllib3 drops the
# Authorization header when a redirect leaves the host. Nothing else is retried by urllib3 itself.
_FOLLOW_REDIRECTS = Retry(
    total=None, connect=0, read=0, status=0, other=0, redirect=3, raise_on_redirect=True
)
_S3_REFUSED = frozenset({"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "KMS.DisabledException"})


class _Transient(Exception):
    """One attempt failed in a way the next may not (connection, timeout, 408, 429, 5xx)."""


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def http_pool() -> urllib3.PoolManager:
    """The process's HTTP connections (Twilio's and Deepgram's hosts): no retries of urllib3's own."""
    return urllib3.PoolManager(num_pools=4, maxsize=2, retries=False)


def _snippet(response: urllib3.BaseHTTPResponse) -> str:
    try:
        return response.read(ERROR_BODY_BYTES).decode("utf-8", "replace").strip()
    except (urllib3.exceptions.HTTPError, OSError):
        return ""


@dataclass
class RetryPolicy:
    """How many times one request is tried, and the backoff between tries (`shared.backoff`)."""

    attempts: int
    backoff_seconds: float
    sleep: Callable[[float], None] = time.sleep

    def run(self, what: str, attempt: Callable[[], Any], reason: str) -> Any:
        def on_retry(number: int, exc: Exception) -> None:
            logger.warning(
                "request failed; retrying", extra={"request": what, "attempt": number, "error": str(exc)}
            )

        policy = retrying(
            attempts=self.attempts,
            base_seconds=self.backoff_seconds,
            retry_on=(_Transient,),
            on_retry=on_retry,
            sleep=self.sleep,
        )
        try:
            return policy(attempt)
        except _Transient as exc:
            raise RecordingUnavailableError(
                f"{what}: {exc} (after {self.attempts} attempts)", reason=reason
            ) from exc


@dataclass
class TwilioMedia:
    """`GET …/Recordings/{RE}.wav` and `DELETE …/Recordings/{RE}.json`, HTTP basic auth."""

    http: urllib3.PoolManager
    base_url: str
    account_sid: str
    auth_token: str
    timeout_seconds: float
    retry: RetryPolicy
    _headers: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        self._headers = {"Authorization": f"Basic {credentials}"}

    def url(self, recording_sid: str, extension: str) -> str:
        base = self.base_url.rstrip("/")
        return f"{base}/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{recording_sid}.{extension}"

    def download(self, recording_sid: str, sink: BinaryIO, max_bytes: int) -> int:
        url = self.url(recording_sid, "wav")

        def attempt() -> int:
            sink.seek(0)
            sink.truncate()
            response = self._request("GET", url)
            try:
                if response.status == 200:
                    return _copy(response, sink, max_bytes, f"recording {recording_sid}")
                raise self._refusal(response, f"downloading recording {recording_sid}")
            except (urllib3.exceptions.HTTPError, OSError) as exc:  # the body broke off mid-stream
                raise _Transient(f"reading recording {recording_sid}: {exc}") from exc
            finally:
                response.close()

        size: int = self.retry.run(f"downloading recording {recording_sid}", attempt, "twilio-unavailable")
        return size

    def delete(self, recording_sid: str) -> bool:
        url = self.url(recording_sid, "json")

        def attempt() -> bool:
            response = self._request("DELETE", url)
            try:
                if response.status in (200, 204):
                    return True
                if response.status == 404:
                    return False
                raise self._refusal(response, f"deleting recording {recording_sid}")
            finally:
                response.close()

        deleted: bool = self.retry.run(f"deleting recording {recording_sid}", attempt, "twilio-unavailable")
        return deleted

    def _request(self, method: str, url: str) -> urllib3.BaseHTTPResponse:
        timeout = Timeout(connect=self.timeout_seconds, read=self.timeout_seconds)
        try:
            return self.http.request(
                method,
                url,
                headers=self._headers,
                preload_content=False,
                timeout=timeout,
                retries=_FOLLOW_REDIRECTS,
            )
        except urllib3.exceptions.MaxRetryError as exc:  # too many redirects
            raise RecordingRejectedError(f"{method} {url}: {exc.reason}", reason="twilio-refused") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Transient(f"{method} {url}: {exc}") from exc

    def _refusal(self, response: urllib3.BaseHTTPResponse, what: str) -> Exception:
        detail = _twilio_error(_snippet(response))
        if retryable_status(response.status):
            return _Transient(f"{what}: HTTP {response.status} {detail}")
        if response.status == 404:
            return RecordingNotFoundError(f"{what}: Twilio has no such recording (HTTP 404 {detail})")
        return RecordingRejectedError(f"{what}: HTTP {response.status} {detail}", reason="twilio-refused")


def _twilio_error(body: str) -> str:
    """Twilio's `{"code", "message", "more_info", "status"}` error as one short line."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body[:200]
    if isinstance(doc, dict) and "message" in doc:
        return f"{doc.get('code')}: {doc['message']}"
    return body[:200]


def _copy(response: urllib3.BaseHTTPResponse, sink: BinaryIO, max_bytes: int, what: str) -> int:
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise RecordingTooLargeError(
            f"{what} is {int(length)} bytes, more than RECORDING_MAX_BYTES={max_bytes}"
        )
    size = 0
    for chunk in response.stream(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise RecordingTooLargeError(f"{what} is more than RECORDING_MAX_BYTES={max_bytes} bytes")
        sink.write(chunk)
    sink.flush()
    return size


@dataclass
class DeepgramBatch:
    """`POST {DEEPGRAM_URL as https}/v1/listen?multichannel=true&…` with the WAV as the body."""

    http: urllib3.PoolManager
    connect_timeout_seconds: float
    retry: RetryPolicy

    def transcribe(
        self, audio: BinaryIO, size: int, options: DeepgramOptions, timeout: Callable[[], float]
    ) -> BatchTranscript:
        query = urlencode([*options.transcription_params(), ("multichannel", "true")])
        url = f"{options.http_base_url()}/v1/listen?{query}"
        headers = {
            "Authorization": f"Token {options.api_key.get_secret_value()}",
            "Content-Type": "audio/wav",
            "Content-Length": str(size),
        }

        def attempt() -> bytes:
            limits = Timeout(connect=self.connect_timeout_seconds, read=timeout())
            audio.seek(0)
            try:
                response = self.http.request(
                    "POST",
                    url,
                    body=audio,
                    headers=headers,
                    timeout=limits,
                    retries=False,
                    preload_content=True,
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _Transient(f"Deepgram: {exc}") from exc
            if response.status == 200:
                return response.data
            detail = _deepgram_error(response.data[:ERROR_BODY_BYTES])
            if retryable_status(response.status):
                raise _Transient(f"Deepgram answered HTTP {response.status} {detail}")
            raise TranscriptionRejectedError(
                f"Deepgram refused the recording: HTTP {response.status} {detail}"
            )

        body: bytes = self.retry.run("transcribing the recording", attempt, "deepgram-unavailable")
        return parse_response(body)


def _deepgram_error(body: bytes) -> str:
    """Deepgram's `{"err_code", "err_msg", "request_id"}` error as one short line."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:200]
    if isinstance(doc, dict):
        return f"{doc.get('err_code')}: {doc.get('err_msg')} (request_id {doc.get('request_id')})"
    return str(doc)[:200]


class S3RecordingStore:
    """The recordings bucket: server-side encrypted puts (SSE-KMS with a key id, else SSE-S3)."""

    def __init__(self, client: S3Client, bucket: str, kms_key_id: str | None = None) -> None:
        self._client = client
        self._bucket = bucket
        self._encryption: dict[str, str] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
            if kms_key_id
            else {"ServerSideEncryption": "AES256"}
        )

    def put(self, key: str, audio: BinaryIO, size: int, metadata: Mapping[str, str]) -> None:
        audio.seek(0)
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=audio,
                ContentLength=size,
                ContentType="audio/wav",
                Metadata=dict(metadata),
                **self._encryption,  # type: ignore[arg-type]
            )
        except (ClientError, BotoCoreError) as exc:
            raise _store_error(f"storing s3://{self._bucket}/{key}", exc) from exc

    def get(self, key: str, sink: BinaryIO, max_bytes: int) -> int | None:
        sink.seek(0)
        sink.truncate()
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise _store_error(f"reading s3://{self._bucket}/{key}", exc) from exc
        except BotoCoreError as exc:
            raise _store_error(f"reading s3://{self._bucket}/{key}", exc) from exc
        body = response["Body"]
        size = 0
        try:
            for chunk in body.iter_chunks(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise RecordingTooLargeError(f"s3://{self._bucket}/{key} is more than {max_bytes} bytes")
                sink.write(chunk)
        except (BotoCoreError, OSError) as exc:
            raise _store_error(f"reading s3://{self._bucket}/{key}", exc) from exc
        finally:
            body.close()
        sink.flush()
        return size


def _store_error(what: str, exc: Exception) -> RecordingError:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    if code in _S3_REFUSED:
        return RecordingRejectedError(f"{what}: {exc}", reason="store-refused")
    return RecordingUnavailableError(f"{what}: {exc}", reason="store-unavailable")
