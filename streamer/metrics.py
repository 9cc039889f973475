"""CloudWatch metrics as Embedded Metric Format lines on stdout, aggregated in memory.

Why not one Powertools `add_metric` per event: FramesIn alone is ~100 per second per call, so the
streamer counts in plain integers on the event loop and prints one EMF document per interval. The
names, namespace and single `service` dimension are the contract the dashboard, alarms and the
autoscaling policy (Average ActiveCalls per task) are built on.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from shared.telemetry import METRICS_NAMESPACE, SERVICE_DIMENSION
from streamer.contract import (
    ACTIVE_CALLS,
    AGENT_BARGE_INS,
    AGENT_FIRST_AUDIO,
    AGENT_MODEL_ERRORS,
    AGENT_TOOL_CALLS,
    AGENT_TOOL_FAILURES,
    AGENT_TURNS,
    BAD_MESSAGES,
    DEEPGRAM_FAILURES,
    DEEPGRAM_RECONNECTS,
    DUPLICATE_RESULTS,
    FEED_EVENTS_DROPPED,
    FEED_EVENTS_PUBLISHED,
    FEED_PUBLISH_FAILURES,
    FRAMES_DROPPED,
    FRAMES_IN,
    SEGMENT_STORE_LATENCY,
    SEGMENT_WRITE_FAILURES,
    SEGMENTS_WRITTEN,
    STREAM_CLAIM_FAILURES,
    STREAM_TIMEOUTS,
    STREAMS_RATE_LIMITED,
    STREAMS_REFUSED,
    WRITE_RETRIES,
)

# Re-exported: the streamer's modules count through `metrics.FRAMES_IN` and friends, while the names
# themselves are the contract infra's alarms, dashboard and autoscaling are built on, so they live in
# streamer/contract.py, which infra can import at synth.
__all__ = [
    "ACTIVE_CALLS",
    "AGENT_BARGE_INS",
    "AGENT_FIRST_AUDIO",
    "AGENT_MODEL_ERRORS",
    "AGENT_TOOL_CALLS",
    "AGENT_TOOL_FAILURES",
    "AGENT_TURNS",
    "BAD_MESSAGES",
    "COUNTERS",
    "DEEPGRAM_FAILURES",
    "DEEPGRAM_RECONNECTS",
    "DUPLICATE_RESULTS",
    "FEED_EVENTS_DROPPED",
    "FEED_EVENTS_PUBLISHED",
    "FEED_PUBLISH_FAILURES",
    "FRAMES_DROPPED",
    "FRAMES_IN",
    "SEGMENTS_WRITTEN",
    "SEGMENT_STORE_LATENCY",
    "SEGMENT_WRITE_FAILURES",
    "STREAMS_RATE_LIMITED",
    "STREAMS_REFUSED",
    "STREAM_CLAIM_FAILURES",
    "STREAM_TIMEOUTS",
    "WRITE_RETRIES",
    "StreamerMetrics",
]

COUNTERS = (
    FRAMES_IN,
    FRAMES_DROPPED,
    DEEPGRAM_RECONNECTS,
    SEGMENTS_WRITTEN,
    WRITE_RETRIES,
    BAD_MESSAGES,
    DEEPGRAM_FAILURES,
    DUPLICATE_RESULTS,
    SEGMENT_WRITE_FAILURES,
    STREAMS_REFUSED,
    STREAM_TIMEOUTS,
    STREAMS_RATE_LIMITED,
    STREAM_CLAIM_FAILURES,
    AGENT_TURNS,
    AGENT_BARGE_INS,
    AGENT_TOOL_CALLS,
    AGENT_TOOL_FAILURES,
    AGENT_MODEL_ERRORS,
    FEED_EVENTS_PUBLISHED,
    FEED_PUBLISH_FAILURES,
    FEED_EVENTS_DROPPED,
)
_MAX_SAMPLES = 100  # EMF accepts at most 100 values per metric per document


class StreamerMetrics:
    """Counters and one latency distribution; touched only from the event loop thread."""

    def __init__(self, service: str, active_calls: Callable[[], int] = lambda: 0) -> None:
        self.service = service
        self._active_calls = active_calls
        self.counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.totals: dict[str, int] = dict.fromkeys(COUNTERS, 0)  # since start (tests, logs)
        self._latency: list[float] = []
        self._latency_seen = 0
        self.first_audio: list[float] = []  # this interval's agent time-to-first-audio (ms)
        self.first_audio_total: list[float] = []  # since start, capped (tests, benchmarks)

    def agent_first_audio(self, millis: float) -> None:
        if len(self.first_audio) < _MAX_SAMPLES:
            self.first_audio.append(round(millis, 1))
        if len(self.first_audio_total) < 10_000:
            self.first_audio_total.append(millis)

    def incr(self, name: str, value: int = 1) -> None:
        self.counts[name] += value
        self.totals[name] += value

    def store_latency(self, millis: float) -> None:
        """Keep a uniform sample of at most 100 values per interval (reservoir sampling)."""
        self._latency_seen += 1
        if len(self._latency) < _MAX_SAMPLES:
            self._latency.append(round(millis, 1))
        else:
            slot = int(time.monotonic_ns() % self._latency_seen)
            if slot < _MAX_SAMPLES:
                self._latency[slot] = round(millis, 1)

    def document(self) -> dict[str, Any]:
        """The EMF document for the interval just ended; resets the interval's counters."""
        definitions: list[dict[str, str]] = [{"Name": ACTIVE_CALLS, "Unit": "Count"}]
        doc: dict[str, Any] = {SERVICE_DIMENSION: self.service, ACTIVE_CALLS: self._active_calls()}
        for name in COUNTERS:
            definitions.append({"Name": name, "Unit": "Count"})
            doc[name] = self.counts[name]
            self.counts[name] = 0
        if self._latency:
            definitions.append({"Name": SEGMENT_STORE_LATENCY, "Unit": "Milliseconds"})
            doc[SEGMENT_STORE_LATENCY] = self._latency
            self._latency = []
            self._latency_seen = 0
        if self.first_audio:
            definitions.append({"Name": AGENT_FIRST_AUDIO, "Unit": "Milliseconds"})
            doc[AGENT_FIRST_AUDIO] = self.first_audio
            self.first_audio = []
        doc["_aws"] = {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": METRICS_NAMESPACE, "Dimensions": [[SERVICE_DIMENSION]], "Metrics": definitions}
            ],
        }
        return doc

    def flush(self, out: IO[str] | None = None) -> None:
        stream = out or sys.stdout
        stream.write(json.dumps(self.document(), separators=(",", ":")) + "\n")
        stream.flush()

    async def run(self, interval: float) -> None:
        """Flush every `interval` seconds until cancelled (then the caller flushes once more)."""
        while True:
            await asyncio.sleep(interval)
            self.flush()
