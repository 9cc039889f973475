"""What a hang-up leaves of the sentence being played, against the real TTS stand-in and a frozen
playout clock (so no interleaving depends on the machine's speed).

When the caller hangs up, Twilio sends `stop` and closes the socket. Its docs promise a `mark` echo
only when the audio before it has played or a `clear` dropped it, not at `stop`, so marks still
outstanding are never echoed: the conversation's `close()` then interrupts the speaker, and the
playout clock says what was heard. Rule: a sentence whose mark came back, or whose audio the clock
says has played, is heard (and stored); audio never sent, or sent but not yet played, is not."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from callscribe_local.deepgram_server import DeepgramStandIn, SpeakOptions
from streamer.agent import speech
from streamer.agent.speech import Speaker, Utterance
from streamer.calllog import CallLog
from tests.support.scripted_recognizer import ScriptedRecognizer

KEY = "dg-test-key"
AUDIO = len("Sure.") * 200  # bytes: 1/8 s of playback


class FrozenClock:
    """Stands in for the `time` module of `streamer.agent.speech`: time moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@dataclass
class Line:
    """Twilio's side, as the speaker sees it: what was sent; marks are echoed only when told."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    marked: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, text: str) -> None:
        doc = json.loads(text)
        self.sent.append(doc)
        if doc["event"] == "mark":
            self.marked.set()

    def media_bytes(self) -> int:
        return sum(len(base64.b64decode(d["media"]["payload"])) for d in self.sent if d["event"] == "media")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr(speech, "time", frozen)
    return frozen


@pytest.fixture
async def tts() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=KEY) as dg:
        dg.speak = SpeakOptions(bytes_per_char=200, chunk_bytes=AUDIO)
        yield dg


@dataclass
class Call:
    speaker: Speaker
    run: asyncio.Task[None]
    reply: Utterance
    finished: list[Utterance]

    async def hang_up(self) -> None:
        """What `AgentConversation.close()` does with the speaker when the stream stops."""
        if self.speaker.busy:
            self.speaker.interrupt()
        await self.speaker.close()
        await asyncio.wait_for(self.run, 5)


async def _say_sure(tts: DeepgramStandIn, line: Line) -> Call:
    finished: list[Utterance] = []
    speaker = Speaker(
        f"{tts.url}/v1/speak", KEY, line.send, "MZ1", CallLog(), lambda u: None, finished.append
    )
    run = asyncio.create_task(speaker.run())
    await speaker.wait_connected(5)
    reply = speaker.begin(None, history_mark=1)
    await speaker.say(reply, "Sure.")
    await speaker.finish(reply)
    return Call(speaker, run, reply, finished)


async def test_mark_echoed_just_before_the_hang_up(tts: DeepgramStandIn, clock: FrozenClock) -> None:
    line = Line()
    call = await _say_sure(tts, line)
    await asyncio.wait_for(line.marked.wait(), 5)
    call.speaker.on_mark(line.sent[-1]["mark"]["name"])  # the echo, then at once `stop`
    await call.hang_up()

    assert call.finished == [call.reply]
    assert (call.reply.heard, call.reply.interrupted) == ("Sure.", False)
    assert call.reply.play_started_at is not None  # what the conversation needs to store it


async def test_played_but_never_echoed_because_the_call_ended(
    tts: DeepgramStandIn, clock: FrozenClock
) -> None:
    line = Line()
    call = await _say_sure(tts, line)
    await asyncio.wait_for(line.marked.wait(), 5)
    clock.now += AUDIO / speech.BYTES_PER_SECOND  # Twilio has played it; `stop` comes before its mark
    await call.hang_up()

    assert call.finished == [call.reply]
    assert (call.reply.heard, call.reply.interrupted) == ("Sure.", True)


async def test_sent_but_not_yet_played_is_not_heard(tts: DeepgramStandIn, clock: FrozenClock) -> None:
    line = Line()
    call = await _say_sure(tts, line)
    await asyncio.wait_for(line.marked.wait(), 5)
    assert line.media_bytes() == AUDIO  # all of it at Twilio, none of it played by `stop`
    await call.hang_up()

    assert call.finished == [call.reply]
    assert call.reply.heard == ""


async def test_never_sent_is_not_heard(tts: DeepgramStandIn, clock: FrozenClock) -> None:
    tts.speak.first_audio_delay = 5.0  # the TTS has not answered when the caller hangs up
    line = Line()
    call = await _say_sure(tts, line)
    await call.hang_up()

    assert line.media_bytes() == 0
    assert call.finished == [call.reply]
    assert (call.reply.heard, call.reply.play_started_at) == ("", None)
