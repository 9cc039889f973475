"""Twilio's side of an agent call (a bidirectional `<Connect><Stream>`), for tests and benchmarks.

Like Twilio it sends the caller's track continuously in real time (20 ms frames: silence unless the
test makes the caller say something) and plays what the streamer sends back in real time: `media`
is queued and consumed at 8000 bytes a second, a `mark` is echoed when playback reaches it, and a
`clear` drops the queued audio and echoes every pending mark at once (so an echoed mark does not
mean "played" after a clear, exactly as on Twilio): the queue is `callscribe_local.playout`'s, the
one the simulated phone plays with. Everything received is logged with its arrival time so tests
can check order and what the caller actually heard.

To wait until an answer has been heard, wait for its mark in `played_marks` (or
`played_after_clear()`), not for the TTS stand-in's `flushed_texts` plus `wait_quiet()`: the TTS
records a Flush before it has sent any audio, so the phone can be "quiet" because the answer has
not arrived yet.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed

from callscribe_local.playout import BYTES_PER_SECOND, Playout
from tests.support.scripted_recognizer import BLOCK_BYTES, SILENCE, audio_for
from tests.support.twilio_media import FRAME_BYTES, TwilioMediaStream


@dataclass
class Received:
    at: float  # time.monotonic()
    event: str
    audio: bytes = b""
    mark: str = ""


class AgentPhone:
    def __init__(self, stream: TwilioMediaStream) -> None:
        self.stream = stream
        self.received: list[Received] = []
        self.played = bytearray()
        self.echoed: list[str] = []
        self.echoed_by_clear: list[str] = []
        self.played_marks: list[str] = []  # echoed because playback reached them (not by a clear)
        self.clears = 0
        self.closed = asyncio.Event()
        self._playout = Playout()
        self._caller_audio = bytearray()
        self._caller_done = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        self._frames_sent = 0
        self.said_at: list[float] = []  # monotonic time each `say` finished sending its last word

    # ---- call control ------------------------------------------------------------------------------

    async def answer(self, parameters: dict[str, str], *, signed: bool = True) -> None:
        """`signed=False` sends `parameters` as they are (a test's own `token`, or none)."""
        await self.stream.open()
        await self.stream.start(
            tracks=("inbound",), custom_parameters={"mode": "agent", **parameters}, signed=signed
        )
        self._tasks = [
            asyncio.create_task(self._receive(), name="phone-receive"),
            asyncio.create_task(self._send_caller(), name="phone-send"),
            asyncio.create_task(self._play(), name="phone-play"),
        ]

    async def hang_up(self) -> None:
        """What Twilio does when the call ends: `stop`, then close the socket."""
        if not self._stopped:
            self._stopped = True
            with contextlib.suppress(ConnectionClosed):
                await self.stream.stop()
            await self.stream.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ---- the caller --------------------------------------------------------------------------------

    async def say(self, words: list[str | None]) -> None:
        """The caller says these (0.5 s per entry, scripted-recognizer words); returns once sent.

        The words start on a 1 s boundary of the stream (silence pads up to it): the scripted
        recognizer (2 blocks of 0.5 s per final) then hears each word in one block and, for
        `[word, None]`, decides `speech_final` exactly when the last frame arrives, so `said_at` is
        when the caller finished speaking as far as endpointing is concerned."""
        self._caller_done.clear()
        if len(self._tasks) > 1 and self._tasks[1].done():
            return  # the stream is closed (e.g. refused by the streamer): nothing more is sent
        pad = -self._frames_sent * FRAME_BYTES % (2 * BLOCK_BYTES)
        self._caller_audio.extend(bytes([SILENCE]) * pad + audio_for(words))
        await self._caller_done.wait()

    async def press(self, digit: str) -> None:
        await self.stream.dtmf(digit)

    # ---- what the caller heard ---------------------------------------------------------------------

    def events(self, kind: str) -> list[Received]:
        return [r for r in self.received if r.event == kind]

    @property
    def audio_received(self) -> bytes:
        return b"".join(r.audio for r in self.received if r.event == "media")

    async def wait_until(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached on the phone")
            await asyncio.sleep(0.01)

    def played_after_clear(self) -> list[str]:
        """Marks received after the last `clear` (all, if none) that have played, in order."""
        cleared = max((i for i, r in enumerate(self.received) if r.event == "clear"), default=-1)
        after = {r.mark for r in self.received[cleared + 1 :] if r.event == "mark"}
        return [name for name in self.played_marks if name in after]

    async def wait_quiet(self, within: float = 10.0) -> None:
        """Until everything sent to the phone so far has played (no queued audio, no pending mark).

        Only what has arrived counts: audio the streamer or the TTS has yet to send is not waited
        for. To wait until a given answer has played, wait on `played_marks`."""
        await self.wait_until(lambda: self._playout.idle and bool(self.received), within)

    # ---- tasks -------------------------------------------------------------------------------------

    async def _receive(self) -> None:
        ws = self.stream.ws
        assert ws is not None
        try:
            async for frame in ws:
                doc: dict[str, Any] = json.loads(frame)
                event = str(doc.get("event"))
                now = time.monotonic()
                if event == "media":
                    audio = base64.b64decode(doc["media"]["payload"])
                    self.received.append(Received(now, event, audio=audio))
                    self._playout.media(audio)
                elif event == "mark":
                    name = str(doc["mark"]["name"])
                    self.received.append(Received(now, event, mark=name))
                    self._playout.mark(name)
                elif event == "clear":
                    self.received.append(Received(now, event))
                    self.clears += 1
                    for name in self._playout.clear().marks:
                        self.echoed_by_clear.append(name)
                        await self._echo(name)
                else:
                    self.received.append(Received(now, event))
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _play(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        budget = 0.0
        while True:
            await asyncio.sleep(0.02)
            now = loop.time()
            budget = min(budget + (now - last) * BYTES_PER_SECOND, BYTES_PER_SECOND)
            last = now
            played = self._playout.play(int(budget))
            self.played.extend(played.audio)
            budget -= len(played.audio)
            for name in played.marks:
                self.played_marks.append(name)  # its echo is on the socket before a test sees this
                await self._echo(name)
            if self._playout.idle:
                budget = 0.0  # nothing to play: playback does not bank time

    async def _echo(self, name: str) -> None:
        self.echoed.append(name)
        with contextlib.suppress(ConnectionClosed):
            await self.stream.send_json(
                {
                    "event": "mark",
                    "sequenceNumber": self.stream._next_sequence(),
                    "streamSid": self.stream.stream_sid,
                    "mark": {"name": name},
                }
            )

    async def _send_caller(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        index = 0
        silence = bytes([SILENCE]) * FRAME_BYTES
        while True:
            last = False
            if self._caller_audio:
                frame = bytes(self._caller_audio[:FRAME_BYTES]).ljust(FRAME_BYTES, bytes([SILENCE]))
                del self._caller_audio[:FRAME_BYTES]
                last = not self._caller_audio
            else:
                frame = silence
            self._frames_sent += 1
            try:
                await self.stream.media("inbound", frame, index * 20)
            except ConnectionClosed:
                self._caller_done.set()
                return
            if last:
                self.said_at.append(time.monotonic())
                self._caller_done.set()
            index += 1
            delay = t0 + index * 0.02 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
