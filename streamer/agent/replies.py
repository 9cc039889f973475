"""The agent's side of a turn: model rounds streamed into speech, tools between rounds, and what
happens when the model fails.

Text deltas go through a sentence splitter and each finished sentence goes to the TTS at once, so
the caller hears the first sentence while the model writes the next. Tool uses run after the model's
message ends; their results go back for another round, at most `max_tool_rounds`.

A model failure never leaves the caller in silence: whatever it had said still plays, then an
apology that offers a transfer; a second failure in a row transfers (when the route has a number)
or says goodbye and hangs up.
"""

from __future__ import annotations

import asyncio

from streamer import metrics as m
from streamer.agent.ending import CallEnding
from streamer.agent.llm import Brain, History
from streamer.agent.phrases import (
    APOLOGY_NO_TRANSFER,
    APOLOGY_TRANSFER,
    FAILURE_GOODBYE,
    FAILURE_TRANSFER,
)
from streamer.agent.profile import AgentProfile
from streamer.agent.sentences import SentenceSplitter
from streamer.agent.speech import Speaker
from streamer.agent.telephony import CallControlError
from streamer.agent.tools import AgentTools
from streamer.agent.utterance import Utterance
from streamer.calllog import CallLog
from streamer.metrics import StreamerMetrics


class Replies:
    def __init__(
        self,
        brain: Brain,
        history: History,
        speaker: Speaker,
        tools: AgentTools,
        ending: CallEnding,
        profile: AgentProfile,
        max_tool_rounds: int,
        model_timeout: float,
        metrics: StreamerMetrics,
        log: CallLog,
    ) -> None:
        self._brain = brain
        self._history = history
        self._speaker = speaker
        self._tools = tools
        self._ending = ending
        self._profile = profile
        self._max_tool_rounds = max_tool_rounds
        self._model_timeout = model_timeout
        self._metrics = metrics
        self._log = log
        self._failures = 0  # model failures in a row

    async def respond(self, turn_ended_at: float, history_mark: int) -> None:
        """Answer the caller's turn that ended at `turn_ended_at` (monotonic); `history_mark` is the
        history's length before this reply, where a barge-in or a failure cuts it back to."""
        utterance = self._speaker.begin(turn_ended_at, history_mark)
        try:
            for _ in range(self._max_tool_rounds):
                splitter = SentenceSplitter()

                async def speak(
                    delta: str, utterance: Utterance = utterance, splitter: SentenceSplitter = splitter
                ) -> None:
                    for sentence in splitter.feed(delta):
                        await self._speaker.say(utterance, sentence)

                message = await asyncio.wait_for(
                    self._brain.think(self._history.for_request(), speak), self._model_timeout
                )
                for sentence in splitter.flush():
                    await self._speaker.say(utterance, sentence)
                content = [block.model_dump(exclude_none=True) for block in message.content]
                self._history.add("assistant", content)
                uses = [b for b in message.content if b.type == "tool_use"]
                if not uses:
                    break
                results = [await self._tools.run(u.name, u.id, dict(u.input or {}), utterance) for u in uses]
                self._history.add("user", results)
                if self._ending.active:
                    return
                if utterance.done.is_set():
                    # a failed end_call/transfer_call finished (and played) the words so far: what the
                    # model says next is a new utterance, so it can be interrupted and is stored
                    utterance = self._speaker.begin(None, len(self._history))
            self._failures = 0
            await self._speaker.finish(utterance)
        except InterruptedError:
            return  # the stream ended while the last words were playing
        except Exception as exc:  # noqa: BLE001 - any model failure: apologise, never go silent
            await self._model_failed(exc, utterance, history_mark)

    async def _model_failed(self, exc: Exception, utterance: Utterance, history_mark: int) -> None:
        self._failures += 1
        self._metrics.incr(m.AGENT_MODEL_ERRORS)
        self._log.error(
            "agent model failed", error=f"{type(exc).__name__}: {exc}"[:300], failures=self._failures
        )
        self._history.truncate(history_mark)
        await self._speaker.finish(utterance)  # whatever it had said before failing still plays out
        say = self._speaker.say_scripted
        try:
            if self._failures >= 2 and self._profile.transfer_to:
                await self._ending.after_last_words(
                    await say(FAILURE_TRANSFER), "transfer", self._profile.transfer_to
                )
            elif self._failures >= 2:
                await self._ending.after_last_words(await say(FAILURE_GOODBYE), "hangup", None)
            else:
                await say(APOLOGY_TRANSFER if self._profile.transfer_to else APOLOGY_NO_TRANSFER)
        except CallControlError as exc2:
            self._ending.abandon()
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            self._log.error("could not end the call after model failures", error=str(exc2)[:300])
