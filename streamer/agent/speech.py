"""The agent's mouth: one Deepgram TTS WebSocket per call, its audio relayed to Twilio as it arrives.

Text goes out sentence by sentence (`Speak`, `Flush`), audio goes to Twilio as `media` at once, and
each sentence's `Flushed` is followed by a Twilio `mark`; an utterance is done when its last mark
comes back. `interrupt` (barge-in) sends Twilio `clear` and TTS `Clear` before anything said later,
drops audio until `Cleared`, and says what was heard (marks back, plus a playout clock for the
sentence playing). A dropped socket is reopened with backoff and re-speaks what it never flushed.
docs/agent.md ("Speaking", "Barge-in") has the long form; `utterance.py` what an utterance is.
`Speaker` is one class (~300 lines) on purpose: queue, marks, playout clock and socket share the
state a barge-in must change in one step.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from streamer.agent.sentences import split_sentences
from streamer.agent.utterance import BYTES_PER_SECOND, Sentence, Utterance
from streamer.calllog import CallLog

SendText = Callable[[str], Awaitable[None]]


class Speaker:
    def __init__(
        self,
        url: str,
        api_key: str,
        send_twilio: SendText,
        stream_sid: str,
        log: CallLog,
        on_first_audio: Callable[[Utterance], None],
        on_finished: Callable[[Utterance], None],
        connect_timeout: float = 5.0,
        max_attempts: int = 6,
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._send_twilio = send_twilio
        self._stream_sid = stream_sid
        self._log = log.bind(part="tts")
        self._on_first_audio = on_first_audio
        self._on_finished = on_finished
        self._connect_timeout = connect_timeout
        self._max_attempts = max_attempts
        self._numbers = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._unflushed: deque[tuple[Utterance, Sentence]] = deque()  # sent to the TTS, awaiting Flushed
        self._marks: dict[str, tuple[Utterance, Sentence]] = {}
        self._dropping = False  # after our Clear, until Cleared
        self._play_end = 0.0  # monotonic time Twilio will have played everything sent
        self._closing = False
        self._connected = asyncio.Event()
        self._clears: set[asyncio.Task[None]] = set()
        self._twilio_clear_pending = False
        self._tts_clear_pending = False
        self._active: list[Utterance] = []  # begun, not yet done, oldest first: all share the queue
        self.current: Utterance | None = None
        self.failed: str | None = None
        self.connections = 0
        self.characters_sent = 0  # text sent to the TTS (what Aura bills; a re-spoken sentence again)

    # ---- state -------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Agent audio is being produced or is not yet played (its mark not yet echoed)."""
        return any(not u.done.is_set() for u in self._active)

    # ---- speaking ----------------------------------------------------------------------------------

    def begin(self, turn_ended_at: float | None = None, history_mark: int | None = None) -> Utterance:
        utterance = Utterance(
            number=next(self._numbers), turn_ended_at=turn_ended_at, history_mark=history_mark
        )
        # A busy predecessor (a partial reply before an apology) is not cut off: it is closed, plays
        # out ahead of this one, and stays tracked so a barge-in ends it too.
        for earlier in list(self._active):
            earlier.closed = True
            self._check_done(earlier)
        self._active.append(utterance)
        self.current = utterance
        return utterance

    async def say(self, utterance: Utterance, text: str) -> None:
        text = text.strip()
        if not text or utterance.interrupted:
            return
        sentence = Sentence(text=text, mark=f"agent-{utterance.number}-{len(utterance.sentences) + 1}")
        utterance.sentences.append(sentence)
        self._marks[sentence.mark] = (utterance, sentence)
        self._unflushed.append((utterance, sentence))
        ws = self._ws
        if ws is not None:  # else spoken when the socket (re)opens
            await self._speak(ws, sentence)

    async def say_scripted(self, text: str) -> Utterance:
        """Fixed text (greeting, prompts, apologies) as a new utterance of its own; it enters the
        history, as heard, when it finishes playing."""
        utterance = self.begin()
        utterance.scripted = True
        for sentence in split_sentences(text):
            await self.say(utterance, sentence)
        await self.finish(utterance)
        return utterance

    async def play(self, utterance: Utterance, audio: bytes, label: str) -> None:
        """Queue preset audio (DTMF tones) after what is already queued for the utterance."""
        if utterance.interrupted:
            return
        sentence = Sentence(
            text="", mark=f"agent-{utterance.number}-{len(utterance.sentences) + 1}-{label}", audio=audio
        )
        utterance.sentences.append(sentence)
        self._marks[sentence.mark] = (utterance, sentence)
        self._unflushed.append((utterance, sentence))
        await self._release_raw()

    async def finish(self, utterance: Utterance) -> None:
        """No more sentences: done once every mark is back (at once if nothing was said)."""
        utterance.closed = True
        self._check_done(utterance)

    def interrupt(self) -> Utterance | None:
        """Barge-in: stop every queued utterance now. Returns the latest (with `heard` set), or None.

        All of them, not just the current one: Twilio's `clear` and the TTS `Clear` drop everything
        queued, so an older utterance's sentence left in the queue would take the next `Flushed`.
        Synchronous, so the caller's turn that follows sees the state after the interruption; the
        Twilio `clear` and TTS `Clear` go out in a task started here, before any later audio."""
        pending = [u for u in self._active if not u.done.is_set()]
        if not pending:
            return None
        now = time.monotonic()
        # what is still buffered at Twilio is the newest audio: take it off the latest utterances
        buffered = max(0.0, self._play_end - now) * BYTES_PER_SECOND
        for utterance in reversed(pending):
            utterance.interrupted = True
            utterance.heard = utterance.heard_text(max(0, int(utterance.audio_bytes - buffered)))
            utterance.ended_at = now
            buffered = max(0.0, buffered - utterance.audio_bytes)
        self._unflushed.clear()
        self._marks.clear()
        self._play_end = now
        self._twilio_clear_pending = True
        if self._ws is not None:
            self._dropping = True
            self._tts_clear_pending = True
        task = asyncio.create_task(self._send_clears(), name="agent-clear")
        self._clears.add(task)
        task.add_done_callback(self._clears.discard)
        for utterance in pending:
            self._finished(utterance)
        return pending[-1]

    async def _send_clears(self) -> None:
        """Send the pending Twilio `clear` and TTS `Clear`. Every other send calls this first, so
        both always go out before anything said after the interruption, whoever runs first."""
        if self._twilio_clear_pending:
            self._twilio_clear_pending = False
            with contextlib.suppress(ConnectionClosed):
                await self._send_twilio(json.dumps({"event": "clear", "streamSid": self._stream_sid}))
        ws = self._ws
        if self._tts_clear_pending and ws is not None:
            self._tts_clear_pending = False
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps({"type": "Clear"}))

    def on_mark(self, name: str) -> None:
        item = self._marks.pop(name, None)
        if item is None:
            return  # a mark of an interrupted utterance, echoed by Twilio's clear
        utterance, sentence = item
        sentence.played = True
        self._check_done(utterance)

    def _check_done(self, utterance: Utterance) -> None:
        if utterance.done.is_set() or not utterance.closed:
            return
        if all(s.played for s in utterance.sentences):
            utterance.heard = utterance.text
            utterance.ended_at = time.monotonic()
            self._finished(utterance)

    def _finished(self, utterance: Utterance) -> None:
        utterance.done.set()
        if utterance in self._active:
            self._active.remove(utterance)
        self._on_finished(utterance)

    # ---- the TTS socket ----------------------------------------------------------------------------

    async def run(self) -> None:
        """The socket's one task: connect, relay, reconnect on drops, until `close()`."""
        attempt = 0
        while not self._closing:
            try:
                ws = await connect(
                    self._url,
                    additional_headers={"Authorization": f"Token {self._api_key}"},
                    compression=None,
                    proxy=None,
                    open_timeout=self._connect_timeout,
                    max_size=1 << 20,
                    close_timeout=2,
                )
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                attempt += 1
                self._log.warning(
                    "tts connection failed", error=f"{type(exc).__name__}: {exc}"[:200], attempt=attempt
                )
                if attempt >= self._max_attempts:
                    self.failed = f"tts unavailable after {attempt} attempts"
                    self._log.error("tts gave up", attempts=attempt)
                    self._connected.set()
                    return
                await asyncio.sleep(random.uniform(0, min(4.0, 0.2 * 2**attempt)))  # noqa: S311 - jitter
                continue
            self.connections += 1
            self._dropping = False
            self._tts_clear_pending = False  # a new socket holds nothing to clear
            self._ws = ws
            self._connected.set()
            try:
                for _, sentence in list(self._unflushed):  # reconnect: say again what was not flushed
                    if sentence.audio is None:
                        await self._speak(ws, sentence)
                await self._release_raw()
                async for message in ws:
                    attempt = 0  # a socket that works resets the backoff; one that drops at once does not
                    if isinstance(message, bytes):
                        await self._on_audio(message)
                    else:
                        await self._on_control(message)
            except ConnectionClosed:
                pass
            finally:
                self._ws = None
                if ws.close_code is None:  # cancelled: never leave the socket half open
                    ws.transport.abort()
            if not self._closing:
                attempt += 1
                self._log.warning(
                    "tts connection dropped",
                    close_code=ws.close_code,
                    unflushed=len(self._unflushed),
                    attempt=attempt,
                )
                if attempt >= self._max_attempts:
                    self.failed = f"tts kept dropping ({attempt} times)"
                    self._log.error("tts gave up", attempts=attempt)
                    return
                if attempt > 1:
                    await asyncio.sleep(random.uniform(0, min(4.0, 0.2 * 2**attempt)))  # noqa: S311

    async def wait_connected(self, within: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), within)

    async def close(self) -> None:
        self._closing = True
        if self._clears:
            await asyncio.wait(self._clears, timeout=1.0)
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps({"type": "Close"}))
            await ws.close()

    async def _speak(self, ws: ClientConnection, sentence: Sentence) -> None:
        await self._send_clears()
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "Speak", "text": sentence.text}))
            self.characters_sent += len(sentence.text)
            await ws.send(json.dumps({"type": "Flush"}))

    async def _release_raw(self) -> None:
        """Preset audio at the head of the queue plays now (nothing before it is still synthesising).
        Text behind it was already sent to the TTS; its audio arrives after the earlier Flushed, so it
        is relayed after these bytes."""
        while self._unflushed and self._unflushed[0][1].audio is not None:
            utterance, sentence = self._unflushed.popleft()
            assert sentence.audio is not None
            await self._relay(utterance, sentence, sentence.audio)
            await self._mark(sentence)

    async def _on_audio(self, chunk: bytes) -> None:
        if self._dropping or not self._unflushed:
            return  # audio of cleared text
        utterance, sentence = self._unflushed[0]
        await self._relay(utterance, sentence, chunk)

    async def _relay(self, utterance: Utterance, sentence: Sentence, chunk: bytes) -> None:
        now = time.monotonic()
        if utterance.first_audio_at is None:
            utterance.first_audio_at = now
            utterance.play_started_at = max(now, self._play_end)
            self._on_first_audio(utterance)
        sentence.audio_bytes += len(chunk)
        self._play_end = max(now, self._play_end) + len(chunk) / BYTES_PER_SECOND
        payload = base64.b64encode(chunk).decode("ascii")
        await self._twilio({"event": "media", "streamSid": self._stream_sid, "media": {"payload": payload}})

    async def _on_control(self, text: str) -> None:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            # RecursionError is not a ValueError: brackets nested past the interpreter's limit would
            # otherwise end this socket's task, and the agent would fall silent for the call
            self._log.warning("tts sent a frame that is not JSON", size=len(text))
            return
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind == "Cleared":
            self._dropping = False
        elif kind == "Flushed" and not self._dropping and self._unflushed:
            _, sentence = self._unflushed.popleft()
            sentence.flushed = True
            await self._mark(sentence)
            await self._release_raw()
        elif kind == "Warning":
            self._log.warning("tts warning", detail=text[:300])  # the text: a repr walks any depth
        elif kind == "Error" or (isinstance(doc, dict) and "err_code" in doc):
            self._log.error("tts error", detail=text[:300])

    async def _mark(self, sentence: Sentence) -> None:
        await self._twilio({"event": "mark", "streamSid": self._stream_sid, "mark": {"name": sentence.mark}})

    async def _twilio(self, doc: dict[str, object]) -> None:
        await self._send_clears()
        with contextlib.suppress(ConnectionClosed):
            await self._send_twilio(json.dumps(doc, separators=(",", ":")))
