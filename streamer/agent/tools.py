"""The model's tools on one call: the built-ins (`end_call`, `transfer_call`, `send_dtmf`) and the
route's HTTP tools, each answered with a `tool_result` block for the model's next round.

Every failure is an answer, never an exception: a refused transfer number, a Twilio error or an HTTP
tool that fails goes back to the model as a tool error (`is_error`), so it can tell the caller and
the call goes on. The transfer target is checked here against the route's `transferTo` and
AGENT_TRANSFER_ALLOWLIST only, never against anything the stream's parameters say.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from shared.routing import is_e164
from streamer import metrics as m
from streamer.agent import http_tools, prompt
from streamer.agent.call_line import CallLine
from streamer.agent.dtmf import dtmf_audio
from streamer.agent.ending import CallEnding
from streamer.agent.profile import AgentProfile
from streamer.agent.speech import Speaker
from streamer.agent.telephony import CallControlError
from streamer.agent.utterance import Utterance
from streamer.calllog import CallLog
from streamer.metrics import StreamerMetrics


class AgentTools:
    def __init__(
        self,
        line: CallLine,
        profile: AgentProfile,
        transfer_allowlist: Sequence[str],
        tool_secret: str,
        ending: CallEnding,
        speaker: Speaker,
        metrics: StreamerMetrics,
        log: CallLog,
    ) -> None:
        self._line = line
        self._profile = profile
        self._tool_secret = tool_secret
        self._ending = ending
        self._speaker = speaker
        self._metrics = metrics
        self._log = log
        allowed = [n for n in transfer_allowlist if is_e164(n)]
        if profile.transfer_to and profile.transfer_to not in allowed:
            allowed.insert(0, profile.transfer_to)
        self.transfer_numbers = allowed
        self._http_tools = {tool.name: tool for tool in profile.tools}
        self.called: list[str] = []  # tool names in call order, for the call's log

    def definitions(self) -> list[dict[str, Any]]:
        """What the model is offered: the built-ins (transfer numbers named), then the route's own."""
        return prompt.tools(self.transfer_numbers) + [http_tools.definition(t) for t in self._profile.tools]

    async def run(
        self, name: str, tool_id: str, args: dict[str, Any], utterance: Utterance
    ) -> dict[str, Any]:
        """One tool use; `utterance` is the reply being spoken (an ending waits for it to play)."""
        self.called.append(name)
        self._metrics.incr(m.AGENT_TOOL_CALLS)
        self._log.info("agent tool call", tool=name)
        if name in self._http_tools:
            return await self._run_http_tool(name, tool_id, args)
        if name not in (prompt.END_CALL, prompt.TRANSFER_CALL, prompt.SEND_DTMF):
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            return _tool_error(tool_id, f"unknown tool {name!r}")
        try:
            if name == prompt.END_CALL:
                await self._ending.after_last_words(utterance, "hangup", None)
                result = "The call has ended."
            elif name == prompt.TRANSFER_CALL:
                number = self._transfer_target(args.get("number"))
                await self._ending.after_last_words(utterance, "transfer", number)
                result = f"Transferring the call to {number}."
            else:
                digits = str(args.get("digits", ""))
                # pure-Python sample maths, ~50 ms for 32 digits: off the loop, which serves every call
                tones = await asyncio.to_thread(dtmf_audio, digits)
                await self._speaker.play(utterance, tones, "dtmf")
                result = f"Played the tones {digits}."
        except (ValueError, CallControlError) as exc:
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            self._log.warning("agent tool failed", tool=name, error=str(exc)[:300])
            self._ending.abandon()
            return _tool_error(tool_id, str(exc))
        return {"type": "tool_result", "tool_use_id": tool_id, "content": result}

    async def _run_http_tool(self, name: str, tool_id: str, args: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            result = await http_tools.call(
                self._http_tools[name], self._tool_secret, self._line.call_sid, args
            )
        except http_tools.ToolFailedError as exc:
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            self._log.warning("agent http tool failed", tool=name, error=str(exc)[:300])
            return _tool_error(tool_id, str(exc))
        self._log.info(
            "agent http tool answered", tool=name, millis=round((time.monotonic() - started) * 1000)
        )
        return {"type": "tool_result", "tool_use_id": tool_id, "content": result}

    def _transfer_target(self, requested: object) -> str:
        if requested:
            number = str(requested).strip()
            if number not in self.transfer_numbers:
                raise ValueError(
                    f"{number} is not an allowed transfer number; allowed: {self.transfer_numbers or 'none'}"
                )
            return number
        if self._profile.transfer_to:
            return self._profile.transfer_to
        if len(self.transfer_numbers) == 1:
            return self.transfer_numbers[0]
        raise ValueError("no default transfer number is configured for this line")


def _tool_error(tool_id: str, message: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "is_error": True, "content": message[:500]}
