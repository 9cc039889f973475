"""A local server speaking the Anthropic Messages API (`POST /v1/messages`), for tests and the demo.

Production code reaches it through `ANTHROPIC_BASE_URL` only, and the real `anthropic` SDK talks to
it over HTTP (JSON, or SSE for `"stream": true`). What it answers is a pluggable `Responder`
(`anthropic_replies` in tests, the offline models in the demo). `answer`, `build_message` and
`stream_events` are what the Bedrock stand-in (`bedrock_server`) answers with too.
Must keep: the wire of the recorded SDK snapshots (tests/fixtures/anthropic/: `usage` with cache
fields, the error body and `request-id`, `x-api-key` and `anthropic-version` checked); every
structured answer checked against the request's schema (`messages_schema`), so a test that scripts
an answer the schema forbids fails loudly.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import Any

from callscribe_local.anthropic_replies import RecordedRequest, Reply, Responder
from callscribe_local.http_server import HttpStandIn
from callscribe_local.messages_schema import validate

DEFAULT_MODEL = "claude-haiku-5-5"
API_VERSION_HEADER = "anthropic-version"


class _Handler(BaseHTTPRequestHandler):
    owner: AnthropicServer
    server_version = "anthropic-stand-in"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on recorded requests, not on access logs."""

    def do_POST(self) -> None:
        if self.path.split("?")[0].rstrip("/") != "/v1/messages":
            self._send_error(Reply.error(404, "not_found_error", f"Not found: {self.path}"))
            return
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_error(Reply.invalid_request("the request body is not valid JSON"))
            return
        request = RecordedRequest(method="POST", path=self.path, headers=headers, body=body)
        self.owner._record(request)

        problem = self._check(request)
        if problem is not None:
            self._send_error(problem)
            return
        reply, message = answer(self.owner.responder, request)
        if message is None:
            self._send_error(reply)
            return
        if body.get("stream"):
            self._send_stream(message, reply.headers, reply.stream_delay)
        else:
            self._send_json(200, message, reply.headers)

    def _check(self, request: RecordedRequest) -> Reply | None:
        expected = self.owner.api_key
        if expected is not None and expected not in _presented_keys(request.headers):
            return Reply.error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get(API_VERSION_HEADER):
            return Reply.invalid_request(f"{API_VERSION_HEADER}: header is required")
        body = request.body
        if not isinstance(body.get("model"), str) or not body["model"]:
            return Reply.invalid_request("model: Field required")
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            return Reply.invalid_request("max_tokens: Field required")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return Reply.invalid_request("messages: at least one message is required")
        return None

    def _send_json(self, status: int, payload: dict[str, Any], extra: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", _request_id())
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, reply: Reply) -> None:
        payload = {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}}
        self._send_json(reply.status, payload, reply.headers)

    def _send_stream(self, message: dict[str, Any], extra: dict[str, str], delay: float = 0.0) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", _request_id())
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for event, data in stream_events(message):
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client cancelled the stream (a barge-in): nothing more to say


class AnthropicServer(HttpStandIn):
    """`with AnthropicServer(responder) as server:` … point the SDK at `server.base_url`."""

    def __init__(
        self,
        responder: Responder,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`api_key`: when given, requests must carry it (x-api-key or Authorization: Bearer), else 401."""
        self.responder = responder
        self.api_key = api_key
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    label = "Anthropic stand-in"
    handler = _Handler

    def _address(self) -> tuple[str, int]:
        return self._host, self._port

    # what was asked
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


def answer(responder: Responder, request: RecordedRequest) -> tuple[Reply, dict[str, Any] | None]:
    """The responder's reply to `request` and the message body it makes; no body when the reply is
    an API error, or made one: a responder that raised (500), a structured answer its request's
    schema forbids (400, so a test scripting one fails loudly). Shared with the Bedrock stand-in."""
    try:
        reply = responder(request)
    except Exception as exc:  # noqa: BLE001 - a broken responder must show up as a server error, not a hang
        return Reply.error(500, "api_error", f"stand-in responder failed: {exc!r}"), None
    if reply.is_error:
        return reply, None
    schema = request.output_schema
    if reply.structured is not None and schema is not None:
        mismatch = validate(reply.structured, schema)
        if mismatch:
            problem = "stand-in: scripted answer breaks the schema: " + "; ".join(mismatch)
            return Reply.invalid_request(problem), None
    return reply, build_message(request, reply)


def _presented_keys(headers: dict[str, str]) -> set[str]:
    """The key in `x-api-key` (the API's documented header) or `Authorization: Bearer` (which the
    2.x SDK sends for `api_key`): both authenticate against the real API."""
    keys = {headers.get("x-api-key", "")}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        keys.add(token.strip())
    return keys - {""}


def _request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def build_message(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    """A Messages API response body, shaped like the recorded snapshots. A structured answer to a
    request that forces a tool is that tool's call, as the model answers one."""
    forced = request.forced_tool
    if reply.structured is not None and forced is not None:
        tool_uses = ((forced, reply.structured),)
        stop_reason = "tool_use" if reply.stop_reason == "end_turn" else reply.stop_reason
        reply = replace(reply, structured=None, text="", tool_uses=tool_uses, stop_reason=stop_reason)
    text = reply.text if reply.structured is None else json.dumps(reply.structured, ensure_ascii=False)
    text = text or ""
    usage = {
        "input_tokens": estimate_tokens(request.system_text + request.user_text),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": estimate_tokens(text),
        **(reply.usage or {}),
    }
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text or not reply.tool_uses else []
    content += [
        {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": name, "input": arguments}
        for name, arguments in reply.tool_uses
    ]
    return {
        "model": reply.model or request.body.get("model") or DEFAULT_MODEL,
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": {
            **usage,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "service_tier": "standard",
            "inference_geo": "not_available",
        },
    }


def stream_events(message: dict[str, Any], piece: int = 24) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE events of a streamed message: start, each block (text in deltas, tool input as
    input_json_delta pieces), delta, stop."""
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            kind, key, body = "text_delta", "text", block["text"]
        else:
            opening = {**block, "input": {}}
            kind, key, body = "input_json_delta", "partial_json", json.dumps(block["input"])
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": opening},
        )
        for offset in range(0, len(body), piece):
            delta = {"type": kind, key: body[offset : offset + piece]}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        },
    )
    yield "message_stop", {"type": "message_stop"}
