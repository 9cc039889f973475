"""Who the agent is on one call: the route's agent settings, resolved when the stream starts.

The webhook put `greeting`, `voice`, `language`, `transferTo` and `notice` in the stream's
parameters (they fit Twilio's 500-character limit); `instructions` can be long, so the streamer
reads them from its own copy of CALL_ROUTES by the called number (`to`). Parameters win over the
route for what the agent *says*; defaults fill the rest.

The transfer number is the exception: it comes only from the streamer's own CALL_ROUTES. The
session has checked the parameters' stream token (they are the ones our webhook put in the TwiML,
and the token itself is no longer among them), but where a live call may be sent stays the
streamer's own configuration's say, whatever a stream carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.routing import AgentConfig, AgentRoute, CallRoutes, HttpTool, is_e164


@dataclass(frozen=True)
class AgentProfile:
    greeting: str
    instructions: str
    voice: str
    language: str
    transfer_to: str | None
    notice: str | None
    tools: tuple[HttpTool, ...] = ()

    @classmethod
    def resolve(cls, params: Mapping[str, str], routes: CallRoutes) -> AgentProfile:
        route = routes.route_for(params.get("to"))
        config = route.agent if isinstance(route, AgentRoute) else AgentConfig()
        transfer = config.transfer_to
        return cls(
            greeting=params.get("greeting") or config.greeting,
            instructions=config.instructions,
            voice=params.get("voice") or config.voice,
            language=params.get("language") or config.language,
            transfer_to=transfer if transfer and is_e164(transfer) else None,
            notice=params.get("notice") or None,
            tools=config.tools,
        )
