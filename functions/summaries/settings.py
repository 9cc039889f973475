"""Settings of the summaries Lambda, read from the environment when its service is built.

Only table names are required, and the Anthropic key when the model provider is Anthropic's API
(`MODEL_PROVIDER`, default `anthropic`; `bedrock` asks Amazon Bedrock with the Lambda's role).
Everything else has a default that suits a production call centre, so a local run sets the
contract's names and nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from functions.summaries.llm import StructuredOutput
from shared.anthropic_clients import DEFAULT_MODELS, ModelProvider, ModelProviderSettings, check_model_id
from shared.costs import CostSettings
from shared.evaluations import EvaluationSettings
from shared.settings import ANTHROPIC_SECRET, ANTHROPIC_SECRET_SOURCES, EnvSettings, SecretSource

DEFAULT_MODEL = DEFAULT_MODELS[ModelProvider.ANTHROPIC]


class SummaryModelSettings(EnvSettings):
    """What asking the model takes: the summaries Lambda's and the evaluation backfill's settings."""

    secret_sources: ClassVar[Mapping[str, SecretSource]] = ANTHROPIC_SECRET_SOURCES

    calls_table: str
    transcripts_table: str
    # MODEL_PROVIDER, BEDROCK_REGION, ANTHROPIC_BEDROCK_BASE_URL (shared/anthropic_clients.py)
    provider: ModelProviderSettings = ModelProviderSettings()
    # Required with MODEL_PROVIDER=anthropic (checked below); never read on Bedrock.
    anthropic_api_key: SecretStr | None = None
    # The Messages API base (the SDK's own default when unset); tests and the local stack point it
    # at the stand-in. The streamer reads the same variable (`AnthropicSettings.base_url`).
    anthropic_base_url: str | None = None

    # Unset: Claude Haiku 5.5 as the provider names it (`DEFAULT_MODELS`); on Bedrock an inference
    # profile or foundation model id (`us.anthropic.claude-haiku-5-5`), checked at start.
    summary_model: str = DEFAULT_MODEL
    # How the structured answer is asked for on Bedrock (BEDROCK_STRUCTURED_OUTPUT): `native`
    # (output_config.format, as on Anthropic's API) or `tool` for a model that refuses it.
    bedrock_structured_output: StructuredOutput = StructuredOutput.NATIVE
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

    @model_validator(mode="before")
    @classmethod
    def _provider_default_model(cls, data: Any) -> Any:
        """SUMMARY_MODEL unset: the default model as the chosen provider names it."""
        if isinstance(data, dict) and not data.get("summary_model"):
            provider = data.get("provider")
            chosen = provider.get("model_provider") if isinstance(provider, dict) else None
            if chosen:
                data = {**data, "summary_model": DEFAULT_MODELS.get(chosen, DEFAULT_MODEL)}
        return data

    @field_validator("summary_model")
    @classmethod
    def _model_for_provider(cls, value: str, info: ValidationInfo) -> str:
        provider = info.data.get("provider")
        return check_model_id(provider.model_provider, value) if provider is not None else value

    @model_validator(mode="after")
    def _key_for_anthropic(self) -> SummaryModelSettings:
        if self.provider.model_provider is ModelProvider.ANTHROPIC and self.anthropic_api_key is None:
            raise ValueError(
                f"missing required environment variable ANTHROPIC_API_KEY (or {ANTHROPIC_SECRET} naming "
                "a Secrets Manager secret); with MODEL_PROVIDER=bedrock no key is needed"
            )
        return self

    @field_validator("summary_max_output_tokens")
    @classmethod
    def _answer_fits_budget(cls, value: int, info: ValidationInfo) -> int:
        budget = info.data.get("summary_token_budget")
        if budget is not None and value * 2 > budget:
            raise ValueError(f"must be at most half of SUMMARY_TOKEN_BUDGET ({budget})")
        return value


class SummarySettings(SummaryModelSettings):
    idempotency_table: str
    # EventBridge retries an event for up to 24 h, so the idempotency record must outlive that window.
    summary_idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    costs: CostSettings = Field(default_factory=CostSettings)  # CALL_PRICES
