"""Lambda entry point: `handler(event, context)` for the EventBridge "Transcript Completed" and
"Transcript Reconciled" events (the summaries rule matches both).

Parse (Powertools parser: the EventBridge event, then the detail typed by its `detail-type`) →
`SummaryService.create` (Transcript Completed) or `SummaryService.rewrite` (Transcript Reconciled),
each under Powertools idempotency → the outcome. `handler` builds its runtime from the environment on
the first invocation, not at import, and keeps it for the container's life; `create_handler` binds
the same code to a runtime built elsewhere (the local stack, tests). The Anthropic SDK loads only
when a model request is due.

Idempotency is keyed on the detail, not the EventBridge event id: a redelivery keeps its id, but the
streamer may publish "Transcript Completed" twice for one call (its own PutEvents retry, a task that
restarts mid-drain), and each copy has a new id. One summary per call is created, so its key is the
call SID (prefix `summary`); one rewrite per transcript version, so a reconciliation's key is the
call SID and the version (prefix `summary-rewrite`): it is never taken for the first summary's
record, and a later reconciliation (a new version) is not taken for an earlier one's. The
conditional writes (`shared/dal/calls.py`) back both up past the records' TTL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from functions.summaries.llm import LanguageModel
from functions.summaries.models import TranscriptCompletedDetail, TranscriptReconciledDetail
from functions.summaries.service import SummaryService
from functions.summaries.settings import SummarySettings
from shared import aws
from shared.dal.calls import DynamoCalls
from shared.dal.segments import DynamoSegments
from shared.events import EventBridgePublisher, TranscriptReconciled
from shared.observability import logger, metrics, tracer


class SummaryTrigger(EventBridgeModel):
    """An event the summaries rule delivers: its detail is typed once its `detail-type` is known."""

    source: Literal["callscribe"]
    detail_type: Literal["Transcript Completed", "Transcript Reconciled"] = Field(alias="detail-type")


@dataclass(frozen=True)
class Runtime:
    configs: tuple[IdempotencyConfig, ...]
    create: Any  # SummaryService.create wrapped by idempotent_function
    rewrite: Any  # SummaryService.rewrite wrapped by idempotent_function


@cache
def _language_model(
    api_key: str, model: str, timeout_seconds: float, max_retries: int, base_url: str | None
) -> LanguageModel:
    from functions.summaries.anthropic_adapter import AnthropicModel, build_client

    return AnthropicModel(build_client(api_key, timeout_seconds, max_retries, base_url=base_url), model)


def build_runtime(config: SummarySettings) -> Runtime:
    def language_model() -> LanguageModel:
        return _language_model(
            config.anthropic_api_key.get_secret_value(),
            config.summary_model,
            config.anthropic_timeout_seconds,
            config.anthropic_max_retries,
            config.anthropic_base_url,
        )

    service = SummaryService(
        settings=config,
        calls=DynamoCalls(config.calls_table),
        segments=DynamoSegments(config.transcripts_table),
        publisher=EventBridgePublisher(aws.events(), config.event_bus_name),
        language_model=language_model,
    )
    idempotency = IdempotencyConfig(
        event_key_jmespath="call_sid",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=config.summary_idempotency_ttl_seconds,
    )
    per_version = IdempotencyConfig(
        event_key_jmespath="[call_sid, transcript_version]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=config.summary_idempotency_ttl_seconds,
    )
    persistence = DynamoDBPersistenceLayer(table_name=config.idempotency_table, boto3_client=aws.dynamodb())

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="detail",
        persistence_store=persistence,
        config=idempotency,
        key_prefix="summary",
    )
    def create(detail: TranscriptCompletedDetail, context: LambdaContext) -> dict[str, Any]:
        return service.create(detail, lambda: context.get_remaining_time_in_millis() / 1000)

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="detail",
        persistence_store=persistence,
        config=per_version,
        key_prefix="summary-rewrite",
    )
    def rewrite(detail: TranscriptReconciledDetail, context: LambdaContext) -> dict[str, Any]:
        return service.rewrite(detail, lambda: context.get_remaining_time_in_millis() / 1000)

    return Runtime(configs=(idempotency, per_version), create=create, rewrite=rewrite)


LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def create_handler(runtime: Callable[[], Runtime]) -> LambdaHandler:
    """The Lambda entry point's code bound to `runtime()` (asked on each invocation: cache it)."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # X-Ray: "## handler"
        return _handle(event, context, runtime)

    return handler


def _handle(event: dict[str, Any], context: LambdaContext, runtime: Callable[[], Runtime]) -> dict[str, Any]:
    metrics.add_metric(name="SummaryEventsReceived", unit=MetricUnit.Count, value=1)
    trigger = parse(event=event, model=SummaryTrigger)
    current = runtime()
    for config in current.configs:
        config.register_lambda_context(context)
    outcome: dict[str, Any]
    if trigger.detail_type == TranscriptReconciled.detail_type:
        reconciled = TranscriptReconciledDetail.model_validate(trigger.detail)
        _annotate(reconciled.call_sid)
        outcome = current.rewrite(detail=reconciled, context=context)
    else:  # TranscriptCompleted.detail_type: the model's Literal admits nothing else
        completed = TranscriptCompletedDetail.model_validate(trigger.detail)
        _annotate(completed.call_sid)
        outcome = current.create(detail=completed, context=context)
    return outcome


def _annotate(call_sid: str) -> None:
    logger.append_keys(call_sid=call_sid)
    tracer.put_annotation(key="call_sid", value=call_sid)


@cache
def runtime() -> Runtime:
    """The container's runtime, from its environment on the first invocation."""
    return build_runtime(SummarySettings.from_env())


handler = create_handler(runtime)
