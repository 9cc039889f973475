"""A local server speaking Amazon Bedrock's runtime API for Claude, for tests and the local stack.

`POST /model/{modelId}/invoke` (JSON) and `/invoke-with-response-stream` (an AWS event stream of
base64 Messages events), for the anthropic SDK's `AnthropicBedrock` through `base_url`. It answers
through the same responders as the Anthropic stand-in (`anthropic_server.answer`); each request is
shown to them, and kept in `requests`, in the Messages API's shape, so a scripted test runs
unchanged on either provider; `invocations` keeps what arrived on the wire.
Must keep: every request SigV4-signed for `bedrock` in the stand-in's Region by a local credential
(`sigv4`); Bedrock's own wire where it differs from Anthropic's (body rules, error types, ids,
invocation metrics): docs/local.md, "The parts", and docs/summaries.md list them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from botocore.credentials import Credentials

from callscribe_local import eventstream, sigv4
from callscribe_local.anthropic_replies import RecordedRequest, Reply, Responder
from callscribe_local.anthropic_server import answer, stream_events
from callscribe_local.aws_local import LOCAL_REGION, fake_credentials_env
from callscribe_local.http_server import HttpStandIn
from shared.anthropic_clients import BEDROCK_ANTHROPIC_VERSION
from shared.bedrock_models import BedrockModelId

SERVICE = "bedrock"  # SigV4's service name for bedrock-runtime
_PATH_PREFIX, _INVOKE, _STREAM = "/model/", "/invoke", "/invoke-with-response-stream"
# The responder's status (Anthropic's) -> Bedrock's status and error type
_ERRORS = {
    400: (400, "ValidationException"),
    401: (403, "UnrecognizedClientException"),
    403: (403, "AccessDeniedException"),
    404: (404, "ResourceNotFoundException"),
    408: (408, "ModelTimeoutException"),
    413: (400, "ValidationException"),
    429: (429, "ThrottlingException"),
    500: (500, "InternalServerException"),
    529: (503, "ServiceUnavailableException"),
}


# What Bedrock answers (400 ValidationException) for a Claude model that does not take output_config
_NO_OUTPUT_CONFIG = (
    "The model returned the following errors: output_config.format: Extra inputs are not permitted"
)


def local_secrets() -> dict[str, str]:
    """The credentials every local process signs with (`aws_local.fake_credentials_env`)."""
    env = fake_credentials_env()
    return {env["AWS_ACCESS_KEY_ID"]: env["AWS_SECRET_ACCESS_KEY"]}


@dataclass(frozen=True)
class Invocation:
    """One request as it arrived: the model id of its path, whether it asked for a stream, its headers
    (lower-cased) and its body."""

    model_id: str
    streamed: bool
    headers: dict[str, str]
    body: dict[str, Any]


class _Handler(BaseHTTPRequestHandler):
    owner: BedrockServer
    server_version = "bedrock-stand-in"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on recorded requests, not on access logs."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        route = _route(self.path)
        if route is None:
            self._send_error(404, "UnknownOperationException", f"no such operation: POST {self.path}")
            return
        model_id, streamed = route
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = None
        invocation = Invocation(model_id, streamed, headers, body if isinstance(body, dict) else {})
        try:
            self.owner.verifier.verify("POST", f"http://{headers.get('host', '')}{self.path}", headers, raw)
        except sigv4.SignatureRefused as refused:
            self.owner._record(invocation, None)
            self._send_error(403, refused.error_type, str(refused))
            return
        refusal = self._refusal(model_id, body)
        if refusal is not None:
            self.owner._record(invocation, None)
            self._send_error(400, "ValidationException", refusal)
            return
        assert isinstance(body, dict)
        view = {**body, "model": model_id, **({"stream": True} if streamed else {})}
        request = RecordedRequest(method="POST", path=self.path, headers=headers, body=view)
        self.owner._record(invocation, request)
        reply, message = answer(self.owner.responder, request)
        if message is None:
            status, error_type = _ERRORS.get(reply.status, (reply.status, "InternalServerException"))
            self._send_error(status, error_type, reply.error_message or "", reply.headers)
            return
        message["id"] = "msg_bdrk_" + uuid.uuid4().hex[:24]
        if reply.model is None:  # Bedrock reports Anthropic's name of the model, not the profile id
            message["model"] = BedrockModelId.parse(model_id).anthropic_alias
        if streamed:
            self._send_stream(message, reply)
        else:
            self._send_json(200, message, {**reply.headers, **_token_headers(message)})

    def _refusal(self, model_id: str, body: Any) -> str | None:
        """What Bedrock's validation says about this request, or None."""
        try:
            parsed = BedrockModelId.parse(model_id)
        except ValueError:
            return "The provided model identifier is invalid."
        if not parsed.callable_from(self.owner.region):
            return f"Invocation of model ID {model_id} isn't supported in {self.owner.region}."
        if not isinstance(body, dict):
            return "Malformed input request, please reformat your input and try again."
        extraneous = sorted(key for key in ("model", "stream") if key in body)
        if extraneous:
            return f"Malformed input request: extraneous key [{extraneous[0]}] is not permitted"
        if body.get("anthropic_version") != BEDROCK_ANTHROPIC_VERSION:
            found = body.get("anthropic_version")
            return f"anthropic_version: expected {BEDROCK_ANTHROPIC_VERSION}, got {found!r}"
        if not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
            return "Malformed input request: max_tokens and messages are required"
        if not self.owner.native_structured_output and "format" in (body.get("output_config") or {}):
            return _NO_OUTPUT_CONFIG
        return None

    def _send_json(self, status: int, payload: dict[str, Any], extra: Mapping[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(
        self, status: int, error_type: str, message: str, extra: Mapping[str, str] | None = None
    ) -> None:
        headers = {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
        self._send_json(status, {"message": message}, {**headers, **(extra or {})})

    def _send_stream(self, message: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/vnd.amazon.eventstream")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("X-Amzn-Bedrock-Content-Type", "application/json")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        started = time.monotonic()
        try:
            for _, event in stream_events(message):
                if event["type"] == "message_stop":
                    event = {**event, "amazon-bedrock-invocationMetrics": _metrics(message, started)}
                self.wfile.write(eventstream.chunk(event))
                self.wfile.flush()
                if reply.stream_delay:
                    time.sleep(reply.stream_delay)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client cancelled the stream (a barge-in): nothing more to say


class BedrockServer(HttpStandIn):
    """`with BedrockServer(responder) as server:` … `AnthropicBedrock(base_url=server.base_url)`."""

    def __init__(
        self,
        responder: Responder,
        *,
        region: str = LOCAL_REGION,
        secrets: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`secrets`: access key id -> secret key of the callers (default: the local credentials)."""
        self.responder = responder
        self.region = region
        self.secrets = dict(secrets if secrets is not None else local_secrets())
        self.verifier = sigv4.SigV4Verifier(
            SERVICE, region, {key: Credentials(key, secret) for key, secret in self.secrets.items()}
        )
        self.native_structured_output = True
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._invocations: list[Invocation] = []

    label = "Bedrock stand-in"
    handler = _Handler

    def _address(self) -> tuple[str, int]:
        return self._host, self._port

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every valid request, as the Messages API request it stands for."""
        with self._lock:
            return list(self._requests)

    @property
    def invocations(self) -> list[Invocation]:
        """Every request that reached the model route, as it arrived (signed or not)."""
        with self._lock:
            return list(self._invocations)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._invocations.clear()

    def _record(self, invocation: Invocation, request: RecordedRequest | None) -> None:
        with self._lock:
            self._invocations.append(invocation)
            if request is not None:
                self._requests.append(request)


def _route(path: str) -> tuple[str, bool] | None:
    """(model id, streamed) of `/model/{modelId}/invoke[-with-response-stream]`, else None."""
    bare = path.split("?", 1)[0]
    if not bare.startswith(_PATH_PREFIX):
        return None
    rest = bare[len(_PATH_PREFIX) :]
    for suffix, streamed in ((_STREAM, True), (_INVOKE, False)):
        if rest.endswith(suffix) and len(rest) > len(suffix):
            return unquote(rest[: -len(suffix)]), streamed
    return None


def _token_headers(message: Mapping[str, Any]) -> dict[str, str]:
    usage = message["usage"]
    return {
        "X-Amzn-Bedrock-Input-Token-Count": str(usage["input_tokens"]),
        "X-Amzn-Bedrock-Output-Token-Count": str(usage["output_tokens"]),
        "X-Amzn-Bedrock-Invocation-Latency": "1",
    }


def _metrics(message: Mapping[str, Any], started: float) -> dict[str, int]:
    elapsed = int((time.monotonic() - started) * 1000)
    usage = message["usage"]
    return {
        "inputTokenCount": int(usage["input_tokens"]),
        "outputTokenCount": int(usage["output_tokens"]),
        "invocationLatency": elapsed,
        "firstByteLatency": min(elapsed, 1),
    }
