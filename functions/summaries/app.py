"""Lambda entry point: `handler(event, context)` for the EventBridge "Transcript Completed" event.

Parse (Powertools parser, EventBridge envelope, typed detail) → `SummaryService.create` under
Powertools idempotency → the outcome. Everything is built on the first invocation, not at import,
and cached for the container's life; the Anthropic SDK loads only when a model request is due.

Idempotency is keyed on the detail's callSid, not the EventBridge event id: a redelivery keeps its
id, but the streamer may publish "Transcript Completed" twice for one call (its own PutEvents retry,
a task that restarts mid-drain), and each copy has a new id. The product wants one summary per
call, so the call is the key; the conditional summary write (`shared/dal/calls.py`) backs it up past
the record's TTL.
"""

from __future__ import annotations

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
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.summaries.llm import LanguageModel
from functions.summaries.models import TranscriptCompletedDetail
from functions.summaries.service import SummaryService
from functions.summaries.settings import SummarySettings
from shared import aws, settings
from shared.dal.calls import DynamoCalls
from shared.dal.segments import DynamoSegments
from shared.events import EventBridgePublisher
from shared.observability import logger, metrics, tracer


class TranscriptCompletedEvent(EventBridgeModel):
    """The EventBridge event with its detail typed (Powertools' documented way to extend a model).

    Same validation as `parse(..., envelope=envelopes.EventBridgeEnvelope)`, the envelope then the
    detail, but importing any Powertools envelope imports all of them (~20 modules of pydantic
    models, ~80 ms of init), while the models package loads only the model asked for.
    """

    detail: TranscriptCompletedDetail


@dataclass(frozen=True)
class Runtime:
    config: IdempotencyConfig
    create: Any  # SummaryService.create wrapped by idempotent_function


@cache
def _language_model(api_key: str, model: str, timeout_seconds: float, max_retries: int) -> LanguageModel:
    from functions.summaries.anthropic_adapter import AnthropicModel, build_client

    return AnthropicModel(build_client(api_key, timeout_seconds, max_retries), model)


def build_runtime(config: SummarySettings) -> Runtime:
    def language_model() -> LanguageModel:
        return _language_model(
            config.anthropic_api_key.get_secret_value(),
            config.summary_model,
            config.anthropic_timeout_seconds,
            config.anthropic_max_retries,
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
    persistence = DynamoDBPersistenceLayer(table_name=config.idempotency_table, boto3_client=aws.dynamodb())

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="detail",
        persistence_store=persistence,
        config=idempotency,
        key_prefix="summary",
    )
    def create(detail: TranscriptCompletedDetail, context: LambdaContext) -> dict[str, Any]:
        return service.create(detail, lambda: context.get_remaining_time_in_millis() / 1000)

    return Runtime(config=idempotency, create=create)


@cache
def runtime() -> Runtime:
    return build_runtime(settings.load(SummarySettings))


def reset() -> None:
    """Forget the cached runtime and model client (tests that change the environment)."""
    runtime.cache_clear()
    _language_model.cache_clear()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="SummaryEventsReceived", unit=MetricUnit.Count, value=1)
    detail = parse(event=event, model=TranscriptCompletedEvent).detail
    logger.append_keys(call_sid=detail.call_sid)
    tracer.put_annotation(key="call_sid", value=detail.call_sid)
    current = runtime()
    current.config.register_lambda_context(context)
    outcome: dict[str, Any] = current.create(detail=detail, context=context)
    return outcome
