"""One agent call: its parts wired together, its inputs from the session, its start and its end.

Driven by the call's `CallSession`: `on_stt` (every Deepgram event of the caller's track), `on_mark`,
`on_dtmf` and `on_media` (the stream clock) are called from the session's read loop. Each concern
has its own module (`TurnTaking`, `Replies`, `AgentTools`, `CallEnding`, `Watchdogs`, `Speaker`,
`AgentTranscript`; docs/agent.md lists what each decides). Must keep: the `on_*` inputs never block,
and every task the parts start is owned here and cancelled in `close()`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from streamer.agent import prompt
from streamer.agent.call_line import CallLine
from streamer.agent.ending import CallEnding
from streamer.agent.llm import Brain, History
from streamer.agent.profile import AgentProfile
from streamer.agent.replies import Replies
from streamer.agent.speech import Speaker
from streamer.agent.telephony import CallControl
from streamer.agent.tools import AgentTools
from streamer.agent.transcript import AgentTranscript
from streamer.agent.turns import TurnTaking
from streamer.agent.utterance import Utterance
from streamer.agent.watchdogs import Watchdogs
from streamer.calllog import CallLog
from streamer.config import AgentSettings
from streamer.deepgram_messages import ListenEvent
from streamer.metrics import StreamerMetrics
from streamer.tasks import TaskSet


class AgentConversation:
    def __init__(
        self,
        line: CallLine,
        profile: AgentProfile,
        settings: AgentSettings,
        brain_factory: Callable[[list[dict[str, Any]], list[dict[str, Any]]], Brain],
        speak_url: str,
        tts_key: str,
        calls: CallControl,
        metrics: StreamerMetrics,
        log: CallLog,
    ) -> None:
        self._profile = profile
        self._settings = settings
        self._metrics = metrics
        self._log = log.bind(mode="agent")
        self._tasks = TaskSet(self._log, "agent task failed")
        self._tts: asyncio.Task[None] | None = None  # the TTS socket: ends by itself once closed
        started_at = time.monotonic()
        self.history = History()
        self.speaker = Speaker(
            speak_url,
            tts_key,
            line.send,
            line.stream_sid,
            self._log,
            on_first_audio=self._first_audio,
            on_finished=self._utterance_finished,
        )
        self.ending = CallEnding(
            line, calls, self.speaker, settings.end_grace_seconds, self._tasks, self._log
        )
        self.tools = AgentTools(
            line,
            profile,
            settings.transfer_allowlist,
            secret.get_secret_value() if (secret := settings.tools_signing_secret) else "",
            self.ending,
            self.speaker,
            metrics,
            self._log,
        )
        self._brain = brain_factory(
            prompt.system_blocks(settings.prompt_version, profile.instructions), self.tools.definitions()
        )
        replies = Replies(
            self._brain,
            self.history,
            self.speaker,
            self.tools,
            self.ending,
            profile,
            settings.max_tool_rounds,
            settings.model_timeout_seconds,
            metrics,
            self._log,
        )
        self.turns = TurnTaking(
            self.speaker,
            self.history,
            self.ending,
            replies.respond,
            self._tasks,
            settings.dtmf_wait_seconds,
            metrics,
            self._log,
            started_at,
        )
        self._watchdogs = Watchdogs(
            settings.silence_prompt_seconds,
            settings.silence_hangup_seconds,
            settings.max_call_seconds,
            self.turns,
            self.speaker,
            self.ending,
            line.close_stream,
            metrics,
            self._log,
            started_at,
        )
        self.transcript = AgentTranscript(line.store_segment, self.history, started_at)

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._log.info(
            "agent starting",
            prompt_version=self._settings.prompt_version,
            model=self._brain.model,
            voice=self._profile.voice,
            transfer_numbers=self.tools.transfer_numbers,
        )
        self._tts = self._tasks.spawn(self.speaker.run(), "agent-tts")
        self._tasks.spawn(self._greet(), "agent-greet")
        self._tasks.spawn(self._watchdogs.run(), "agent-watchdog")

    async def close(self) -> None:
        """The stream ended: stop everything; store what the caller heard of an unfinished reply."""
        self.ending.begin()
        self.turns.close()
        if self.speaker.busy:
            # the call ended mid-sentence: what had played by now is stored (AgentTranscript), here,
            # before the session flushes the call's writes
            self.speaker.interrupt()
        await self.speaker.close()  # Close on the TTS socket: its task then ends by itself
        for task in self._tasks.pending():
            if task is not self._tts:
                task.cancel()
        await self._tasks.settle(grace=2.0, cancelled_grace=1.0)
        self._log.info(
            "agent finished",
            turns=self.turns.turns,
            barge_ins=self.turns.barge_ins,
            tool_calls=self.tools.called,
            end_reason=self.ending.reason,
        )

    async def _greet(self) -> None:
        await self.speaker.wait_connected(5.0)
        if self.turns.turns or self.ending.active:
            # the TTS was slow and the caller spoke first: a greeting now would cut in over the reply
            self._log.info("greeting skipped: the conversation already started")
            return
        text = self._profile.greeting
        if self._profile.notice:
            text = f"{self._profile.notice.strip()} {text}"
        await self.speaker.say_scripted(text)

    # ---- inputs from the session (never block) -----------------------------------------------------

    def on_media(self, timestamp_ms: int) -> None:
        self.transcript.on_media(timestamp_ms)

    def on_mark(self, name: str) -> None:
        self.speaker.on_mark(name)

    def on_dtmf(self, digit: str) -> None:
        self.turns.on_dtmf(digit)

    def on_stt(self, event: ListenEvent) -> None:
        self.turns.on_stt(event)

    # ---- the speaker's callbacks -------------------------------------------------------------------

    def _first_audio(self, utterance: Utterance) -> None:
        if utterance.turn_ended_at is not None and utterance.first_audio_at is not None:
            self._metrics.agent_first_audio((utterance.first_audio_at - utterance.turn_ended_at) * 1000)

    def _utterance_finished(self, utterance: Utterance) -> None:
        self._watchdogs.agent_spoke(utterance)
        self.transcript.utterance_finished(utterance)
