"""The model provider's stand-in for a test, by provider: the Anthropic Messages API or Amazon
Bedrock's runtime, answering from the same responder, and the environment a tier reads to reach it
(`MODEL_PROVIDER` and the provider's URL and credentials: a key, or the local AWS credentials every
test process has). Tests parametrised over `PROVIDERS` run one scenario on both."""

from __future__ import annotations

from callscribe_local.anthropic_replies import Responder
from callscribe_local.anthropic_server import AnthropicServer
from callscribe_local.aws_local import LOCAL_REGION
from callscribe_local.bedrock_server import BedrockServer
from shared.anthropic_clients import DEFAULT_MODELS, ModelProvider

PROVIDERS = (ModelProvider.ANTHROPIC.value, ModelProvider.BEDROCK.value)
ANTHROPIC_KEY = "sk-ant-test-0123456789"
ModelServer = AnthropicServer | BedrockServer


def model_server(provider: str, responder: Responder) -> ModelServer:
    """The provider's stand-in (not started), taking the test key or the local AWS credentials."""
    if provider == ModelProvider.BEDROCK:
        return BedrockServer(responder, region=LOCAL_REGION)
    return AnthropicServer(responder, api_key=ANTHROPIC_KEY)


def model_env(server: ModelServer) -> dict[str, str]:
    """What the summaries Lambda and the streamer read to ask `server` (their default model)."""
    if isinstance(server, BedrockServer):
        return {
            "MODEL_PROVIDER": ModelProvider.BEDROCK.value,
            "ANTHROPIC_BEDROCK_BASE_URL": server.base_url,
            "BEDROCK_REGION": server.region,
        }
    return {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": server.base_url}


def default_model(provider: str) -> str:
    """The model id a tier asks for when its setting is unset (what the request names)."""
    return DEFAULT_MODELS[ModelProvider(provider)]
