"""The real streamer in agent mode against every local stand-in: Deepgram (listen + speak), the model
(the Anthropic Messages API, or Amazon Bedrock's runtime with `provider="bedrock"`: scripted, streamed),
Twilio REST, and moto. One `AgentRig` per test."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from callscribe_local.anthropic_replies import RecordedRequest, Responder, ScriptedResponder, ScriptItem
from callscribe_local.aws_local import LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn, SpeakOptions
from callscribe_local.twilio_rest import RecordedRequest as TwilioRequest
from callscribe_local.twilio_rest import TwilioRestStandIn
from streamer.server import StreamerServer
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.support.agent_phone import AgentPhone
from tests.support.model_servers import ModelServer, model_env, model_server
from tests.support.scripted_recognizer import ScriptedRecognizer
from tests.support.streamer_harness import DEEPGRAM_KEY, streamer_running, twilio_stream

CALLED = "+14155550177"
CALLER = "+14155550123"
TRANSFER_TO = "+14155550111"
INSTRUCTIONS = "You answer for Acme Plumbing. Opening hours are 8 to 5."
GREETING = "Thanks for calling Acme."


@dataclass
class AgentRig:
    server: StreamerServer
    deepgram: DeepgramStandIn
    anthropic: ModelServer  # the provider's stand-in (Anthropic's API or Bedrock's runtime)
    responder: ScriptedResponder
    twilio: TwilioRestStandIn

    def phone(self, call_sid: str) -> AgentPhone:
        """A new call: Twilio knows it (so REST updates succeed) and its stream is about to open."""
        self.twilio.calls[call_sid] = {
            "sid": call_sid,
            "account_sid": TEST_ACCOUNT_SID,
            "status": "in-progress",
        }
        return AgentPhone(twilio_stream(self.server, call_sid))

    def updates(self, call_sid: str) -> list[TwilioRequest]:
        return [r for r in self.twilio.requests if r.path.endswith(f"/Calls/{call_sid}.json")]

    def model_requests(self) -> list[RecordedRequest]:
        return self.anthropic.requests


def call_parameters(call_sid: str, **extra: str) -> dict[str, str]:
    """What the webhook's TwiML puts in the agent stream's <Parameter>s."""
    return {
        "callSid": call_sid,
        "direction": "inbound",
        "from": CALLER,
        "to": CALLED,
        "route": "agent",
        "greeting": GREETING,
        "voice": "aura-2-thalia-en",
        "language": "en",
        "transferTo": TRANSFER_TO,
        **extra,
    }


@contextlib.asynccontextmanager
async def agent_rig(
    local: LocalAws,
    *replies: ScriptItem,
    speak: SpeakOptions | None = None,
    default: Responder | None = None,
    provider: str = "anthropic",
    **overrides: str,
) -> AsyncIterator[AgentRig]:
    responder = ScriptedResponder(*replies, default=default)
    routes: dict[str, Any] = {
        CALLED: {"agent": {"greeting": GREETING, "instructions": INSTRUCTIONS, "transferTo": TRANSFER_TO}}
    }
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        dg.speak = speak or SpeakOptions(bytes_per_char=20, chunk_bytes=400)
        with (
            model_server(provider, responder) as anthropic,
            TwilioRestStandIn(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as twilio,
        ):
            env = {
                **model_env(anthropic),
                "TWILIO_API_BASE_URL": twilio.base_url,
                "CALL_ROUTES": json.dumps(routes),
                "AGENT_END_GRACE_SECONDS": "3",
                "AGENT_DTMF_WAIT_SECONDS": "0.3",
                "AGENT_MODEL_TIMEOUT_SECONDS": "5",
                **overrides,
            }
            async with streamer_running(local, dg.url, **env) as server:
                yield AgentRig(server, dg, anthropic, responder, twilio)
