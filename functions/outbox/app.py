"""Lambda entry point: `handler(event, context)` for the calls table's DynamoDB stream (the outbox).

Each record is parsed (`inputs.WrittenRecord`) and announced (`service.Outbox`) with Powertools'
batch processing, whose answer is the mapping's `ReportBatchItemFailures` response. What a change
must keep: once a record fails, every later record of the batch is reported failed too without
being announced, so no call's later change is announced before an earlier one; what can never be
announced is parked in the dead-letter queue, not retried. `handler` builds the service on the
first invocation; `create_handler` binds the same code to one built elsewhere (local stack, tests).
Why: docs/architecture.md, "Events: the outbox".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.outbox import metric_names as names
from functions.outbox.adapters import SqsDeadLetters
from functions.outbox.bus import EventBridgeSink
from functions.outbox.inputs import UnreadableRecordError, WrittenRecord, log_number
from functions.outbox.service import Outbox
from functions.outbox.settings import OutboxSettings
from functions.outbox.sinks import Sink
from shared import aws
from shared.errors import CallscribeError
from shared.events import EventBridgePublisher
from shared.observability import LambdaHandler, lambda_entry, logger, metrics


class EarlierRecordFailedError(CallscribeError):
    """Not tried: an earlier record of the batch failed, and this one must not overtake it."""


def build_sinks(config: OutboxSettings) -> list[Sink]:
    """Every sink a change is delivered to, in order (docs/architecture.md: adding one)."""
    return [EventBridgeSink(EventBridgePublisher(aws.events(), config.event_bus_name))]


def build_outbox(config: OutboxSettings) -> Outbox:
    return Outbox(build_sinks(config), SqsDeadLetters(aws.sqs(), config.outbox_dead_letter_queue_url))


def create_handler(runtime: Callable[[], Outbox]) -> LambdaHandler:
    """The Lambda entry point's code bound to `runtime()`'s outbox (asked on each invocation: cache it)."""

    @lambda_entry()
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # X-Ray: "## handler"
        return _handle(event, context, runtime)

    return handler


class _Batch:
    """One invocation's records, announced in order until one fails."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self.failed_at: str | None = None

    def announce(self, record: DynamoDBRecord) -> None:
        if self.failed_at is not None:
            metrics.add_metric(name=names.RECORDS_FAILED, unit=MetricUnit.Count, value=1)
            raise EarlierRecordFailedError(f"record {self.failed_at} of this batch failed first")
        try:
            self._announce(record)
        except Exception as exc:
            stream = record.dynamodb
            self.failed_at = (stream.sequence_number if stream is not None else None) or "?"
            metrics.add_metric(name=names.RECORDS_FAILED, unit=MetricUnit.Count, value=1)
            logger.exception(
                "announcing a call record change failed; it is retried with the records after it",
                extra={
                    "sequence_number": log_number(self.failed_at),
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                },
            )
            raise

    def _announce(self, record: DynamoDBRecord) -> None:
        try:
            written = WrittenRecord.of(record)
        except UnreadableRecordError as exc:
            self._outbox.park(record.raw_event, [str(exc)])
            return
        self._outbox.announce(written, record.raw_event)


def _handle(event: dict[str, Any], context: LambdaContext, runtime: Callable[[], Outbox]) -> dict[str, Any]:
    batch = _Batch(runtime())
    response: dict[str, Any] = dict(
        process_partial_response(
            event=event,
            record_handler=batch.announce,
            processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
            context=context,
        )
    )
    return response


@cache
def runtime() -> Outbox:
    """The container's outbox, from its environment on the first invocation."""
    return build_outbox(OutboxSettings.from_env())


handler = create_handler(runtime)
