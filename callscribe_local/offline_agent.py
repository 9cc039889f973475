"""The voice agent's "thinking" offline: a short scripted conversation behind the Messages API.

No language model: `OfflineAgent` reads the agent's request (the history the streamer sends, with
its tools) and answers as a receptionist would in the simplest call: it repeats the caller's words
back (so a local run shows what the agent heard), ends the call with `end_call` when the caller says
goodbye, transfers with `transfer_call` when they ask for a person, and apologises when a tool fails.
Every answer says it comes from the offline agent, and the local stack names the model
`offline-scripted-agent` (segments' `source` is `agent:offline-scripted-agent`), so nothing offline
passes for Claude. The greeting is the route's, spoken by the streamer before any request.

`OfflineModels` is what the local Anthropic stand-in answers with: agent requests (they offer the
`end_call` tool) go to `OfflineAgent`, everything else to the offline summariser.
"""

from __future__ import annotations

import re
from typing import Any

from callscribe_local.anthropic_replies import RecordedRequest, Reply
from callscribe_local.offline_summarizer import OfflineSummarizer

OFFLINE_AGENT_MODEL = "offline-scripted-agent"
END_CALL, TRANSFER_CALL = "end_call", "transfer_call"
CALL_CONNECTS = "(The call connects.)"  # the streamer's placeholder first user turn
QUOTED_WORDS = 16  # at most this many of the caller's words are repeated back

_GOODBYE = re.compile(
    r"\b(good ?bye|bye|that'?s all|that is all|nothing else|hang up|have a (good|nice) day)\b", re.IGNORECASE
)
_PERSON = re.compile(r"\b(a (real )?person|human|operator|someone|transfer)\b", re.IGNORECASE)


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _caller_text(message: dict[str, Any]) -> str:
    texts = [str(b.get("text", "")) for b in _blocks(message) if b.get("type") == "text"]
    return " ".join(t.strip() for t in texts if t.strip() and t.strip() != CALL_CONNECTS)


def is_agent_request(request: RecordedRequest) -> bool:
    tools = request.body.get("tools") or []
    return any(isinstance(t, dict) and t.get("name") == END_CALL for t in tools)


class OfflineAgent:
    """Answers the voice agent's Messages API requests with a scripted receptionist."""

    model = OFFLINE_AGENT_MODEL

    def __call__(self, request: RecordedRequest) -> Reply:
        messages = [m for m in request.body.get("messages", []) if isinstance(m, dict)]
        last = messages[-1] if messages else {}
        results = [b for b in _blocks(last) if b.get("type") == "tool_result"]
        if last.get("role") == "user" and results:
            if any(b.get("is_error") for b in results):
                return self._say("Sorry, I could not do that. Is there anything else I can help with?")
            return self._say("")
        heard = _caller_text(last) if last.get("role") == "user" else ""
        if not heard:
            return self._say("Sorry, I did not catch that. Could you say it again?")
        if _GOODBYE.search(heard):
            return self._use(
                "Thank you for calling. Goodbye!", END_CALL, {"reason": "the caller said goodbye"}
            )
        if _PERSON.search(heard) and any(
            isinstance(t, dict) and t.get("name") == TRANSFER_CALL for t in request.body.get("tools") or []
        ):
            return self._use("Of course, let me put you through to a person.", TRANSFER_CALL, {})
        words = heard.split()
        quoted = " ".join(words[:QUOTED_WORDS]) + (" …" if len(words) > QUOTED_WORDS else "")
        earlier = sum(1 for m in messages[:-1] if m.get("role") == "user" and _caller_text(m))
        if earlier == 0:
            return self._say(
                f'You said: "{quoted}". I am the offline agent, with no language model, so I can only '
                "repeat what I heard. Is there anything else? Say goodbye to end the call."
            )
        return self._say(f'You said: "{quoted}". Anything else? Say goodbye to end the call.')

    def _say(self, text: str) -> Reply:
        return Reply(text=text, model=self.model)

    def _use(self, text: str, tool: str, arguments: dict[str, Any]) -> Reply:
        return Reply(text=text, tool_uses=((tool, arguments),), stop_reason="tool_use", model=self.model)


class OfflineModels:
    """The local Anthropic stand-in's answers: the offline agent for agent requests, the offline
    summariser for everything else (summaries, evaluation questions)."""

    def __init__(self) -> None:
        self.agent = OfflineAgent()
        self.summarizer = OfflineSummarizer()

    def __call__(self, request: RecordedRequest) -> Reply:
        if is_agent_request(request):
            return self.agent(request)
        return self.summarizer(request)
