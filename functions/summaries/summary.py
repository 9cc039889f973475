"""The summary's shapes: what the model must answer (`CallSummary`, also the JSON schema sent in
`output_config.format`, so every field has a description the model reads) and what is stored on the
call record (`StoredSummary`). Enums keep analysts' GROUP BYs small and stable.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Outcome(StrEnum):
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    FOLLOW_UP_SCHEDULED = "follow_up_scheduled"
    TRANSFERRED = "transferred"
    VOICEMAIL = "voicemail"
    ABANDONED = "abandoned"
    NO_CONVERSATION = "no_conversation"
    OTHER = "other"


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    MIXED = "mixed"


class Owner(StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    CALLEE = "callee"
    UNKNOWN = "unknown"


class ActionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: Owner = Field(description="Who must act: the caller, our agent, the callee, or unknown.")
    description: str = Field(description="What must be done, one short imperative sentence.")


class CallSummary(BaseModel):
    """A structured summary of one phone call, written from its transcript."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(description="Three to six sentences: who called, why, what happened, how it ended.")
    topics: list[str] = Field(description="Up to eight short topic labels, most important first.")
    caller_intent: str = Field(description="Why the caller called, one sentence.")
    outcome: Outcome = Field(description="How the call ended for the caller.")
    sentiment: Sentiment = Field(description="The caller's overall sentiment.")
    action_items: list[ActionItem] = Field(description="Concrete follow-ups promised or requested.")
    follow_up_needed: bool = Field(description="True when someone still has to act after the call.")
    language: str = Field(description="BCP-47 code of the language the call was held in, e.g. en or es-MX.")


class TokenUsage(BaseModel):
    """Token counts summed over every request made for one summary (map calls and the reduce)."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def plus(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            requests=self.requests + other.requests,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )


class RedactionReport(BaseModel):
    """Whether redaction ran before the transcript left AWS, and what it replaced (counts only)."""

    enabled: bool
    applied: bool = False
    counts: dict[str, int] = Field(default_factory=dict)


class StoredSummary(CallSummary):
    """The summary as stored on the call record (snake_case, like every attribute analysts export)."""

    model_config = ConfigDict(extra="forbid")

    model: str  # the model id the API reported in its response, never the one we asked for
    prompt_version: str
    usage: TokenUsage
    estimated_cost_usd: float | None  # None when the model is not in the price table
    redaction: RedactionReport
    chunks: int  # transcript chunks summarised (1 = one request, >1 = map-reduce)
    segment_count: int
    no_conversation: bool = False
    created_at: str
    # the transcript version the summary was written from (the call's `transcript_version` when it
    # was read); absent for a summary of a transcript no recording was reconciled with yet
    transcript_version: str | None = None

    def to_attribute(self) -> dict[str, Any]:
        """A plain dict for the call record's `summary` map (enums as strings, no None values)."""
        return self.model_dump(mode="json", exclude_none=True)
