"""What every agent call shares, built once per process from the streamer's settings.

Built at start so a bad CALL_ROUTES or prompt version stops the task before it takes a call, not at
the first agent call. The Anthropic client is one per process (connection pool shared by calls).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anthropic import AsyncAnthropic

from shared.errors import ConfigError
from shared.routing import AgentRoute, CallRoutes, is_e164, parse_call_routes
from streamer.agent import prompt
from streamer.agent.conversation import AgentConversation, AgentOptions
from streamer.agent.line import CallLine
from streamer.agent.model import Brain, build_client
from streamer.agent.profile import AgentProfile
from streamer.agent.telephony import CallControl
from streamer.calllog import CallLog
from streamer.config import StreamerSettings
from streamer.metrics import StreamerMetrics


@dataclass(frozen=True)
class AgentDeps:
    settings: StreamerSettings
    options: AgentOptions
    routes: CallRoutes
    anthropic: AsyncAnthropic | None
    calls: CallControl

    @classmethod
    def build(cls, settings: StreamerSettings) -> AgentDeps:
        """ConfigError (the streamer exits 2) for a bad prompt version, allow-list or CALL_ROUTES."""
        try:
            prompt.template(settings.agent_prompt_version)
        except ValueError as exc:
            raise ConfigError(f"AGENT_PROMPT_VERSION: {exc}") from exc
        allow = tuple(n.strip() for n in settings.agent_transfer_allowlist.split(",") if n.strip())
        bad = [n for n in allow if not is_e164(n)]
        if bad:
            raise ConfigError(f"AGENT_TRANSFER_ALLOWLIST has numbers that are not E.164: {bad}")
        key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
        routes = parse_call_routes(settings.call_routes)
        with_tools = [
            number
            for number, route in routes.routes.items()
            if isinstance(route, AgentRoute) and route.agent.tools
        ]
        if with_tools and settings.agent_tools_signing_secret is None:
            raise ConfigError(
                f"CALL_ROUTES declares HTTP tools for {with_tools}: set AGENT_TOOLS_SIGNING_SECRET "
                "(or AGENT_TOOLS_SECRET_ARN) so their requests can be signed"
            )
        return cls(
            settings=settings,
            options=AgentOptions(
                model=settings.agent_model,
                max_tokens=settings.agent_max_tokens,
                prompt_version=settings.agent_prompt_version,
                model_timeout=settings.agent_model_timeout_seconds,
                max_tool_rounds=settings.agent_max_tool_rounds,
                silence_prompt=settings.agent_silence_prompt_seconds,
                silence_hangup=settings.agent_silence_hangup_seconds,
                max_call=settings.agent_max_call_seconds,
                dtmf_wait=settings.agent_dtmf_wait_seconds,
                end_grace=settings.agent_end_grace_seconds,
                transfer_allowlist=allow,
            ),
            routes=routes,
            anthropic=build_client(key, settings.anthropic_base_url, settings.agent_model_timeout_seconds),
            calls=CallControl(
                settings.twilio_auth_token.get_secret_value(),
                settings.twilio_api_base_url,
                settings.twilio_account_sid,
            ),
        )

    def conversation(
        self, line: CallLine, params: Mapping[str, str], metrics: StreamerMetrics, log: CallLog
    ) -> AgentConversation:
        profile = AgentProfile.resolve(params, self.routes)
        options = self.options

        def brain(system: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Brain:
            return Brain(self.anthropic, options.model, options.max_tokens, system, tools)

        return AgentConversation(
            line=line,
            profile=profile,
            options=options,
            brain_factory=brain,
            speak_url=self.settings.deepgram_speak_url(profile.voice),
            tts_key=self.settings.deepgram_api_key.get_secret_value(),
            calls=self.calls,
            metrics=metrics,
            log=log,
            tool_secret=secret.get_secret_value()
            if (secret := self.settings.agent_tools_signing_secret)
            else "",
        )

    async def close(self) -> None:
        if self.anthropic is not None:
            await self.anthropic.close()
