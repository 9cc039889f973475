"""The streamer's writes to the call record (CDR), run in threads off the loop.

The DynamoDB side is the data layer's (`shared.dal.calls.stream.DynamoStreamCalls` through the
streamer's ports): the claim that makes a stream the call's one owner (it creates the record when
the status webhook has not yet: the two tiers write disjoint attributes, so whichever lands first is
fine), then every later write conditional on that claim. What stays here is the streamer's own
concern: a small fixed pool of threads, and retries, since nobody replays a media stream to retry
for us. `streamer.ownership` orders one call's writes; this module runs them. A transcript status
the table accepted (the claim's `in-progress`, a failure, the end) is also handed to `on_transcript`
in the writing thread (the live feed: streamer/live_feed.py), which must return at once. The write
that ends the transcript is announced as `Transcript Completed` by the outbox (the calls table's
stream), so the streamer publishes no event and needs no access to the bus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.ports import (
    RedactionCountWrites,
    StreamClaims,
    StreamUsageWrites,
    TranscriptStatusWrites,
)
from shared.dal.records import StreamClaim, StreamUsage, TranscriptEnd
from shared.dal.retry import RETRYABLE, with_retries
from shared.observability import logger
from shared.status import TranscriptStatus

T = TypeVar("T")

_BACKOFF_BASE_SECONDS = 0.2

TranscriptHook = Callable[[str, TranscriptStatus], None]


class CallRecords:
    def __init__(
        self,
        calls_table: str,
        attempts: int = 4,
        threads: int = 2,
        on_transcript: TranscriptHook | None = None,
    ) -> None:
        calls = DynamoStreamCalls(calls_table)
        self._on_transcript = on_transcript
        self._claims: StreamClaims = calls
        self._calls: TranscriptStatusWrites = calls
        self._usage: StreamUsageWrites = calls
        self._redactions: RedactionCountWrites = calls
        self._attempts = attempts
        # Own small pool, not asyncio's default one: the data layer keeps a botocore session per thread
        # (megabytes each), so the number of threads that ever touch DynamoDB is kept fixed.
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cdr-writer")

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._retry, fn, *args)

    async def _run_announced(
        self,
        call_sid: str,
        status: TranscriptStatus,
        accepted: Callable[[T], bool],
        fn: Callable[..., T],
        *args: object,
    ) -> T:
        """A transcript status write, then (in the same thread) the hook when the table took it."""

        def write() -> T:
            result = self._retry(fn, *args)
            if accepted(result) and self._on_transcript is not None:
                try:
                    self._on_transcript(call_sid, status)
                except Exception as exc:  # noqa: BLE001 - the feed is a view: its bug never fails a write
                    logger.error("on_transcript hook failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return result

        return await asyncio.get_running_loop().run_in_executor(self._executor, write)

    async def claim_stream(self, claim: StreamClaim) -> bool:
        # refused (False) when another stream claimed the call, on any task, or its transcript ended
        return await self._run_announced(
            claim.call_sid, TranscriptStatus.IN_PROGRESS, bool, self._claims.claim_stream, claim
        )

    async def heartbeat(self, call_sid: str, owner: str) -> bool:
        return await self._run(self._claims.heartbeat, call_sid, owner)

    async def save_redaction_counts(self, call_sid: str, owner: str, counts: Mapping[str, int]) -> bool:
        # a SET of the call's totals, so a retried write lands the same map
        return await self._run(self._redactions.save_redaction_counts, call_sid, owner, counts)

    async def transcript_failed(self, call_sid: str, owner: str, error: str) -> bool:
        return await self._run_announced(
            call_sid, TranscriptStatus.FAILED, bool, self._calls.transcript_failed, call_sid, owner, error
        )

    async def transcript_finished(
        self,
        call_sid: str,
        owner: str,
        status: TranscriptStatus,
        segment_count: int,
        error: str | None = None,
    ) -> TranscriptEnd:
        # refused when this stream already recorded a failure, which wins
        return await self._run_announced(
            call_sid,
            status,
            lambda end: end is not TranscriptEnd.REFUSED,
            self._calls.transcript_finished,
            call_sid,
            owner,
            status,
            segment_count,
            error,
        )

    async def record_usage(self, usage: StreamUsage, owner: str) -> bool:
        # a plain SET: a retry stores the same values
        return await self._run(self._usage.record_stream_usage, usage, owner)

    # ---- blocking work (threads) -------------------------------------------------------------------

    def _retry(self, fn: Callable[..., T], *args: object) -> T:
        return with_retries(
            lambda: fn(*args),
            attempts=self._attempts,
            backoff_base=_BACKOFF_BASE_SECONDS,
            retry_on=RETRYABLE,
        )
