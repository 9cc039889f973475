"""What the Anthropic stand-in records and answers: requests as received, and replies to script.

`anthropic_server.AnthropicServer` asks a `Responder` (any callable of a `RecordedRequest`) for each
request's `Reply`: a message (text, structured JSON, tool calls, optionally streamed slowly) or an
API error shaped like Anthropic's (529 overloaded, 429 with `retry-after`, 400, 500).
`ScriptedResponder` answers from a queue, for tests; `offline_summarizer.OfflineSummarizer` answers
summary requests without a model, for the demo.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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
    def forced_tool(self) -> str | None:
        """The tool `tool_choice` makes the model call (`{"type": "tool", "name": …}`), if any."""
        choice = self.body.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") == "tool" and isinstance(choice.get("name"), str):
            return str(choice["name"])
        return None

    @property
    def output_schema(self) -> dict[str, Any] | None:
        """The schema a structured answer must fit: `output_config.format`'s, or the input schema of
        the tool the request forces (structured output asked for as a tool call)."""
        fmt = (self.body.get("output_config") or {}).get("format") or {}
        schema = fmt.get("schema") if fmt.get("type") == "json_schema" else None
        forced = self.forced_tool
        if schema is None and forced is not None:
            tools = self.body.get("tools")
            found = (
                [t for t in tools if isinstance(t, dict) and t.get("name") == forced]
                if isinstance(tools, list)
                else []
            )
            schema = found[0].get("input_schema") if found else None
        return schema if isinstance(schema, dict) else None


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
        """A structured answer; checked against the request's output_config.format schema (or, when
        the request forces a tool, sent as that tool's input)."""
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
