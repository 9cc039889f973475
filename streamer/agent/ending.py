"""The agent ending the call: after its last words have played, hang up or transfer through Twilio.

One object holds the decision because three parts take it (the model's tools, the watchdogs, a
second model failure) and two more obey it: once `active`, the caller's words no longer interrupt
the goodbye and a reply stops after its tools. If Twilio refuses, the decision is `abandon`ed and the
conversation goes on. After a successful REST call Twilio stops the stream; if it does not within
`end_grace`, the agent closes the socket itself so the call's transcript still gets finished.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from streamer.agent.call_line import CallLine
from streamer.agent.speech import Speaker
from streamer.agent.telephony import CallControl
from streamer.agent.utterance import Utterance
from streamer.calllog import CallLog
from streamer.tasks import TaskSet

LAST_WORDS_TIMEOUT = 30.0  # seconds an ending waits for its last words' mark

Action = Literal["hangup", "transfer"]


class CallEnding:
    def __init__(
        self,
        line: CallLine,
        calls: CallControl,
        speaker: Speaker,
        end_grace: float,
        tasks: TaskSet,
        log: CallLog,
    ) -> None:
        self._line = line
        self._calls = calls
        self._speaker = speaker
        self._end_grace = end_grace
        self._tasks = tasks
        self._log = log
        self.active = False  # the agent has decided to end (or the stream is closing)
        self.ended = asyncio.Event()  # Twilio accepted the hang-up or transfer
        self.reason: str | None = None

    def begin(self) -> None:
        self.active = True

    def abandon(self) -> None:
        """Twilio refused (or a tool failed): the call goes on, and the caller may interrupt again."""
        self.active = False

    async def after_last_words(self, utterance: Utterance, action: Action, number: str | None) -> None:
        """Hang up or transfer once `utterance` has played; `InterruptedError` when the stream ended
        before it did, `CallControlError` when Twilio refused."""
        self.active = True
        await self._speaker.finish(utterance)
        try:
            await asyncio.wait_for(utterance.done.wait(), LAST_WORDS_TIMEOUT)
        except TimeoutError:  # no mark back (TTS down, Twilio silent): act anyway, never hang forever
            self._log.warning("last words not confirmed played in time", action=action)
        if utterance.interrupted:
            raise InterruptedError("the stream ended before the last words played")
        if action == "transfer":
            assert number is not None
            await self._calls.transfer(self._line.account_sid, self._line.call_sid, number)
        else:
            await self._calls.hang_up(self._line.account_sid, self._line.call_sid)
        self.reason = action if number is None else f"{action}:{number}"
        self._log.info("agent ended the call", action=action, number=number)
        self.ended.set()
        self._tasks.spawn(self._close_after_grace(), "agent-end-grace")

    async def _close_after_grace(self) -> None:
        await asyncio.sleep(self._end_grace)
        self._log.warning("no stop from Twilio after the call ended: closing the stream")
        await self._line.close_stream()
