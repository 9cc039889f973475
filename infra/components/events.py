"""The product's event bus, and the summaries Lambda behind the "Transcript Completed" rule.

The call's events are put on the bus by the outbox (infra/components/outbox.py) from the calls
table's stream, and the sweeper's re-drives by the sweeper; no other tier has PutEvents.

EventBridge delivers at least once and retries for 24 h (8 attempts) when the function cannot be
invoked; the function's own asynchronous retries cover its errors. Whatever is still undelivered
after both lands in one encrypted dead-letter queue (nothing lost), which an alarm watches.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from constructs import Construct

from infra.components.bedrock import INVOKE, BedrockModels
from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.delivery import dead_letter_queue, deliver_events
from infra.components.functions import BuiltFunction, build_python_function
from infra.components.outputs import stack_output
from infra.components.secrets import ProductSecrets
from shared.events import SOURCE, TranscriptCompleted, TranscriptReconciled


class ProductEvents(Construct):
    """The product's custom bus (source "callscribe"): the outbox and the sweeper publish to it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"{config.stack_name}-events")
        stack_output(self, "EventBusName", self.bus.event_bus_name, "The bus every tier publishes to")
        # Replays and late consumers: a week of every domain event.
        self.bus.archive(
            "Archive",
            event_pattern=events.EventPattern(source=[SOURCE]),
            retention=cdk.Duration.days(7),
            description="callscribe domain events, for replay after a consumer outage",
        )


class Summaries(Construct):
    """Rule "Transcript Completed" / "Transcript Reconciled" -> summaries Lambda (retry policy, DLQ,
    least privilege). A reconciliation that added words has the summary rewritten. Claude is asked
    with the Anthropic secret's key, or on Bedrock (`bedrock`) with the function's role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        secrets: ProductSecrets,
        bus: events.IEventBus,
        bedrock: BedrockModels | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = dead_letter_queue(self, "summaries")
        if bedrock is not None:
            model_environment = bedrock.environment("SUMMARY_MODEL", bedrock.summary)
            if config.bedrock_structured_output:
                model_environment["BEDROCK_STRUCTURED_OUTPUT"] = config.bedrock_structured_output
        else:
            assert secrets.anthropic is not None  # created unless Claude is on Bedrock
            model_environment = {
                "ANTHROPIC_SECRET_ARN": secrets.anthropic.secret_arn,
                **({"SUMMARY_MODEL": config.summary_model} if config.summary_model else {}),
            }

        built: BuiltFunction = build_python_function(
            self,
            "Handler",
            name="summaries",
            description="callscribe: Claude summary of a finished call's transcript",
            config=config,
            # Long calls are summarised map-reduce, each request up to 60 s with retries; the code caps
            # its requests by the remaining time, so this is the whole budget of one summary.
            timeout=cdk.Duration.minutes(5),
            memory_size=1024,
            reserved_concurrency=config.summaries_concurrency,  # stays under the model's rate limit
            environment={
                "CALLS_TABLE": tables.calls.table_name,
                "TRANSCRIPTS_TABLE": tables.transcripts.table_name,
                "IDEMPOTENCY_TABLE": tables.idempotency.table_name,
                **model_environment,
                **config.prices_environment(),  # a stored summary recomputes the call's cost
                **(
                    {"EVALUATION_QUESTIONS": config.evaluation_questions}
                    if config.evaluation_questions
                    else {}
                ),
            },
        )
        self.handler = built
        function = built.function
        # The summaries' ports on shared/dal (SummaryCalls, SegmentReader): GetItem to read the call,
        # conditional UpdateItem to store the summary once; the transcript is one Query.
        tables.calls.grant(function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        tables.transcripts.grant(function, "dynamodb:Query")
        tables.idempotency.grant_read_write_data(function)
        if bedrock is not None:
            bedrock.grant_invoke(self, built.role, bedrock.summary, [INVOKE])
        else:
            assert secrets.anthropic is not None
            secrets.anthropic.grant_read(function)
        tables.acknowledge_index_access(built.role)

        self.rule = deliver_events(
            self,
            "TranscriptCompleted",
            bus=bus,
            detail_types=[TranscriptCompleted.detail_type, TranscriptReconciled.detail_type],
            function=function,
            dead_letters=self.dead_letters,
            description="Summarise every call whose transcript is stored, again once it is reconciled",
        )
