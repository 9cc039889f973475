"""Lambda entry point: `handler(event, context)` for the EventBridge `Recording Completed` event.

Parse (Powertools parser: the whole EventBridge event, typed detail) → `RecordingService.reconcile`.
`handler` builds the service and its adapters on the first invocation, not at import; `create_handler`
binds the same code to a service built elsewhere (the local stack, tests). What a change must keep:
every failure is raised (Lambda's asynchronous invoke retries, then the dead-letter destination), and
before that it is logged with `retryable` and counted as `RecordingFailures` twice, with `service`
alone and with `reason` too. The reasons and what an operator does: docs/recordings.md, "Errors".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.recordings import metric_names as names
from functions.recordings.adapters import DeepgramBatch, RetryPolicy, S3RecordingStore, TwilioMedia, http_pool
from functions.recordings.errors import RecordingError
from functions.recordings.inputs import RecordingCompletedEvent
from functions.recordings.service import RecordingService
from functions.recordings.settings import RecordingSettings
from shared import aws
from shared.dal.calls.recordings import DynamoRecordingCalls
from shared.dal.segments import DynamoSegments
from shared.errors import ConfigError, StoreError
from shared.observability import LambdaHandler, lambda_entry, logger, metrics, tracer
from shared.telemetry import METRICS_NAMESPACE


def build_service(config: RecordingSettings) -> RecordingService:
    """The real adapters for `config`: DynamoDB tables, S3, Twilio and Deepgram over one urllib3 pool."""
    http = http_pool()
    backoff = config.recording_retry_backoff_seconds
    return RecordingService(
        config,
        calls=DynamoRecordingCalls(config.calls_table),
        segments=DynamoSegments(config.transcripts_table),
        media=TwilioMedia(
            http=http,
            base_url=config.twilio_api_base_url,
            account_sid=config.twilio_account_sid,
            auth_token=config.twilio_auth_token.get_secret_value(),
            timeout_seconds=config.recording_download_timeout_seconds,
            retry=RetryPolicy(config.recording_download_attempts, backoff),
        ),
        store=S3RecordingStore(aws.s3(), config.recordings_bucket, config.recordings_kms_key_id),
        transcriber=DeepgramBatch(
            http=http,
            connect_timeout_seconds=config.deepgram.batch_connect_timeout_seconds,
            retry=RetryPolicy(config.deepgram.batch_attempts, backoff),
        ),
    )


def failure(exc: BaseException) -> tuple[str, bool]:
    """The metric's `reason` for a failure, and whether retrying the event can help."""
    if isinstance(exc, RecordingError):
        return exc.reason, exc.retryable
    if isinstance(exc, StoreError):
        return "table-unavailable", True
    if isinstance(exc, ConfigError):
        return "misconfigured", False
    return "unexpected", True


def _report_failure(exc: BaseException) -> None:
    reason, retryable = failure(exc)
    # The total with the invocation's other metrics (flushed as the handler raises); the breakdown in
    # a document of its own, since a dimension applies to every metric of its document.
    metrics.add_metric(name=names.RECORDING_FAILURES, unit=MetricUnit.Count, value=1)
    with single_metric(
        name=names.RECORDING_FAILURES, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name=names.REASON_DIMENSION, value=reason)
    extra = {"reason": reason, "retryable": retryable, "error": f"{type(exc).__name__}: {exc}"}
    if retryable:
        logger.exception("recording not reconciled; the event will be retried", extra=extra)
    else:
        logger.error(
            "recording not reconciled and retrying cannot help; the event ends in the DLQ", extra=extra
        )


def create_handler(runtime: Callable[[], RecordingService]) -> LambdaHandler:
    """The Lambda entry point's code bound to `runtime()`'s service (asked on each invocation: cache it)."""

    @lambda_entry(correlation_paths.EVENT_BRIDGE)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # X-Ray: "## handler"
        return _handle(event, context, runtime)

    return handler


def _handle(
    event: dict[str, Any], context: LambdaContext, runtime: Callable[[], RecordingService]
) -> dict[str, Any]:
    metrics.add_metric(name=names.EVENTS_RECEIVED, unit=MetricUnit.Count, value=1)
    detail = parse(event=event, model=RecordingCompletedEvent).detail
    logger.append_keys(call_sid=detail.call_sid, recording_sid=detail.recording_sid)
    tracer.put_annotation(key="call_sid", value=detail.call_sid)
    try:
        outcome = runtime().reconcile(detail, lambda: context.get_remaining_time_in_millis() / 1000)
    except Exception as exc:
        _report_failure(exc)
        raise
    return outcome.as_dict()


@cache
def runtime() -> RecordingService:
    """The container's service, from its environment on the first invocation."""
    return build_service(RecordingSettings.from_env())


handler = create_handler(runtime)
