"""A local server speaking the Anthropic Messages API (`POST /v1/messages`), for tests and the demo.

Production code reaches it through configuration only (`ANTHROPIC_BASE_URL`); the real `anthropic`
SDK talks to it over HTTP, so retries, timeouts, headers, error classes and structured-output parsing
are the SDK's own. What it *answers* is pluggable (a `Responder`):

- `ScriptedResponder`: a queue of replies for tests (structured answers, 529 overloaded, 429 with
  `retry-after`, 400 invalid request, or a function of the request), with an optional default;
- `OfflineSummarizer`: an honest extractive summarizer (no language model) for the offline demo. It
  reads the transcript from the request and fills the requested JSON schema, and reports
  `"model": "offline-extractive"` so a demo record never claims to come from Claude. Evaluation
  questions in the schema (`evaluations`) get keyword answers with the lines they matched as
  evidence, and null for whatever keywords cannot tell (numbers, most of everything else).

Wire details follow the recorded SDK snapshots (`tests/fixtures/anthropic/`): the message shape with
`usage` incl. cache fields, errors as `{"type": "error", "error": {"type", "message"}}` with a
`request-id` header, `x-api-key` and `anthropic-version` checked, and SSE for `"stream": true`.
Structured answers are checked against the request's `output_config.format` schema, so a test that
scripts an answer the schema forbids fails loudly instead of passing by accident.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Self

from callscribe_local.http_server import BackgroundHttpServer, StandIn

OFFLINE_MODEL = "offline-extractive"
DEFAULT_MODEL = "claude-haiku-5-5"
API_VERSION_HEADER = "anthropic-version"


# --------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (headers lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def user_text(self) -> str:
        """The text of every user message, joined (string content or text blocks)."""
        parts: list[str] = []
        for message in self.body.get("messages", []):
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(
                    b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
                )
        return "\n".join(parts)

    @property
    def system_text(self) -> str:
        system = self.body.get("system")
        if isinstance(system, list):
            return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
        return system if isinstance(system, str) else ""

    @property
    def output_schema(self) -> dict[str, Any] | None:
        fmt = (self.body.get("output_config") or {}).get("format") or {}
        schema = fmt.get("schema") if fmt.get("type") == "json_schema" else None
        return schema if isinstance(schema, dict) else None


# ---------------------------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply:
    """What the server answers: a message (text or structured JSON) or an API error."""

    status: int = 200
    text: str | None = None
    structured: Any = None
    model: str | None = None  # None: echo the requested model
    stop_reason: str = "end_turn"
    usage: dict[str, int] | None = None  # None: estimated from the request and the answer
    error_type: str | None = None
    error_message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # (name, input) of tool_use blocks after the text; a reply with any has stop_reason "tool_use"
    tool_uses: tuple[tuple[str, dict[str, Any]], ...] = ()
    stream_delay: float = 0.0  # seconds between streamed events (a model still talking)

    @classmethod
    def tools(cls, text: str, *calls: tuple[str, dict[str, Any]], stream_delay: float = 0.0) -> Reply:
        """Text (possibly empty) then tool calls, as Claude answers when it decides to use tools."""
        return cls(text=text, tool_uses=tuple(calls), stop_reason="tool_use", stream_delay=stream_delay)

    @classmethod
    def slow(cls, text: str, stream_delay: float) -> Reply:
        """A text answer streamed with a pause between deltas (barge-in while the model talks)."""
        return cls(text=text, stream_delay=stream_delay)

    @classmethod
    def message(
        cls,
        text: str,
        *,
        model: str | None = None,
        stop_reason: str = "end_turn",
        usage: dict[str, int] | None = None,
    ) -> Reply:
        return cls(text=text, model=model, stop_reason=stop_reason, usage=usage)

    @classmethod
    def json(
        cls,
        data: Any,
        *,
        model: str | None = None,
        stop_reason: str = "end_turn",
        usage: dict[str, int] | None = None,
    ) -> Reply:
        """A structured answer; checked against the request's output_config.format schema."""
        return cls(structured=data, model=model, stop_reason=stop_reason, usage=usage)

    @classmethod
    def error(
        cls, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ) -> Reply:
        return cls(status=status, error_type=error_type, error_message=message, headers=dict(headers or {}))

    @classmethod
    def overloaded(cls) -> Reply:
        return cls.error(529, "overloaded_error", "Overloaded")

    @classmethod
    def rate_limited(cls, retry_after_seconds: float = 0) -> Reply:
        return cls.error(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            {
                "retry-after": str(math.ceil(retry_after_seconds)),
                "retry-after-ms": str(int(retry_after_seconds * 1000)),
            },
        )

    @classmethod
    def invalid_request(cls, message: str = "messages: at least one message is required") -> Reply:
        return cls.error(400, "invalid_request_error", message)

    @property
    def is_error(self) -> bool:
        return self.error_type is not None


Responder = Callable[[RecordedRequest], Reply]
ScriptItem = Reply | Responder


class ScriptedResponder:
    """Answers requests from a queue, in order; when it runs dry, `default` answers (or a 400 says so)."""

    def __init__(self, *items: ScriptItem, default: Responder | None = None) -> None:
        self._queue: deque[ScriptItem] = deque(items)
        self._default = default
        self._lock = threading.Lock()

    def push(self, *items: ScriptItem) -> None:
        with self._lock:
            self._queue.extend(items)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._queue)

    def __call__(self, request: RecordedRequest) -> Reply:
        with self._lock:
            item = self._queue.popleft() if self._queue else None
        if item is None:
            if self._default is not None:
                return self._default(request)
            return Reply.invalid_request("anthropic stand-in: the scripted responder has no reply left")
        return item if isinstance(item, Reply) else item(request)


# ----------------------------------------------------------------------------------------------- server


class AnthropicServer(StandIn):
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
        self._http: BackgroundHttpServer | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    # lifecycle
    def start(self) -> Self:
        server: AnthropicServer = self

        class Handler(_Handler):
            owner = server

        self._http = BackgroundHttpServer(self._host, self._port, Handler, "anthropic-stand-in")
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    @property
    def base_url(self) -> str:
        if self._http is None:
            raise RuntimeError("the Anthropic stand-in is not running")
        return f"http://{self._http.host}:{self._http.port}"

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
        try:
            reply = self.owner.responder(request)
        except Exception as exc:  # noqa: BLE001 - a broken responder must show up as a server error, not a hang
            self._send_error(Reply.error(500, "api_error", f"anthropic stand-in responder failed: {exc!r}"))
            return
        if reply.is_error:
            self._send_error(reply)
            return
        schema = request.output_schema
        if reply.structured is not None and schema is not None:
            mismatch = validate(reply.structured, schema)
            if mismatch:
                self._send_error(
                    Reply.invalid_request(
                        "anthropic stand-in: scripted answer breaks the schema: " + "; ".join(mismatch)
                    )
                )
                return
        message = build_message(request, reply)
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
    """A Messages API response body, shaped like the recorded snapshots."""
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


# ------------------------------------------------------------------------------------ schema validation


def validate(
    instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, at: str = "$"
) -> list[str]:
    """Problems of `instance` against the JSON-schema subset structured outputs use (empty: valid)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return validate(instance, root.get("$defs", {}).get(name, {}), root, at)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [validate(instance, option, root, at) for option in schema[key]]
            return [] if any(not o for o in options) else [f"{at}: matches none of {key}"]
    problems: list[str] = []
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{at}: {instance!r} not in {schema['enum']}")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_is_type(instance, k) for k in kinds):
        return [*problems, f"{at}: expected {kind}, got {type(instance).__name__}"]
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in instance:
                problems.append(f"{at}.{name}: required")
        for name, value in instance.items():
            if name in properties:
                problems.extend(validate(value, properties[name], root, f"{at}.{name}"))
            elif schema.get("additionalProperties") is False:
                problems.append(f"{at}.{name}: not allowed (additionalProperties false)")
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(instance):
            problems.extend(validate(item, schema["items"], root, f"{at}[{index}]"))
    return problems


def _is_type(value: Any, kind: str) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return checks.get(kind, lambda v: True)(value)


# ------------------------------------------------------------------------------- offline summarization

_LINE = re.compile(r"^(?:L(\d+)\s+)?\[(\d{2}):(\d{2}):(\d{2})\]\s+([\w-]+):\s*(.*)$")
_BLOCK = re.compile(r"<(transcript|part_summaries)>\s*(.*?)\s*</\1>", re.S)
_LANGUAGE_HINT = re.compile(r"language '([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)'")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORDS = re.compile(r"[^\W\d_][\w'-]+", re.UNICODE)


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = _wordset(
    """a about after again all also am an and any are as at be because been before being but by can
    could did do does doing don't for from get got had has have having he her here hers him his how i
    i'd i'll i'm i've if in into is it it's its just know like me more my no not now of off oh ok okay
    on once one only or other our out over please really right said say see she so some sure than
    thank thanks that that's the their them then there these they this those through to too uh um
    up us very want was we we'll we're well were what when where which while who will with would yeah
    yes you you'll you're your yours hello hi bye goodbye great good let going go call calling"""
)
_POSITIVE = _wordset("thank thanks great perfect appreciate wonderful happy excellent awesome helpful glad")
_NEGATIVE = _wordset(
    "angry frustrated terrible upset broken wrong complaint disappointed unacceptable annoyed awful worst "
    "ridiculous problem issue"
)
_INTENT_CUES = (
    "i want",
    "i'd like",
    "i would like",
    "i need",
    "calling about",
    "calling to",
    "calling because",
    "can you",
    "could you",
    "i'm trying",
    "help me",
    "i have a question",
    "wondering",
)
_ACTION_CUES = (
    "i will",
    "i'll",
    "we will",
    "we'll",
    "please send",
    "call you back",
    "call me back",
    "follow up",
    "send you",
    "email you",
    "schedule",
    "get back to you",
    "let you know",
)
_ROLES = {"caller": "caller", "callee": "callee", "agent": "agent"}


@dataclass(frozen=True)
class _Facts:
    summary: str
    evaluations: dict[str, dict[str, Any]]
    topics: list[str]
    caller_intent: str
    outcome: str
    sentiment: str
    action_items: list[dict[str, str]]
    follow_up_needed: bool
    language: str


class OfflineSummarizer:
    """An extractive summarizer behind the Messages API, for the offline demo. No language model:
    it picks sentences and keywords from the transcript and says so in the summary text."""

    model = OFFLINE_MODEL

    def __call__(self, request: RecordedRequest) -> Reply:
        schema = request.output_schema
        facts = self.facts(request.user_text, schema)
        if schema is None:
            return Reply.message(facts.summary, model=self.model)
        return Reply.json(fill(schema, facts.__dict__, schema), model=self.model)

    def facts(self, prompt: str, schema: dict[str, Any] | None = None) -> _Facts:
        questions = evaluation_questions(schema) if schema is not None else {}
        hint = _LANGUAGE_HINT.search(prompt)
        language = hint.group(1) if hint else "en"
        blocks = {m.group(1): m.group(2) for m in _BLOCK.finditer(prompt)}
        if "part_summaries" in blocks:
            merged = self._merge(blocks["part_summaries"], language, questions)
            if merged is not None:
                return merged
        text = blocks.get("transcript", prompt)
        matches = [m for m in map(_LINE.match, text.splitlines()) if m]
        lines = [
            (m.group(5), m.group(6), int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4)))
            for m in matches
        ]
        numbers = [int(m.group(1)) if m.group(1) else None for m in matches]
        if not lines:
            lines = [("unknown", line.strip(), 0) for line in text.splitlines() if line.strip()]
            numbers = [None] * len(lines)
        facts = self._extract(lines, language)
        numbered = [(n, text) for n, (_, text, _) in zip(numbers, lines, strict=True) if n is not None]
        return _Facts(**{**facts.__dict__, "evaluations": answer_questions(questions, numbered)})

    def _extract(self, lines: list[tuple[str, str, int]], language: str) -> _Facts:
        sentences = [
            (speaker, s.strip()) for speaker, text, _ in lines for s in _SENTENCE.split(text) if s.strip()
        ]
        words = [w.lower() for _, s in sentences for w in _WORDS.findall(s)]
        counts = Counter(w for w in words if w not in _STOPWORDS and len(w) > 3)
        topics = [w for w, _ in counts.most_common(5)]
        caller = [s for speaker, s in sentences if speaker == "caller"] or [s for _, s in sentences]
        intent = next(
            (s for s in caller if any(cue in s.lower() for cue in _INTENT_CUES)), caller[0] if caller else ""
        )
        actions = [
            {"owner": _ROLES.get(speaker, "unknown"), "description": s}
            for speaker, s in sentences
            if any(cue in s.lower() for cue in _ACTION_CUES)
        ][:5]
        scored = sorted(
            ((sum(counts[w.lower()] for w in _WORDS.findall(s)), i, s) for i, (_, s) in enumerate(sentences)),
            reverse=True,
        )
        key_points = [s for _, _, s in sorted(scored[:2], key=lambda t: t[1]) if s != intent]
        duration = lines[-1][2] if lines else 0
        speakers = Counter(speaker for speaker, _, _ in lines)
        parts = [
            "Extractive summary (offline, no language model):",
            f"{len(lines)} transcript lines over {duration // 60} min {duration % 60} s "
            f"({', '.join(f'{n} from {s}' for s, n in sorted(speakers.items()))}).",
        ]
        if intent:
            parts.append(f'The caller said: "{intent}"')
        parts.extend(f'Key point: "{s}"' for s in key_points)
        if sentences and sentences[-1][1] not in (intent, *key_points):
            parts.append(f'Last words: "{sentences[-1][1]}"')
        lowered = " ".join(words)
        return _Facts(
            evaluations={},
            summary=" ".join(parts),
            topics=topics,
            caller_intent=intent or "unknown",
            outcome=_outcome(lowered, bool(actions)),
            sentiment=_sentiment(words),
            action_items=actions,
            follow_up_needed=bool(actions),
            language=language,
        )

    def _merge(self, raw: str, language: str, questions: dict[str, _Question]) -> _Facts | None:
        try:
            parts = json.loads(raw)
        except json.JSONDecodeError:
            return None
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            return None
        topics: list[str] = []
        actions: list[dict[str, str]] = []
        for part in parts:
            topics.extend(t for t in part.get("topics", []) if t not in topics)
            actions.extend(a for a in part.get("action_items", []) if a not in actions)
        sentiments = {p.get("sentiment") for p in parts if p.get("sentiment")}
        return _Facts(
            evaluations=merge_answers(questions, [p.get("evaluations") or {} for p in parts]),
            summary=f"Extractive summary (offline, no language model) of {len(parts)} parts: "
            + " ".join(f"Part {i}: {p.get('summary', '')}" for i, p in enumerate(parts, start=1)),
            topics=topics[:8],
            caller_intent=str(parts[0].get("caller_intent") or "unknown"),
            outcome=str(parts[-1].get("outcome") or "other"),
            sentiment=sentiments.pop() if len(sentiments) == 1 else "mixed",
            action_items=actions[:8],
            follow_up_needed=any(bool(p.get("follow_up_needed")) for p in parts),
            language=str(parts[0].get("language") or language),
        )


def _outcome(text: str, has_actions: bool) -> str:
    if "transfer" in text:
        return "transferred"
    if "voicemail" in text or "leave a message" in text:
        return "voicemail"
    if has_actions:
        return "follow_up_scheduled"
    if any(cue in text for cue in ("resolved", "all set", "that fixed", "that works", "sorted out")):
        return "resolved"
    return "unresolved"


def _sentiment(words: Iterable[str]) -> str:
    positive = negative = 0
    for word in words:
        positive += word in _POSITIVE
        negative += word in _NEGATIVE
    if positive and negative and min(positive, negative) * 2 >= max(positive, negative):
        return "mixed"
    if positive > negative:
        return "positive"
    if negative > positive:
        return "negative"
    return "neutral"


# ------------------------------------------------------------------------ offline evaluation questions


@dataclass(frozen=True)
class _Question:
    text: str  # the question as the schema describes it
    kind: str  # yes_no | choice | number | text
    choices: tuple[str, ...] = ()


# Words a question uses that mean something else in a transcript (a greeting says "hello", not "greet").
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "greet": (
        "hello",
        "hi",
        "good morning",
        "good afternoon",
        "good evening",
        "welcome",
        "thanks for calling",
        "thank you for calling",
    ),
    "thank": ("thank", "thanks", "appreciate"),
    "apolog": ("sorry", "apologise", "apologize", "apologies"),
    "name": ("my name is", "this is", "speaking"),
    "refund": ("refund", "money back", "reimburse"),
    "cancel": ("cancel", "cancellation"),
    "bill": ("bill", "billing", "invoice", "charge", "payment"),
    "appointment": ("appointment", "booking", "reschedule", "schedule"),
}
_QUESTION_STOPWORDS = _STOPWORDS | _wordset("agent caller callee customer person call did does was were the")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return _resolve(options[0], root) if options else schema
    return schema


def evaluation_questions(schema: dict[str, Any]) -> dict[str, _Question]:
    """The evaluation questions a request's schema asks (`evaluations`: one property per question)."""
    evaluations = (schema.get("properties") or {}).get("evaluations")
    if not isinstance(evaluations, dict):
        return {}
    questions: dict[str, _Question] = {}
    for question_id, prop in (_resolve(evaluations, schema).get("properties") or {}).items():
        definition = _resolve(prop, schema)
        answer = _resolve((definition.get("properties") or {}).get("answer") or {}, schema)
        text = str(definition.get("description") or question_id)
        if "enum" in answer:
            questions[question_id] = _Question(text, "choice", tuple(str(c) for c in answer["enum"]))
        elif answer.get("type") == "boolean":
            questions[question_id] = _Question(text, "yes_no")
        elif answer.get("type") in ("number", "integer"):
            questions[question_id] = _Question(text, "number")
        else:
            questions[question_id] = _Question(text, "text")
    return questions


def _cues(text: str) -> list[str]:
    """What to look for in the transcript for a question or a choice: its words, and their synonyms."""
    words = [w.lower() for w in _WORDS.findall(text.replace("_", " "))]
    cues: list[str] = []
    for word in words:
        if word in _QUESTION_STOPWORDS or len(word) < 3:
            continue
        cues.append(word)
        for stem, synonyms in _SYNONYMS.items():
            if word.startswith(stem):
                cues.extend(synonyms)
    return list(dict.fromkeys(cues))


def _lines_with(cues: list[str], lines: list[tuple[int, str]]) -> list[int]:
    found: list[int] = []
    for number, text in lines:
        lowered = f" {' '.join(_WORDS.findall(text.lower()))} "
        if any(f" {cue}" in lowered for cue in cues):
            found.append(number)
    return found


def answer_questions(questions: dict[str, _Question], lines: list[tuple[int, str]]) -> dict[str, Any]:
    """Keyword answers: a yes/no is "yes" when a line says what the question asks about; a choice is
    the one choice the lines name most; text is the first line on the subject; anything else (a
    "no", a number) is null, as the lines cannot tell it without a model. Evidence: the matching
    lines' numbers (`L12` → 12)."""
    answers: dict[str, Any] = {}
    for question_id, question in questions.items():
        answer: Any = None
        evidence: list[int] = []
        if question.kind == "yes_no":
            evidence = _lines_with(_cues(question.text), lines)[:3]
            answer = True if evidence else None
        elif question.kind == "choice":
            hits = {c: _lines_with(_cues(c), lines) for c in question.choices}
            ranked = sorted((h for h in hits.items() if h[1]), key=lambda h: len(h[1]), reverse=True)
            if ranked and (len(ranked) == 1 or len(ranked[0][1]) > len(ranked[1][1])):
                answer, evidence = ranked[0][0], ranked[0][1][:3]
        elif question.kind == "text":
            found = _lines_with(_cues(question.text), lines)[:1]
            if found:
                answer = dict(lines)[found[0]][:200]
                evidence = found
        answers[question_id] = {"answer": answer, "evidence": evidence if answer is not None else []}
    return answers


def merge_answers(questions: dict[str, _Question], parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts' answers combined: a yes in any part is a yes, the choice most parts gave wins,
    the first text or number stands; evidence from the parts that gave the winning answer."""
    merged: dict[str, Any] = {}
    for question_id in questions:
        given: list[dict[str, Any]] = [
            g
            for g in (p.get(question_id) for p in parts)
            if isinstance(g, dict) and g.get("answer") is not None
        ]
        if not given:
            merged[question_id] = {"answer": None, "evidence": []}
            continue
        counts = Counter(json.dumps(g["answer"]) for g in given)
        winner = True if any(g["answer"] is True for g in given) else json.loads(counts.most_common(1)[0][0])
        evidence = [n for g in given if g["answer"] == winner for n in g.get("evidence") or []]
        merged[question_id] = {"answer": winner, "evidence": evidence[:5]}
    return merged


def fill(schema: dict[str, Any], facts: dict[str, Any], root: dict[str, Any]) -> Any:
    """An instance of `schema` built from `facts` by property name; unknown fields get neutral values."""
    if "$ref" in schema:
        return fill(root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1], {}), facts, root)
    if "anyOf" in schema:
        return fill(schema["anyOf"][0], facts, root)
    kind = schema.get("type")
    if kind == "object":
        return {
            name: _value(prop, facts.get(name), root) for name, prop in schema.get("properties", {}).items()
        }
    return _value(schema, None, root)


def _value(schema: dict[str, Any], fact: Any, root: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _value(root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1], {}), fact, root)
    if "anyOf" in schema:
        if fact is None and any(option.get("type") == "null" for option in schema["anyOf"]):
            return None  # "cannot tell" stays null, never a false or a zero
        return _value(schema["anyOf"][0], fact, root)
    if "enum" in schema:
        options = schema["enum"]
        if fact in options:
            return fact
        return "other" if "other" in options else "unknown" if "unknown" in options else options[0]
    kind = schema.get("type")
    if kind == "string":
        return str(fact) if fact is not None else ""
    if kind == "boolean":
        return bool(fact)
    if kind in ("integer", "number"):
        return fact if isinstance(fact, int | float) and not isinstance(fact, bool) else 0
    if kind == "array":
        items = schema.get("items", {})
        return [
            _value(items, item, root) if not isinstance(item, dict) else fill(items, item, root)
            for item in (fact if isinstance(fact, list) else [])
        ]
    if kind == "object":
        return fill(schema, fact if isinstance(fact, dict) else {}, root)
    return fact
