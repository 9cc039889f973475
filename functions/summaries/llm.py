"""The language-model port: one structured request in, one validated answer plus accounting out.

Domain code depends on this Protocol only; `anthropic_adapter.AnthropicModel` is the real adapter
(the Messages API through the `anthropic` SDK, on Anthropic's API or Amazon Bedrock) and unit tests
use a fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

from functions.summaries.summary import TokenUsage

T = TypeVar("T", bound=BaseModel)


class StructuredOutput(StrEnum):
    """How a structured answer is asked for: `native`, the schema as `output_config.format` (what
    Anthropic's API and most Claude models on Bedrock take); `tool`, a forced tool call whose input is
    the schema, for a Bedrock model that refuses `output_config` (docs/summaries.md)."""

    NATIVE = "native"
    TOOL = "tool"


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
    # On Bedrock, the model id the request named (an inference profile's route sets its price)
    bedrock_model_id: str | None = None


class LanguageModel(Protocol):
    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        """Answer `request` with a validated `request.output`, or raise a SummaryError."""
        ...
