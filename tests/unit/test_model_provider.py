"""The model provider seam: Bedrock model ids, the provider setting of both tiers, Bedrock prices, and
which SDK client each provider gets (built, never called: the stand-in tests call them)."""

from __future__ import annotations

import pytest

from functions.summaries.anthropic_adapter import AnthropicModel, language_model
from functions.summaries.llm import StructuredOutput
from functions.summaries.pricing import BEDROCK_REGIONAL_PREMIUM, price_for, request_cost
from functions.summaries.settings import SummaryModelSettings
from functions.summaries.summary import TokenUsage
from shared.anthropic_clients import (
    BEDROCK_ANTHROPIC_VERSION,
    ModelProvider,
    check_model_id,
    request_extras,
)
from shared.bedrock_models import BedrockModelId
from shared.errors import ConfigError
from streamer.agent.deps import AgentDeps
from streamer.config import StreamerSettings

SUMMARIES = {"CALLS_TABLE": "c", "TRANSCRIPTS_TABLE": "t"}
STREAMER = {
    "CALLS_TABLE": "c",
    "TRANSCRIPTS_TABLE": "t",
    "EVENT_BUS_NAME": "b",
    "TWILIO_AUTH_TOKEN": "token",
    "DEEPGRAM_API_KEY": "dg",
    "STREAM_URL": "wss://streamer.example.com/media",
}
BEDROCK = {"MODEL_PROVIDER": "bedrock", "BEDROCK_REGION": "eu-west-1"}


@pytest.mark.parametrize(
    ("model_id", "geography", "foundation", "alias"),
    [
        ("us.anthropic.claude-haiku-5-5", "us", "anthropic.claude-haiku-5-5", "claude-haiku-5-5"),
        ("global.anthropic.claude-sonnet-5-5", "global", "anthropic.claude-sonnet-5-5", "claude-sonnet-5-5"),
        ("us-gov.anthropic.claude-haiku-5-5", "us-gov", "anthropic.claude-haiku-5-5", "claude-haiku-5-5"),
        (
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            None,
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5-20251001",
        ),
        ("eu.anthropic.claude-opus-4-6-v1", "eu", "anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
    ],
)
def test_bedrock_ids_name_their_route_and_model(
    model_id: str, geography: str | None, foundation: str, alias: str
) -> None:
    parsed = BedrockModelId.parse(model_id)
    assert (parsed.geography, parsed.foundation_model, parsed.anthropic_alias) == (
        geography,
        foundation,
        alias,
    )
    assert parsed.model_id == model_id
    assert parsed.is_profile is (geography is not None)


@pytest.mark.parametrize(
    "model_id",
    [
        "claude-haiku-5-5",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
        "us.meta.llama3-70b-instruct-v1:0",
        "US.anthropic.claude-haiku-5-5",
        "",
    ],
)
def test_anything_else_is_not_a_bedrock_claude_id(model_id: str) -> None:
    with pytest.raises(ValueError, match="not a Claude model id on Amazon Bedrock"):
        BedrockModelId.parse(model_id)


def test_a_geographic_profile_is_called_from_its_own_geography() -> None:
    assert BedrockModelId.parse("us.anthropic.claude-haiku-5-5").callable_from("us-west-2")
    assert not BedrockModelId.parse("us.anthropic.claude-haiku-5-5").callable_from("eu-west-1")
    assert not BedrockModelId.parse("us.anthropic.claude-haiku-5-5").callable_from("us-gov-west-1")
    assert BedrockModelId.parse("eu.anthropic.claude-haiku-5-5").callable_from("eu-central-1")
    assert BedrockModelId.parse("jp.anthropic.claude-haiku-5-5").callable_from("ap-northeast-1")
    assert BedrockModelId.parse("global.anthropic.claude-haiku-5-5").callable_from("sa-east-1")
    assert BedrockModelId.parse("anthropic.claude-haiku-4-5-20251001-v1:0").callable_from("eu-west-3")


def test_each_provider_refuses_the_other_providers_ids() -> None:
    assert check_model_id(ModelProvider.BEDROCK, "us.anthropic.claude-haiku-5-5")
    assert check_model_id(ModelProvider.ANTHROPIC, "claude-haiku-5-5")
    with pytest.raises(ValueError, match="set MODEL_PROVIDER=bedrock"):
        check_model_id(ModelProvider.ANTHROPIC, "us.anthropic.claude-haiku-5-5")
    with pytest.raises(ValueError, match="not a Claude model id on Amazon Bedrock"):
        check_model_id(ModelProvider.BEDROCK, "claude-haiku-5-5")


def test_only_bedrock_requests_carry_the_invoke_model_api_version() -> None:
    assert request_extras(ModelProvider.ANTHROPIC) == {}
    assert request_extras(ModelProvider.BEDROCK) == {
        "extra_body": {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}
    }


def test_summaries_on_bedrock_need_no_key_and_default_to_the_bedrock_id() -> None:
    settings = SummaryModelSettings.from_env({**SUMMARIES, **BEDROCK})
    assert settings.provider.model_provider is ModelProvider.BEDROCK
    assert settings.provider.bedrock_region == "eu-west-1"
    assert settings.anthropic_api_key is None
    assert settings.summary_model == "us.anthropic.claude-haiku-5-5"
    assert settings.bedrock_structured_output is StructuredOutput.NATIVE
    anthropic = SummaryModelSettings.from_env({**SUMMARIES, "ANTHROPIC_API_KEY": "sk"})
    assert anthropic.provider.model_provider is ModelProvider.ANTHROPIC
    assert anthropic.summary_model == "claude-haiku-5-5"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODEL_PROVIDER": "openai"}, "MODEL_PROVIDER"),
        ({**BEDROCK, "SUMMARY_MODEL": "claude-haiku-5-5"}, "SUMMARY_MODEL.*not a Claude model id on Amazon"),
        (
            {"ANTHROPIC_API_KEY": "sk", "SUMMARY_MODEL": "eu.anthropic.claude-haiku-5-5"},
            "SUMMARY_MODEL.*set MODEL_PROVIDER=bedrock",
        ),
        ({**BEDROCK, "BEDROCK_STRUCTURED_OUTPUT": "json"}, "BEDROCK_STRUCTURED_OUTPUT"),
        ({}, "ANTHROPIC_API_KEY.*ANTHROPIC_SECRET_ARN.*MODEL_PROVIDER=bedrock"),
    ],
)
def test_summaries_provider_settings_fail_at_start_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SummaryModelSettings.from_env({**SUMMARIES, **env})


def test_the_summaries_client_is_bedrocks_own_with_the_region_and_stand_in_url() -> None:
    from anthropic import Anthropic, AnthropicBedrock

    settings = SummaryModelSettings.from_env(
        {
            **SUMMARIES,
            **BEDROCK,
            "ANTHROPIC_BEDROCK_BASE_URL": "http://127.0.0.1:9",
            "BEDROCK_STRUCTURED_OUTPUT": "tool",
            "ANTHROPIC_MAX_RETRIES": "5",
        }
    )
    model = language_model(settings, timeout_seconds=7)
    client = model._client
    assert isinstance(client, AnthropicBedrock)
    assert (client.aws_region, str(client.base_url), client.max_retries) == (
        "eu-west-1",
        "http://127.0.0.1:9",
        5,
    )
    assert model._tool
    first_party = language_model(SummaryModelSettings.from_env({**SUMMARIES, "ANTHROPIC_API_KEY": "sk"}), 7)
    assert isinstance(first_party._client, Anthropic)
    assert not first_party._tool
    assert isinstance(first_party, AnthropicModel)


def test_the_agent_on_bedrock_gets_the_bedrock_client_and_id_without_a_key() -> None:
    from anthropic import AsyncAnthropicBedrock

    settings = StreamerSettings.from_env({**STREAMER, **BEDROCK})
    assert settings.agent.model == "us.anthropic.claude-haiku-5-5"
    deps = AgentDeps.build(settings)
    assert isinstance(deps.anthropic, AsyncAnthropicBedrock)
    assert deps.anthropic.aws_region == "eu-west-1"
    assert deps.extras == request_extras(ModelProvider.BEDROCK)
    assert StreamerSettings.from_env(STREAMER).agent.model == "claude-haiku-5-5"
    chosen = StreamerSettings.from_env(
        {**STREAMER, **BEDROCK, "AGENT_MODEL": "eu.anthropic.claude-sonnet-5-5"}
    )
    assert chosen.agent.model == "eu.anthropic.claude-sonnet-5-5"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**BEDROCK, "AGENT_MODEL": "claude-haiku-5-5"}, "AGENT_MODEL.*not a Claude model id on Amazon"),
        ({"AGENT_MODEL": "us.anthropic.claude-haiku-5-5"}, "AGENT_MODEL.*set MODEL_PROVIDER=bedrock"),
    ],
)
def test_the_agent_model_must_suit_the_provider(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StreamerSettings.from_env({**STREAMER, **env})


def test_bedrock_prices_follow_the_route_the_request_named() -> None:
    usage = TokenUsage(requests=1, input_tokens=4_000, output_tokens=500)
    anthropic = request_cost("claude-haiku-5-5", usage)
    haiku_4_5 = request_cost("claude-haiku-4-5", usage)
    assert anthropic == pytest.approx(0.00065)
    assert haiku_4_5 is not None
    # the response names the model; the request's id says how Bedrock bills it
    global_route = request_cost(
        "claude-haiku-5-5", usage, bedrock_model_id="global.anthropic.claude-haiku-5-5"
    )
    us_route = request_cost("claude-haiku-5-5", usage, bedrock_model_id="us.anthropic.claude-haiku-5-5")
    in_region = request_cost(
        "claude-haiku-4-5-20251001", usage, bedrock_model_id="anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    assert global_route == anthropic
    assert us_route == pytest.approx(0.00065 * BEDROCK_REGIONAL_PREMIUM)
    assert in_region == pytest.approx(haiku_4_5 * BEDROCK_REGIONAL_PREMIUM)
    # a response naming the Bedrock id itself is priced once, not twice
    assert (
        request_cost("us.anthropic.claude-haiku-5-5", usage, bedrock_model_id="us.anthropic.claude-haiku-5-5")
        == us_route
    )
    # the offline stand-in costs nothing on either provider
    assert request_cost("offline-extractive", usage, bedrock_model_id="us.anthropic.claude-haiku-5-5") == 0.0


def test_a_bedrock_id_has_its_routes_price_for_the_backfills_bound() -> None:
    haiku = price_for("claude-haiku-5-5")
    us = price_for("us.anthropic.claude-haiku-5-5")
    assert haiku is not None
    assert us is not None
    assert price_for("global.anthropic.claude-haiku-5-5") == haiku
    assert (us.input, us.output, us.long_input) == pytest.approx(
        (haiku.input * 1.1, haiku.output * 1.1, (haiku.long_input or 0) * 1.1)
    )
    assert us.long_context_threshold == haiku.long_context_threshold
    assert price_for("us.anthropic.claude-unknown-9") is None
