"""Turn taking: when the caller's turn ends, and what happens when the caller speaks over the agent.

A caller turn ends on a final Results with `speech_final` or on UtteranceEnd (keypad digits after
`dtmf_wait` seconds); each turn starts one reply task. Caller speech or a key press while the agent
holds the floor is a barge-in: the reply is cancelled, the speaker clears, and the history keeps only
what was heard. Once the agent is ending the call, the caller's words change nothing.
Must keep: everything here runs synchronously in the session's read loop (one message at a time),
so a barge-in and a turn ending in the same message see each other's effects in order.
docs/agent.md ("Turns", "Barge-in") has the long form.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from streamer import metrics as m
from streamer.agent.ending import CallEnding
from streamer.agent.llm import History
from streamer.agent.speech import Speaker
from streamer.calllog import CallLog
from streamer.deepgram_messages import ListenEvent, Results, SpeechStarted, UtteranceEnd
from streamer.metrics import StreamerMetrics
from streamer.tasks import TaskSet

# Starts the agent's reply to a turn: (monotonic end of the caller's turn, history length before it).
Respond = Callable[[float, int], Coroutine[Any, Any, None]]


class TurnTaking:
    def __init__(
        self,
        speaker: Speaker,
        history: History,
        ending: CallEnding,
        respond: Respond,
        tasks: TaskSet,
        dtmf_wait: float,
        metrics: StreamerMetrics,
        log: CallLog,
        started_at: float,
    ) -> None:
        self._speaker = speaker
        self._history = history
        self._ending = ending
        self._respond = respond
        self._tasks = tasks
        self._dtmf_wait = dtmf_wait
        self._metrics = metrics
        self._log = log
        self._reply: asyncio.Task[None] | None = None
        self._finals: list[str] = []
        self._digits: list[str] = []
        self._digit_timer: asyncio.TimerHandle | None = None
        self.caller_active_at = started_at  # monotonic: the caller's last speech or keypress
        self.turns = 0
        self.barge_ins = 0

    # ---- inputs (never block) ----------------------------------------------------------------------

    def on_stt(self, event: ListenEvent) -> None:
        if self._ending.active:
            return
        if type(event) is Results:
            if event.has_speech:
                self._caller_active()
            transcript = event.transcript.strip()
            if event.is_final and transcript:
                self._finals.append(transcript)
            if event.is_final and event.speech_final:
                self._end_turn()
        elif isinstance(event, SpeechStarted):
            self._caller_active()
        elif isinstance(event, UtteranceEnd):
            self._end_turn()

    def on_dtmf(self, digit: str) -> None:
        if self._ending.active:
            return
        self._caller_active()
        self._digits.append(digit)
        if self._digit_timer is not None:
            self._digit_timer.cancel()
        loop = asyncio.get_running_loop()
        self._digit_timer = loop.call_later(self._dtmf_wait, self._digits_done)

    # ---- state others read -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """The agent holds the floor, or a caller turn is being gathered: nobody is silent."""
        return self.holding_floor() or bool(self._finals) or bool(self._digits)

    def holding_floor(self) -> bool:
        replying = self._reply is not None and not self._reply.done()
        return replying or self._speaker.busy

    def cancel_reply(self) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.cancel()

    def close(self) -> None:
        if self._digit_timer is not None:
            self._digit_timer.cancel()

    # ---- turns -------------------------------------------------------------------------------------

    def _caller_active(self) -> None:
        self.caller_active_at = time.monotonic()
        if self.holding_floor():
            self._barge_in()

    def _digits_done(self) -> None:
        self._digit_timer = None
        digits, self._digits = "".join(self._digits), []
        if digits and not self._ending.active:
            self._take_turn(f"[The caller pressed the keypad: {digits}]")

    def _end_turn(self) -> None:
        if not self._finals:
            return
        text, self._finals = " ".join(self._finals), []
        self._take_turn(text)

    def _take_turn(self, text: str) -> None:
        self.turns += 1
        self._metrics.incr(m.AGENT_TURNS)
        ended_at = time.monotonic()
        self._log.info("caller turn", turn=self.turns, chars=len(text))
        if self.holding_floor():
            self._barge_in()  # keypad input over the agent's words
        self._history.add("user", text)
        self._reply = self._tasks.spawn(self._respond(ended_at, len(self._history)), "agent-reply")

    def _barge_in(self) -> None:
        """Synchronous on purpose: the turn that may end in the same Deepgram message must see
        the reply cancelled and the history already cut back to what the caller heard."""
        self.cancel_reply()
        current = self._speaker.current
        if current is not None and current.history_mark is not None and not current.done.is_set():
            self._history.truncate(current.history_mark)  # drop what the model planned to say
        utterance = self._speaker.interrupt()
        self.barge_ins += 1
        self._metrics.incr(m.AGENT_BARGE_INS)
        heard = utterance.heard if utterance is not None else ""
        if utterance is not None and utterance.history_mark is not None and heard:
            self._history.add("assistant", heard + " …")
        self._log.info(
            "barge-in",
            heard_chars=len(heard),
            said_chars=len(utterance.text) if utterance is not None else 0,
        )
