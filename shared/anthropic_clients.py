"""Anthropic SDK clients on either model provider, built one way for the summaries Lambda (sync) and
the streamer's agent (async).

`MODEL_PROVIDER` is `anthropic` (the Messages API, an API key) or `bedrock` (the SDK's
`AnthropicBedrock` clients, SigV4-signed with the process's AWS credentials, no key). Both take the
same Messages request; what Bedrock needs added is `request_extras`, so callers change nothing else.
A blank base URL means the SDK's default (tests and the local stack point it at the stand-ins).
Must keep: `anthropic` imported when the first client is built, never at module import (it is most
of a cold start: docs/benchmarks.md, "First model call").
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.bedrock_models import BedrockModelId
from shared.settings import EnvGroup

if TYPE_CHECKING:
    from anthropic import Anthropic, AnthropicBedrock, AsyncAnthropic, AsyncAnthropicBedrock

    MessagesClient = Anthropic | AnthropicBedrock
    AsyncMessagesClient = AsyncAnthropic | AsyncAnthropicBedrock


class ModelProvider(StrEnum):
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"


# The model each tier asks for when its setting is unset: the same Claude Haiku 5.5, named as each
# provider names it (on Bedrock, the US cross-Region inference profile: docs/configuration.md says
# which id to use elsewhere).
DEFAULT_MODELS = {
    ModelProvider.ANTHROPIC: "claude-haiku-5-5",
    ModelProvider.BEDROCK: "us.anthropic.claude-haiku-5-5",
}
# InvokeModel reads the Messages API version from the body; the SDK would send its own API version,
# which Bedrock's older (ARN-versioned) Claude models refuse. This is the one AWS documents for all.
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"


class ModelProviderSettings(EnvGroup):
    """`MODEL_PROVIDER`, and where Bedrock is reached: `BEDROCK_REGION` (unset: the SDK's own lookup,
    `AWS_REGION`) and `ANTHROPIC_BEDROCK_BASE_URL` (unset: `https://bedrock-runtime.<region>.amazonaws.com`;
    the local stack and tests point it at the Bedrock stand-in)."""

    model_provider: ModelProvider = ModelProvider.ANTHROPIC
    bedrock_region: str | None = None
    anthropic_bedrock_base_url: str | None = None

    @property
    def on_bedrock(self) -> bool:
        return self.model_provider is ModelProvider.BEDROCK

    def default_model(self) -> str:
        return DEFAULT_MODELS[self.model_provider]


def check_model_id(provider: ModelProvider, model: str) -> str:
    """`model` if the provider can be asked for it; ValueError saying what to set otherwise (a Bedrock id
    given to Anthropic's API, or an Anthropic API id given to Bedrock, fails at start, not per call)."""
    if provider is ModelProvider.BEDROCK:
        BedrockModelId.parse(model)
    elif BedrockModelId.looks_like(model):
        raise ValueError(
            f"{model!r} is a model id on Amazon Bedrock: set MODEL_PROVIDER=bedrock to use it, or name "
            f"the model as Anthropic's API does (e.g. {DEFAULT_MODELS[ModelProvider.ANTHROPIC]!r})"
        )
    return model


def request_extras(provider: ModelProvider) -> dict[str, Any]:
    """Keyword arguments every Messages request adds on `provider` (`extra_body` on Bedrock)."""
    if provider is ModelProvider.BEDROCK:
        return {"extra_body": {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}}
    return {}


def request_id(headers: Any) -> str | None:
    """The id a provider gives a request, for logs and support tickets: Anthropic's `request-id`,
    Bedrock's `x-amzn-RequestId` (httpx headers are case-insensitive)."""
    if headers is None:
        return None
    value = headers.get("request-id") or headers.get("x-amzn-requestid")
    return str(value) if value else None


def build_client(
    api_key: str, timeout_seconds: float, max_retries: int, base_url: str | None = None
) -> Anthropic:
    """One client per process; retries of 408/409/429/5xx/529 and connection errors are the SDK's."""
    from anthropic import Anthropic

    return Anthropic(
        api_key=api_key, base_url=base_url or None, timeout=timeout_seconds, max_retries=max_retries
    )


def build_async_client(
    api_key: str, timeout_seconds: float, max_retries: int, base_url: str | None = None
) -> AsyncAnthropic:
    """The same, for code on an event loop."""
    from anthropic import AsyncAnthropic

    return AsyncAnthropic(
        api_key=api_key, base_url=base_url or None, timeout=timeout_seconds, max_retries=max_retries
    )


def build_bedrock_client(
    provider: ModelProviderSettings, timeout_seconds: float, max_retries: int
) -> AnthropicBedrock:
    """Bedrock's InvokeModel through the SDK, signed with the default AWS credential chain (the role);
    the SDK retries Bedrock's throttling (429) and 5xx as it does Anthropic's."""
    from anthropic import AnthropicBedrock

    return AnthropicBedrock(
        aws_region=provider.bedrock_region or None,
        base_url=provider.anthropic_bedrock_base_url or None,
        timeout=timeout_seconds,
        max_retries=max_retries,
    )


def build_async_bedrock_client(
    provider: ModelProviderSettings, timeout_seconds: float, max_retries: int
) -> AsyncAnthropicBedrock:
    """The same, for code on an event loop (InvokeModelWithResponseStream for streamed requests)."""
    from anthropic import AsyncAnthropicBedrock

    return AsyncAnthropicBedrock(
        aws_region=provider.bedrock_region or None,
        base_url=provider.anthropic_bedrock_base_url or None,
        timeout=timeout_seconds,
        max_retries=max_retries,
    )
