"""The streamer's writes to the call record (CDR) and its one event, run in threads off the loop.

UpdateItem creates the record when the status webhook has not yet: the two tiers write disjoint
attributes, so whichever lands first is fine. The transcript status never moves back from a
terminal value (a late "in-progress" cannot overwrite "completed").
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, UpdateError
from pynamodb.expressions.update import Action

from shared import aws
from shared.clock import now_iso
from shared.events import EventBridgePublisher, PublishError, TranscriptCompleted
from shared.models import CallRecord, calls_model
from shared.status import TranscriptStatus

_RETRYABLE = (PynamoDBException, BotoCoreError, ClientError, PublishError, OSError)


class CallRecords:
    def __init__(self, calls_table: str, bus_name: str, attempts: int = 4, threads: int = 2) -> None:
        self._calls_table = calls_table
        self._bus_name = bus_name
        self._attempts = attempts
        # Own small pool, not asyncio's default one: pynamodb keeps a botocore session per thread
        # (megabytes each), so the number of threads that ever touch DynamoDB is kept fixed.
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cdr-writer")

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    async def _run(self, fn: Callable[..., None], *args: object) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._retry, fn, *args)

    def _model(self) -> type[CallRecord]:
        return calls_model(self._calls_table)

    async def transcript_started(self, call_sid: str, stream_sid: str) -> None:
        await self._run(self._started, call_sid, stream_sid)

    async def transcript_failed(self, call_sid: str, error: str) -> None:
        await self._run(self._finished, call_sid, TranscriptStatus.FAILED, None, error)

    async def transcript_finished(
        self, call_sid: str, status: TranscriptStatus, segment_count: int, error: str | None = None
    ) -> None:
        await self._run(self._finished, call_sid, status, segment_count, error)

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

    def _started(self, call_sid: str, stream_sid: str) -> None:
        model = self._model()
        stamp = now_iso()
        try:
            model(call_sid).update(
                actions=[
                    model.transcript_status.set(TranscriptStatus.IN_PROGRESS.value),
                    model.stream_sid.set(stream_sid),
                    model.updated_at.set(stamp),
                ],
                condition=model.transcript_status.does_not_exist()
                | model.transcript_status.is_in(
                    TranscriptStatus.PENDING.value, TranscriptStatus.IN_PROGRESS.value
                ),
            )
        except UpdateError as exc:
            if _conditional_failure(exc):
                return  # already terminal: leave it
            raise

    def _finished(
        self, call_sid: str, status: TranscriptStatus, segment_count: int | None, error: str | None
    ) -> None:
        model = self._model()
        stamp = now_iso()
        actions: list[Action] = [model.transcript_status.set(status.value), model.updated_at.set(stamp)]
        if segment_count is not None:
            actions.append(model.segment_count.set(segment_count))
        if error is not None:
            actions.append(model.transcript_error.set(error[:500]))
        if status is not TranscriptStatus.FAILED:
            actions.append(model.transcript_completed_at.set(stamp))
        condition = None
        if status is not TranscriptStatus.FAILED:
            # a failure recorded by this stream wins over "completed" and "incomplete"
            condition = model.transcript_status.does_not_exist() | (
                model.transcript_status != TranscriptStatus.FAILED.value
            )
        try:
            model(call_sid).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition is not None and _conditional_failure(exc):
                return
            raise

    def _retry(self, fn: Callable[..., None], *args: object) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                fn(*args)
            except _RETRYABLE:
                if attempt == self._attempts:
                    raise
                time.sleep(random.uniform(0, 0.2 * 2**attempt))  # noqa: S311 - jitter, not crypto
            else:
                return


def _conditional_failure(exc: UpdateError) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"
