"""One agent call: listen, think, speak, in turns, with barge-in, tools, watchdogs and a clean end.

Driven by the call's `CallSession`: `on_stt` (every Deepgram event of the caller's track), `on_mark`,
`on_dtmf` and `on_media` (the stream clock) are called from the session's read loop and never block;
the work runs in tasks this object owns and cancels in `close()`.

- A caller turn ends on `speech_final` or `UtteranceEnd`, with the finals heard so far joined. Keypad
  digits are collected for `dtmf_wait` seconds and then form a turn too.
- Each turn starts one reply task: model rounds (streamed text → sentences → TTS), then tools.
- Caller speech (SpeechStarted, or Results with words) while the agent holds the floor (a reply is
  being written, or its audio is not yet played) is a barge-in: the reply task is cancelled, the
  speaker clears Twilio and the TTS, and the history keeps only what the caller heard.
- `end_call` / `transfer_call` wait for the last words' mark, then act through Twilio's REST API;
  Twilio then stops the stream. If it does not within `end_grace`, the agent closes the socket.
- Watchdogs: a prompt after `silence_prompt` seconds without the caller, goodbye after
  `silence_hangup`, and a polite end at `max_call`.
- A model failure never leaves the caller in silence: the agent apologises and offers a transfer;
  a second failure in a row transfers (when a number is configured) or says goodbye.
- What the agent said (as heard) is stored as `outbound`/`agent` segments in stream time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.routing import is_e164
from streamer import metrics as m
from streamer.agent import http_tools, prompt
from streamer.agent.dtmf import dtmf_audio
from streamer.agent.model import Brain, History
from streamer.agent.profile import AgentProfile
from streamer.agent.sentences import SentenceSplitter, split_sentences
from streamer.agent.speech import Speaker, Utterance
from streamer.agent.telephony import CallControl, CallControlError
from streamer.calllog import CallLog
from streamer.deepgram import Segment
from streamer.deepgram_messages import ListenEvent, Results, SpeechStarted, UtteranceEnd
from streamer.metrics import StreamerMetrics
from streamer.tasks import TaskSet

SILENCE_PROMPT = "Are you still there?"
SILENCE_GOODBYE = "I haven't heard anything for a while, so I'll end the call now. Goodbye!"
MAX_CALL_GOODBYE = "I'm sorry, we've reached the time limit for this call. Thank you for calling, goodbye!"
APOLOGY_TRANSFER = (
    "I'm sorry, I'm having trouble right now. Would you like me to transfer you to someone who can help?"
)
APOLOGY_NO_TRANSFER = "I'm sorry, I'm having trouble right now. Could you say that again?"
FAILURE_TRANSFER = "I'm sorry about that. Let me transfer you to someone who can help."
LAST_WORDS_TIMEOUT = 30.0  # seconds an ending waits for its last words' mark
FAILURE_GOODBYE = "I'm sorry, I can't help right now. Please call back a little later. Goodbye!"


@dataclass(frozen=True)
class AgentOptions:
    model: str
    max_tokens: int
    prompt_version: str
    model_timeout: float
    max_tool_rounds: int
    silence_prompt: float
    silence_hangup: float
    max_call: float
    dtmf_wait: float
    end_grace: float
    transfer_allowlist: tuple[str, ...]


@dataclass(frozen=True)
class CallLine:
    """What the conversation needs from its session: identity, the Twilio socket, storage."""

    call_sid: str
    account_sid: str
    stream_sid: str
    send: Callable[[str], Awaitable[None]]
    close_stream: Callable[[], Awaitable[None]]
    store_segment: Callable[[Segment], None]


class AgentConversation:
    def __init__(
        self,
        line: CallLine,
        profile: AgentProfile,
        options: AgentOptions,
        brain_factory: Callable[[list[dict[str, Any]], list[dict[str, Any]]], Brain],
        speak_url: str,
        tts_key: str,
        calls: CallControl,
        metrics: StreamerMetrics,
        log: CallLog,
        tool_secret: str = "",
    ) -> None:
        self._line = line
        self._profile = profile
        self._options = options
        self._calls = calls
        self._metrics = metrics
        self._log = log.bind(mode="agent")
        allowed = [n for n in options.transfer_allowlist if is_e164(n)]
        if profile.transfer_to and profile.transfer_to not in allowed:
            allowed.insert(0, profile.transfer_to)
        self._transfer_numbers = allowed
        self._http_tools = {tool.name: tool for tool in profile.tools}
        self._tool_secret = tool_secret
        self._brain = brain_factory(
            prompt.system_blocks(options.prompt_version, profile.instructions),
            prompt.tools(allowed) + [http_tools.definition(t) for t in profile.tools],
        )
        self.speaker = Speaker(
            speak_url,
            tts_key,
            line.send,
            line.stream_sid,
            self._log,
            on_first_audio=self._first_audio,
            on_finished=self._utterance_finished,
        )
        self.history = History()
        self._tasks = TaskSet(self._log, "agent task failed")
        self._tts: asyncio.Task[None] | None = None  # the TTS socket: ends by itself once closed
        self._reply: asyncio.Task[None] | None = None
        self._finals: list[str] = []
        self._digits: list[str] = []
        self._digit_timer: asyncio.TimerHandle | None = None
        self._started_at = time.monotonic()
        self._silent_since = self._started_at
        self._prompted = False
        self._failures = 0
        self._clock = (0.0, self._started_at)  # (stream seconds, monotonic) of the last inbound frame
        self._last_reply_end = self._started_at  # the agent's last words (a silence prompt excluded)
        self.ending = False
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self.turns = 0
        self.barge_ins = 0
        self.tool_calls: list[str] = []
        self.agent_segments = 0

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._log.info(
            "agent starting",
            prompt_version=self._options.prompt_version,
            model=self._brain.model,
            voice=self._profile.voice,
            transfer_numbers=self._transfer_numbers,
        )
        self._tts = self._tasks.spawn(self.speaker.run(), "agent-tts")
        self._tasks.spawn(self._greet(), "agent-greet")
        self._tasks.spawn(self._watchdog(), "agent-watchdog")

    async def close(self) -> None:
        """The stream ended: stop everything; store what the caller heard of an unfinished reply."""
        self.ending = True
        if self._digit_timer is not None:
            self._digit_timer.cancel()
        if self.speaker.busy:
            self.speaker.interrupt()  # the call ended mid-sentence: keep what had played by now
        await self.speaker.close()  # Close on the TTS socket: its task then ends by itself
        for task in self._tasks.pending():
            if task is not self._tts:
                task.cancel()
        await self._tasks.settle(grace=2.0, cancelled_grace=1.0)
        self._log.info(
            "agent finished",
            turns=self.turns,
            barge_ins=self.barge_ins,
            tool_calls=self.tool_calls,
            end_reason=self.end_reason,
        )

    # ---- inputs from the session (never block) -----------------------------------------------------

    def on_media(self, timestamp_ms: int) -> None:
        self._clock = (timestamp_ms / 1000, time.monotonic())

    def on_mark(self, name: str) -> None:
        self.speaker.on_mark(name)

    def on_dtmf(self, digit: str) -> None:
        if self.ending:
            return
        self._caller_active()
        self._digits.append(digit)
        if self._digit_timer is not None:
            self._digit_timer.cancel()
        loop = asyncio.get_running_loop()
        self._digit_timer = loop.call_later(self._options.dtmf_wait, self._digits_done)

    def on_stt(self, event: ListenEvent) -> None:
        if self.ending:
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

    # ---- turns -------------------------------------------------------------------------------------

    def _caller_active(self) -> None:
        self._silent_since = time.monotonic()
        self._prompted = False
        if self._holding_floor():
            self._barge_in()

    def _holding_floor(self) -> bool:
        replying = self._reply is not None and not self._reply.done()
        return replying or self.speaker.busy

    def _digits_done(self) -> None:
        self._digit_timer = None
        digits, self._digits = "".join(self._digits), []
        if digits and not self.ending:
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
        if self._holding_floor():
            self._barge_in()  # keypad input over the agent's words
        self.history.add("user", text)
        self._reply = self._tasks.spawn(self._respond(ended_at, len(self.history)), "agent-reply")

    def _barge_in(self) -> None:
        """Synchronous on purpose: the turn that may end in the same Deepgram message must see
        the reply cancelled and the history already cut back to what the caller heard."""
        reply = self._reply
        if reply is not None and not reply.done():
            reply.cancel()
        current = self.speaker.current
        if current is not None and current.history_mark is not None and not current.done.is_set():
            self.history.truncate(current.history_mark)  # drop what the model planned to say
        utterance = self.speaker.interrupt()
        self.barge_ins += 1
        self._metrics.incr(m.AGENT_BARGE_INS)
        heard = utterance.heard if utterance is not None else ""
        if utterance is not None and utterance.history_mark is not None and heard:
            self.history.add("assistant", heard + " …")
        self._log.info(
            "barge-in",
            heard_chars=len(heard),
            said_chars=len(utterance.text) if utterance is not None else 0,
        )

    # ---- replies -----------------------------------------------------------------------------------

    async def _respond(self, turn_ended_at: float, history_mark: int) -> None:
        utterance = self.speaker.begin(turn_ended_at, history_mark)
        try:
            for _ in range(self._options.max_tool_rounds):
                splitter = SentenceSplitter()

                async def speak(
                    delta: str, utterance: Utterance = utterance, splitter: SentenceSplitter = splitter
                ) -> None:
                    for sentence in splitter.feed(delta):
                        await self.speaker.say(utterance, sentence)

                message = await asyncio.wait_for(
                    self._brain.think(self.history.for_request(), speak), self._options.model_timeout
                )
                for sentence in splitter.flush():
                    await self.speaker.say(utterance, sentence)
                content = [block.model_dump(exclude_none=True) for block in message.content]
                self.history.add("assistant", content)
                uses = [b for b in message.content if b.type == "tool_use"]
                if not uses:
                    break
                results = [await self._run_tool(u.name, u.id, dict(u.input or {}), utterance) for u in uses]
                self.history.add("user", results)
                if self.ending:
                    return
                if utterance.done.is_set():
                    # a failed end_call/transfer_call finished (and played) the words so far: what the
                    # model says next is a new utterance, so it can be interrupted and is stored
                    utterance = self.speaker.begin(None, len(self.history))
            self._failures = 0
            await self.speaker.finish(utterance)
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
        self.history.truncate(history_mark)
        await self.speaker.finish(utterance)  # whatever it had said before failing still plays out
        try:
            if self._failures >= 2 and self._profile.transfer_to:
                await self._end(await self._say(FAILURE_TRANSFER), "transfer", self._profile.transfer_to)
            elif self._failures >= 2:
                await self._end(await self._say(FAILURE_GOODBYE), "hangup", None)
            else:
                await self._say(APOLOGY_TRANSFER if self._profile.transfer_to else APOLOGY_NO_TRANSFER)
        except CallControlError as exc2:
            self.ending = False
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            self._log.error("could not end the call after model failures", error=str(exc2)[:300])

    async def _say(self, text: str) -> Utterance:
        """Scripted speech (greeting, prompts, apologies): a new utterance; it enters the history
        (as heard) when it finishes playing."""
        utterance = self.speaker.begin()
        utterance.scripted = True
        for sentence in split_sentences(text):
            await self.speaker.say(utterance, sentence)
        await self.speaker.finish(utterance)
        return utterance

    async def _greet(self) -> None:
        await self.speaker.wait_connected(5.0)
        if self.turns or self.ending:
            # the TTS was slow and the caller spoke first: a greeting now would cut in over the reply
            self._log.info("greeting skipped: the conversation already started")
            return
        text = self._profile.greeting
        if self._profile.notice:
            text = f"{self._profile.notice.strip()} {text}"
        await self._say(text)

    # ---- tools -------------------------------------------------------------------------------------

    async def _run_tool(
        self, name: str, tool_id: str, args: dict[str, Any], utterance: Utterance
    ) -> dict[str, Any]:
        self.tool_calls.append(name)
        self._metrics.incr(m.AGENT_TOOL_CALLS)
        self._log.info("agent tool call", tool=name)
        if name in self._http_tools:
            return await self._run_http_tool(name, tool_id, args)
        if name not in (prompt.END_CALL, prompt.TRANSFER_CALL, prompt.SEND_DTMF):
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            return _tool_error(tool_id, f"unknown tool {name!r}")
        try:
            if name == prompt.END_CALL:
                await self._end(utterance, "hangup", None)
                result = "The call has ended."
            elif name == prompt.TRANSFER_CALL:
                number = self._transfer_target(args.get("number"))
                await self._end(utterance, "transfer", number)
                result = f"Transferring the call to {number}."
            else:
                digits = str(args.get("digits", ""))
                # pure-Python sample maths, ~50 ms for 32 digits: off the loop, which serves every call
                tones = await asyncio.to_thread(dtmf_audio, digits)
                await self.speaker.play(utterance, tones, "dtmf")
                result = f"Played the tones {digits}."
        except (ValueError, CallControlError) as exc:
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            self._log.warning("agent tool failed", tool=name, error=str(exc)[:300])
            self.ending = False
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
            if number not in self._transfer_numbers:
                raise ValueError(
                    f"{number} is not an allowed transfer number; allowed: {self._transfer_numbers or 'none'}"
                )
            return number
        if self._profile.transfer_to:
            return self._profile.transfer_to
        if len(self._transfer_numbers) == 1:
            return self._transfer_numbers[0]
        raise ValueError("no default transfer number is configured for this line")

    async def _end(self, utterance: Utterance, action: str, number: str | None) -> None:
        """After the last words have played: hang up or transfer via REST, then let the stream go."""
        self.ending = True
        await self.speaker.finish(utterance)
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
        self.end_reason = action if number is None else f"{action}:{number}"
        self._log.info("agent ended the call", action=action, number=number)
        self.ended.set()
        self._tasks.spawn(self._close_after_grace(), "agent-end-grace")

    async def _close_after_grace(self) -> None:
        await asyncio.sleep(self._options.end_grace)
        self._log.warning("no stop from Twilio after the call ended: closing the stream")
        await self._line.close_stream()

    # ---- watchdogs ---------------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        opts = self._options
        tick = max(0.02, min(0.5, opts.silence_prompt / 10))
        while not self.ending:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - self._started_at >= opts.max_call:
                await self._hang_up_politely(MAX_CALL_GOODBYE, "max-call-length")
                return
            if self._holding_floor() or self._finals or self._digits:
                continue
            quiet = now - max(self._silent_since, self._last_reply_end)
            if quiet >= opts.silence_hangup:
                await self._hang_up_politely(SILENCE_GOODBYE, "silence")
                return
            if quiet >= opts.silence_prompt and not self._prompted:
                self._prompted = True
                self._log.info("silence: prompting the caller", quiet_seconds=round(quiet, 1))
                await self._say(SILENCE_PROMPT)

    async def _hang_up_politely(self, text: str, reason: str) -> None:
        self._log.info("agent ending the call", reason=reason)
        self.ending = True  # from here on the caller's words do not interrupt the goodbye
        if self._reply is not None and not self._reply.done():
            self._reply.cancel()
        if self.speaker.busy:
            self.speaker.interrupt()
        try:
            await self._end(await self._say(text), "hangup", None)
        except CallControlError as exc:
            self._metrics.incr(m.AGENT_TOOL_FAILURES)
            self._log.error("could not hang up", error=str(exc)[:300])
            await self._line.close_stream()
        except InterruptedError:
            return
        self.end_reason = reason

    # ---- speech bookkeeping ------------------------------------------------------------------------

    def _first_audio(self, utterance: Utterance) -> None:
        if utterance.turn_ended_at is not None and utterance.first_audio_at is not None:
            self._metrics.agent_first_audio((utterance.first_audio_at - utterance.turn_ended_at) * 1000)

    def _utterance_finished(self, utterance: Utterance) -> None:
        if utterance.text != SILENCE_PROMPT:
            self._last_reply_end = time.monotonic()
        heard = utterance.heard.strip()
        if utterance.scripted and heard:
            self.history.add("assistant", heard)
        if not heard or utterance.play_started_at is None or utterance.ended_at is None:
            return
        start = self._stream_time(utterance.play_started_at)
        end = max(start, self._stream_time(utterance.ended_at))
        self.agent_segments += 1
        self._line.store_segment(
            Segment(
                track="outbound",
                text=heard,
                start=round(max(start, 0.0), 3),
                end=round(max(end, 0.0), 3),
                confidence=None,
                final_at=time.monotonic(),
            )
        )

    def _stream_time(self, monotonic: float) -> float:
        seconds, at = self._clock
        return seconds + (monotonic - at)


def _tool_error(tool_id: str, message: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "is_error": True, "content": message[:500]}
