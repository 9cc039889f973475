"""Settings of the summaries Lambda, read from the environment when its service is built.

Only table names and the Anthropic key are required; everything else has a default that suits a
production call centre, so a local run sets the contract's names and nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from shared.costs import CostSettings
from shared.evaluations import EvaluationSettings
from shared.settings import ANTHROPIC_SECRET_SOURCES, EnvSettings, SecretSource

DEFAULT_MODEL = "claude-haiku-5-5"


class SummaryModelSettings(EnvSettings):
    """What asking the model takes: the summaries Lambda's and the evaluation backfill's settings."""

    secret_sources: ClassVar[Mapping[str, SecretSource]] = ANTHROPIC_SECRET_SOURCES

    calls_table: str
    transcripts_table: str
    anthropic_api_key: SecretStr
    # The Messages API base (the SDK's own default when unset); tests and the local stack point it
    # at the stand-in. The streamer reads the same variable (`AnthropicSettings.base_url`).
    anthropic_base_url: str | None = None

    summary_model: str = DEFAULT_MODEL
    # Prompt templates live in functions/summaries/prompts/<version>/; the version is stored per summary.
    # v2: the transcript is data, never instructions; v3: evaluation questions answered with the
    # summary, lines numbered for their evidence (v1, v2 stay, so stored summaries can be traced).
    summary_prompt_version: str = "v3"
    # Estimated input tokens one request may carry before the transcript is summarised in chunks.
    # Haiku 5.5 bills prompts over 100k tokens at 5x, and the chars/3.5 estimate undercounts the 5.x
    # tokenizer, so the default keeps every request well inside the cheap tier.
    summary_token_budget: int = Field(default=60_000, ge=2_000)
    summary_max_output_tokens: int = Field(default=2_048, ge=256)
    summary_map_concurrency: int = Field(default=4, ge=1, le=16)
    # Per-request timeout and SDK retries (429/5xx/529 with backoff). Each request's timeout is also
    # capped by the Lambda's remaining time, so a slow model never outlives the function.
    anthropic_timeout_seconds: float = Field(default=60.0, gt=0)
    anthropic_max_retries: int = Field(default=3, ge=0, le=10)
    summary_redaction: bool = True
    # EVALUATION_QUESTIONS: the scorecard questions (shared/evaluations.py), answered with the summary
    evaluations: EvaluationSettings = EvaluationSettings()

    @field_validator("summary_max_output_tokens")
    @classmethod
    def _answer_fits_budget(cls, value: int, info: ValidationInfo) -> int:
        budget = info.data.get("summary_token_budget")
        if budget is not None and value * 2 > budget:
            raise ValueError(f"must be at most half of SUMMARY_TOKEN_BUDGET ({budget})")
        return value


class SummarySettings(SummaryModelSettings):
    idempotency_table: str
    event_bus_name: str
    # EventBridge retries an event for up to 24 h, so the idempotency record must outlive that window.
    summary_idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    costs: CostSettings = Field(default_factory=CostSettings)  # CALL_PRICES
