"""Lambda entry point: `handler(event, context)` for the "Transcript Completed" and "Transcript
Reconciled" events: parse, then `SummaryService.create` or `.rewrite` under Powertools idempotency
(keyed on the call SID, and on the call SID and transcript version for a rewrite: docs/summaries.md,
"Exactly once"). `handler` builds its runtime from the environment on the first invocation;
`create_handler` binds the same code to a runtime built elsewhere (the local stack, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.summaries import metric_names as names
from functions.summaries.inputs import SummaryTrigger, TranscriptCompletedDetail, TranscriptReconciledDetail
from functions.summaries.llm import LanguageModel
from functions.summaries.service import SummaryService
from functions.summaries.settings import SummarySettings
from shared import aws
from shared.dal.calls.summaries import DynamoSummaryCalls
from shared.dal.segments import DynamoSegments
from shared.events import TranscriptReconciled
from shared.observability import LambdaHandler, lambda_entry, logger, metrics, tracer


@dataclass(frozen=True)
class Runtime:
    configs: tuple[IdempotencyConfig, ...]
    create: Any  # SummaryService.create wrapped by idempotent_function
    rewrite: Any  # SummaryService.rewrite wrapped by idempotent_function


def build_runtime(config: SummarySettings) -> Runtime:
    @cache
    def language_model() -> LanguageModel:
        """One client for the container, built on the first request that needs the model."""
        from functions.summaries.anthropic_adapter import language_model

        return language_model(config, config.anthropic_timeout_seconds)

    service = SummaryService(
        settings=config,
        calls=DynamoSummaryCalls(config.calls_table),
        segments=DynamoSegments(config.transcripts_table),
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


def create_handler(runtime: Callable[[], Runtime]) -> LambdaHandler:
    """The Lambda entry point's code bound to `runtime()` (asked on each invocation: cache it)."""

    @lambda_entry(correlation_paths.EVENT_BRIDGE)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # X-Ray: "## handler"
        return _handle(event, context, runtime)

    return handler


def _handle(event: dict[str, Any], context: LambdaContext, runtime: Callable[[], Runtime]) -> dict[str, Any]:
    metrics.add_metric(name=names.EVENTS_RECEIVED, unit=MetricUnit.Count, value=1)
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
