"""The streamer's writes to the call record (CDR) and its one event, run in threads off the loop.

The DynamoDB side is the data layer's (`shared.dal.calls.stream.DynamoStreamCalls` through the
streamer's ports): UpdateItem creates the record when the status webhook has not yet
(the two tiers write disjoint attributes, so whichever lands first is fine), and the transcript
status never moves back from a terminal value. What stays here is the streamer's own concern: a small
fixed pool of threads, and retries, since nobody replays a media stream to retry for us.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from shared import aws
from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.ports import (
    RedactionCountWrites,
    StreamStartWrites,
    StreamUsageWrites,
    TranscriptStatusWrites,
)
from shared.dal.records import StreamUsage
from shared.dal.retry import RETRYABLE, with_retries
from shared.events import EventBridgePublisher, PublishError, TranscriptCompleted
from shared.status import TranscriptStatus

_RETRYABLE = (*RETRYABLE, PublishError)
_BACKOFF_BASE_SECONDS = 0.2


class CallRecords:
    def __init__(self, calls_table: str, bus_name: str, attempts: int = 4, threads: int = 2) -> None:
        calls = DynamoStreamCalls(calls_table)
        self._calls: TranscriptStatusWrites = calls
        self._starts: StreamStartWrites = calls
        self._usage: StreamUsageWrites = calls
        self._redactions: RedactionCountWrites = calls
        self._bus_name = bus_name
        self._attempts = attempts
        # Own small pool, not asyncio's default one: the data layer keeps a botocore session per thread
        # (megabytes each), so the number of threads that ever touch DynamoDB is kept fixed.
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cdr-writer")

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def _run(self, fn: Callable[..., object], *args: object) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._retry, fn, *args)

    async def transcript_started(self, call_sid: str, stream_sid: str) -> None:
        # refused (False) when the transcript already ended: a late start leaves it as it is
        await self._run(self._calls.transcript_started, call_sid, stream_sid)

    async def stream_started(self, call_sid: str, started_at: str) -> None:
        # refused (False) when a start is stored already: the first stream's time 0 is what counts
        await self._run(self._starts.stream_started, call_sid, started_at)

    async def save_redaction_counts(self, call_sid: str, counts: Mapping[str, int]) -> None:
        # a SET of the call's totals, so a retried write lands the same map
        await self._run(self._redactions.save_redaction_counts, call_sid, counts)

    async def transcript_failed(self, call_sid: str, error: str) -> None:
        await self._run(self._calls.transcript_failed, call_sid, error)

    async def transcript_finished(
        self, call_sid: str, status: TranscriptStatus, segment_count: int, error: str | None = None
    ) -> None:
        # refused (False) when this stream already recorded a failure, which wins
        await self._run(self._calls.transcript_finished, call_sid, status, segment_count, error)

    async def record_usage(self, usage: StreamUsage) -> None:
        # a plain SET: a retry, or a second write for the call, stores the same values
        await self._run(self._usage.record_stream_usage, usage)

    async def publish_completed(self, call_sid: str, segment_count: int, status: TranscriptStatus) -> None:
        event = TranscriptCompleted.model_validate(
            {"callSid": call_sid, "segmentCount": segment_count, "transcriptStatus": status.value}
        )
        await self._run(self._publish, event)

    # ---- blocking work (threads) -------------------------------------------------------------------

    def _publish(self, event: TranscriptCompleted) -> None:
        # the client is built here, in the thread: the first aws.events() creates a botocore client
        # (~100 ms, under a lock), which on the loop would stall every call the task serves
        EventBridgePublisher(aws.events(), self._bus_name).publish(event)

    def _retry(self, fn: Callable[..., object], *args: object) -> None:
        with_retries(
            lambda: fn(*args),
            attempts=self._attempts,
            backoff_base=_BACKOFF_BASE_SECONDS,
            retry_on=_RETRYABLE,
        )
