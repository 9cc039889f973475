"""The agent never leaves a call hanging: a prompt after `silence_prompt` seconds without the caller,
goodbye and hang-up after `silence_hangup`, and a polite end at `max_call` whatever is happening.

Silence is counted from the later of the caller's last speech or keypress and the end of the agent's
last reply (its "are you still there?" excluded, so the prompt does not restart the count). Nobody
is silent while the agent holds the floor or a caller turn is being gathered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from streamer import metrics as m
from streamer.agent.ending import CallEnding
from streamer.agent.phrases import MAX_CALL_GOODBYE, SILENCE_GOODBYE, SILENCE_PROMPT
from streamer.agent.speech import Speaker
from streamer.agent.telephony import CallControlError
from streamer.agent.turns import TurnTaking
from streamer.agent.utterance import Utterance
from streamer.calllog import CallLog
from streamer.metrics import StreamerMetrics


class Watchdogs:
    def __init__(
        self,
        silence_prompt: float,
        silence_hangup: float,
        max_call: float,
        turns: TurnTaking,
        speaker: Speaker,
        ending: CallEnding,
        close_stream: Callable[[], Awaitable[None]],
        metrics: StreamerMetrics,
        log: CallLog,
        started_at: float,
    ) -> None:
        self._silence_prompt = silence_prompt
        self._silence_hangup = silence_hangup
        self._max_call = max_call
        self._turns = turns
        self._speaker = speaker
        self._ending = ending
        self._close_stream = close_stream
        self._metrics = metrics
        self._log = log
        self._started_at = started_at
        self._last_reply_end = started_at  # the agent's last words (a silence prompt excluded)
        # the stretch of silence already prompted for, named by when the caller was last active
        self._prompted_for: float | None = None

    def agent_spoke(self, utterance: Utterance) -> None:
        """An utterance finished (played or interrupted): silence now counts from here."""
        if utterance.text != SILENCE_PROMPT:
            self._last_reply_end = time.monotonic()

    async def run(self) -> None:
        tick = max(0.02, min(0.5, self._silence_prompt / 10))
        turns = self._turns
        while not self._ending.active:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - self._started_at >= self._max_call:
                await self._hang_up_politely(MAX_CALL_GOODBYE, "max-call-length")
                return
            if turns.busy:
                continue
            quiet = now - max(turns.caller_active_at, self._last_reply_end)
            if quiet >= self._silence_hangup:
                await self._hang_up_politely(SILENCE_GOODBYE, "silence")
                return
            if quiet >= self._silence_prompt and self._prompted_for != turns.caller_active_at:
                self._prompted_for = turns.caller_active_at
                self._log.info("silence: prompting the caller", quiet_seconds=round(quiet, 1))
                await self._speaker.say_scripted(SILENCE_PROMPT)

    async def _hang_up_politely(self, text: str, reason: str) -> None:
        self._log.info("agent ending the call", reason=reason)
        self._ending.begin()  # from here on the caller's words do not interrupt the goodbye
        self._turns.cancel_reply()
        if self._speaker.busy:
            self._speaker.interrupt()
        try:
            await self._ending.after_last_words(await self._speaker.say_scripted(text), "hangup", None)
        except CallControlError as exc:
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            self._log.error("could not hang up", error=str(exc)[:300])
            await self._close_stream()
        except InterruptedError:
            return
        self._ending.reason = reason
