"""One track's reconnect policy against the Deepgram stand-in over real WebSockets: how many attempts
in a row it makes before giving up, that a connection which hears nothing counts as a failed attempt
(the quick-failure detector), and that one which heard results starts the count again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from callscribe_local.deepgram_server import DeepgramStandIn
from streamer.audio import TrackAudio
from streamer.calllog import CallLog
from streamer.config import DeepgramSettings
from streamer.deepgram import Segment, TrackTranscriber
from streamer.metrics import StreamerMetrics
from tests.support.scripted_recognizer import ScriptedRecognizer, audio_for

pytestmark = pytest.mark.integration

KEY = "standin-key"


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=KEY) as server:
        yield server


class Track:
    def __init__(self, deepgram: DeepgramStandIn, max_attempts: int, max_chunk_bytes: int = 16000) -> None:
        self.segments: list[Segment] = []
        self.failures: list[str] = []
        options = DeepgramSettings(
            url=deepgram.url,
            api_key=SecretStr(KEY),
            max_attempts=max_attempts,
            backoff_base_seconds=0.001,
            backoff_max_seconds=0.01,
            max_chunk_bytes=max_chunk_bytes,
        )
        self.transcriber = TrackTranscriber(
            "inbound",
            TrackAudio(max_bytes=10**7),
            options,
            on_segment=self.segments.append,
            on_failure=lambda track, reason: self.failures.append(reason),
            metrics=StreamerMetrics("test"),
            log=CallLog(call_sid="CA" + "0" * 32),
        )

    async def transcribe(self, words: list[str | None]) -> None:
        """Feeds the words' audio as Twilio frames, hangs up, and waits for the track to end."""
        task = asyncio.create_task(self.transcriber.run())
        audio = audio_for(words)
        for index in range(0, len(audio), 160):
            await self.transcriber.feed(index // 8, audio[index : index + 160])
        self.transcriber.close_input()
        async with asyncio.timeout(20):
            await task


async def test_a_deepgram_that_keeps_answering_503_is_given_up_after_max_attempts(
    deepgram: DeepgramStandIn,
) -> None:
    deepgram.answer_all(503)
    track = Track(deepgram, max_attempts=3)
    await track.transcribe(["alpha", "bravo"])
    assert deepgram.refused == [503, 503, 503]
    assert track.failures == ["deepgram-unavailable: gave up after 3 consecutive failed attempts"]
    assert track.transcriber.reconnects == 3
    assert track.segments == []


async def test_connections_dropped_before_any_result_count_as_failed_attempts(
    deepgram: DeepgramStandIn,
) -> None:
    # accepts, then drops at the first audio message (160 bytes: less than the stand-in needs for
    # a result, so none of these connections hears anything)
    deepgram.drop_after_bytes(1, connections=100)
    track = Track(deepgram, max_attempts=4, max_chunk_bytes=160)
    await track.transcribe(["alpha", "bravo", "charlie"])
    assert len(deepgram.connections) == 4
    assert all(c.dropped for c in deepgram.connections)
    assert track.failures == ["deepgram-unavailable: gave up after 4 consecutive failed attempts"]


async def test_a_connection_that_heard_results_starts_the_count_again(deepgram: DeepgramStandIn) -> None:
    # two connections in a row are dropped once they have heard a final result (1 s of audio): with
    # one attempt allowed, the call still ends transcribed because each of them made progress
    deepgram.drop_after_bytes(8000, mode="net0000", connections=2)
    track = Track(deepgram, max_attempts=1)
    words: list[str | None] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"] * 2
    await track.transcribe(words)
    assert track.failures == []
    assert sum(c.dropped for c in deepgram.connections) == 2
    assert track.transcriber.reconnects == 2
    assert " ".join(s.text for s in track.segments).split() == words
