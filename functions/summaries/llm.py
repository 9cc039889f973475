"""The language-model port: one structured request in, one validated answer plus accounting out.

Domain code depends on this Protocol only; `anthropic_adapter.AnthropicModel` is the real adapter
(the Messages API through the `anthropic` SDK) and unit tests use a fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

from functions.summaries.summary import TokenUsage

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class StructuredRequest(Generic[T]):
    system: str
    prompt: str
    output: type[T]
    max_tokens: int
    timeout_seconds: float
    purpose: str  # "single", "map 2/5", "reduce": for logs and metrics


@dataclass(frozen=True)
class StructuredReply(Generic[T]):
    value: T
    model: str  # the model id the API reported, which is what gets stored
    usage: TokenUsage
    request_id: str | None = None


class LanguageModel(Protocol):
    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        """Answer `request` with a validated `request.output`, or raise a SummaryError."""
        ...
