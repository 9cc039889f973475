"""Runs the real streamer in-process against the Deepgram stand-in and moto, for integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from callscribe_local.aws_local import BusTap, LocalAws
from shared.dal.calls.core import DynamoCallReader
from shared.dal.records import Call, Segment
from shared.dal.segments import DynamoSegments
from streamer.app import running
from streamer.config import StreamerSettings
from streamer.server import StreamerServer
from tests.conftest import TEST_AUTH_TOKEN
from tests.support.scripted_recognizer import BLOCK_SECONDS
from tests.support.twilio_media import TwilioMediaStream

STREAM_URL = "wss://streamer.callscribe.test/media"
DEEPGRAM_KEY = "dg-test-key-0123456789"


def streamer_env(local: LocalAws, deepgram_url: str, **overrides: str) -> dict[str, str]:
    env = {
        **local.env(),
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "DEEPGRAM_API_KEY": DEEPGRAM_KEY,
        "DEEPGRAM_URL": deepgram_url,
        "STREAM_URL": STREAM_URL,
        "HOST": "127.0.0.1",
        "PORT": "0",
        "DRAIN_SECONDS": "5",
        "DEEPGRAM_BACKOFF_BASE_SECONDS": "0.02",
        "DEEPGRAM_BACKOFF_MAX_SECONDS": "0.2",
        "DEEPGRAM_FINALIZE_TIMEOUT_SECONDS": "5",
        "SEGMENT_FLUSH_TIMEOUT_SECONDS": "10",
        "METRICS_INTERVAL_SECONDS": "3600",
    }
    env.update(overrides)
    return env


@contextlib.asynccontextmanager
async def streamer_running(
    local: LocalAws, deepgram_url: str, **overrides: str
) -> AsyncIterator[StreamerServer]:
    settings = StreamerSettings.from_env(streamer_env(local, deepgram_url, **overrides))
    async with running(settings) as server:
        yield server


def twilio_stream(server: StreamerServer, call_sid: str) -> TwilioMediaStream:
    return TwilioMediaStream(f"ws://127.0.0.1:{server.port}/media", STREAM_URL, TEST_AUTH_TOKEN, call_sid)


async def wait_for_call_end(server: StreamerServer, within: float = 20.0) -> None:
    """Until the server holds no session (each finished its transcript: CDR written, event published),
    not even one still waiting for its `start` or its claim (close idle connections first)."""
    async with asyncio.timeout(within):
        while server.sessions or server.pending:
            waiting = [*server.sessions, *server.pending]
            await asyncio.gather(*(session.finished.wait() for session in waiting))
            await asyncio.sleep(0.01)  # the handler forgets the session right after it finishes


async def until(predicate: Callable[[], bool], within: float = 15.0) -> None:
    """Poll a condition on in-process state (the server's counters) until it holds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


async def segments(local: LocalAws, call_sid: str) -> list[Segment]:
    return await asyncio.to_thread(DynamoSegments(local.names.transcripts_table).list_segments, call_sid)


async def call_record(local: LocalAws, call_sid: str) -> Call | None:
    return await asyncio.to_thread(DynamoCallReader(local.names.calls_table).get, call_sid)


async def events(bus: BusTap, call_sid: str, wait_seconds: float = 5.0) -> list[dict[str, Any]]:
    return await asyncio.to_thread(bus.events_for, call_sid, wait_seconds)


def as_rows(items: list[Segment]) -> list[tuple[str, str, str, float, float]]:
    return [(s.track, s.speaker, s.text, float(s.start), float(s.end)) for s in items]


def expected_rows(
    track: str, speaker: str, heard: list[tuple[float, str | None]], final_blocks: int = 2
) -> list[tuple[str, str, str, float, float]]:
    """What the scripted recognizer yields for the blocks Deepgram hears (stream start, word or None),
    in stream time: one segment per `final_blocks` heard blocks that hold any word."""
    rows = []
    for i in range(0, len(heard), final_blocks):
        group = [(start, word) for start, word in heard[i : i + final_blocks] if word]
        if group:
            text = " ".join(word for _, word in group)
            rows.append((track, speaker, text, group[0][0], group[-1][0] + BLOCK_SECONDS))
    return rows


def blocks(words: list[str | None], start_seconds: float = 0.0) -> list[tuple[float, str | None]]:
    return [(start_seconds + i * BLOCK_SECONDS, w) for i, w in enumerate(words)]
