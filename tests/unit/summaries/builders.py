"""Builders shared by the summaries' unit and integration tests: real-shaped EventBridge events, a
Lambda context, transcript segments and a fake language model."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from functions.summaries.llm import StructuredReply, StructuredRequest, T
from functions.summaries.summary import CallSummary, Outcome, Sentiment, TokenUsage
from shared.dal.keys import segment_key

LOCAL_ACCOUNT = "123456789012"


def transcript_completed_event(
    call_sid: str, segment_count: int, transcript_status: str = "completed", event_id: str | None = None
) -> dict[str, Any]:
    """An EventBridge event as the summaries rule delivers it (every field real events carry)."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Transcript Completed",
        "source": "callscribe",
        "account": LOCAL_ACCOUNT,
        "time": "2026-11-22T02:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"callSid": call_sid, "segmentCount": segment_count, "transcriptStatus": transcript_status},
    }


@dataclass
class FakeLambdaContext:
    function_name: str = "callscribe-summaries"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{LOCAL_ACCOUNT}:function:callscribe-summaries"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/callscribe-summaries"
    log_stream_name: str = "local"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass(frozen=True)
class Seg:
    """A segment with the attributes transcript building reads."""

    start: float
    speaker: str
    text: str
    track: str = "inbound"
    language: str | None = "en"

    @property
    def segment_key(self) -> str:
        return segment_key(self.start, self.track)


def a_summary(**overrides: Any) -> CallSummary:
    values: dict[str, Any] = {
        "summary": "The caller moved an appointment to Friday.",
        "topics": ["appointment"],
        "caller_intent": "Move an appointment.",
        "outcome": Outcome.RESOLVED,
        "sentiment": Sentiment.POSITIVE,
        "action_items": [],
        "follow_up_needed": False,
        "language": "en",
    }
    values.update(overrides)
    return CallSummary.model_validate(values)


@dataclass
class FakeModel:
    """A LanguageModel that records requests and answers from `answer(request)`."""

    answer: Callable[[StructuredRequest[Any]], CallSummary] = lambda request: a_summary()
    model: str = "claude-haiku-5-5"
    requests: list[StructuredRequest[Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        with self._lock:
            self.requests.append(request)
        value = self.answer(request)
        usage = TokenUsage(requests=1, input_tokens=len(request.prompt) // 4, output_tokens=100)
        return StructuredReply(value=value, model=self.model, usage=usage)  # type: ignore[arg-type]
