"""What every agent call shares, built once per process from the streamer's settings.

Built at start so a bad prompt version, or HTTP tools without a signing secret, stops the task before
it takes a call, not at the first agent call (CALL_ROUTES, the allow-list and the model id are already
checked by the settings). The model client is one per process (connection pool shared by calls), on
the provider MODEL_PROVIDER names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.anthropic_clients import request_extras
from shared.errors import ConfigError
from shared.routing import AgentRoute, CallRoutes
from streamer.agent import prompt
from streamer.agent.call_line import CallLine
from streamer.agent.conversation import AgentConversation
from streamer.agent.llm import Brain, ModelClient, build_client
from streamer.agent.profile import AgentProfile
from streamer.agent.telephony import CallControl
from streamer.calllog import CallLog
from streamer.config import AgentSettings, DeepgramSettings, StreamerSettings
from streamer.metrics import StreamerMetrics


@dataclass(frozen=True)
class AgentDeps:
    settings: AgentSettings
    deepgram: DeepgramSettings  # the TTS socket: same base URL and key as transcription
    routes: CallRoutes
    anthropic: ModelClient | None  # Anthropic's API or Bedrock, as MODEL_PROVIDER says
    calls: CallControl
    extras: dict[str, Any]  # what every model request adds on that provider

    @classmethod
    def build(cls, settings: StreamerSettings) -> AgentDeps:
        """ConfigError (the streamer exits 2) for a bad prompt version, or tools that cannot be signed."""
        agent = settings.agent
        try:
            prompt.template(agent.prompt_version)
        except ValueError as exc:
            raise ConfigError(f"AGENT_PROMPT_VERSION: {exc}") from exc
        with_tools = [
            number
            for number, route in settings.call_routes.routes.items()
            if isinstance(route, AgentRoute) and route.agent.tools
        ]
        if with_tools and agent.tools_signing_secret is None:
            raise ConfigError(
                f"CALL_ROUTES declares HTTP tools for {with_tools}: set AGENT_TOOLS_SIGNING_SECRET "
                "(or AGENT_TOOLS_SECRET_ARN) so their requests can be signed"
            )
        anthropic = settings.anthropic
        key = anthropic.api_key.get_secret_value() if anthropic.api_key else None
        twilio = settings.twilio
        return cls(
            settings=agent,
            deepgram=settings.deepgram,
            routes=settings.call_routes,
            anthropic=build_client(
                settings.model_provider, key, anthropic.base_url, agent.model_timeout_seconds
            ),
            calls=CallControl(twilio.auth_token.get_secret_value(), twilio.api_base_url, twilio.account_sid),
            extras=request_extras(settings.model_provider.model_provider),
        )

    def conversation(
        self, line: CallLine, params: Mapping[str, str], metrics: StreamerMetrics, log: CallLog
    ) -> AgentConversation:
        profile = AgentProfile.resolve(params, self.routes)
        settings = self.settings

        def brain(system: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Brain:
            return Brain(self.anthropic, settings.model, settings.max_tokens, system, tools, self.extras)

        return AgentConversation(
            line=line,
            profile=profile,
            settings=settings,
            brain_factory=brain,
            speak_url=self.deepgram.speak_url(profile.voice),
            tts_key=self.deepgram.api_key.get_secret_value(),
            calls=self.calls,
            metrics=metrics,
            log=log,
        )

    async def close(self) -> None:
        if self.anthropic is not None:
            await self.anthropic.close()
