"""The sweeper: a scheduled Lambda that finishes or re-drives whatever is left pending.

What a change must keep: it runs on the default bus's schedule (`sweepSchedule`), a failed run is
not retried (the next run is the retry), and it needs no reserved concurrency (every action is a
conditional claim on the call). Its IAM is exactly its ports: Query on the `calls_to_sweep` index
only, GetItem and UpdateItem on the calls table, Query on the transcripts table, PutEvents on the
product bus, read of the Twilio secret. Why: docs/recordings.md, "The sweeper", "Infrastructure".
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.functions import BuiltFunction, build_python_function
from infra.components.secrets import ProductSecrets
from shared.dal.tables import CALLS_TO_SWEEP_INDEX


class Sweeper(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        secrets: ProductSecrets,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        built: BuiltFunction = build_python_function(
            self,
            "Handler",
            name="sweeper",
            description="callscribe: finish stalled transcripts and re-drive lost events (scheduled)",
            config=config,
            # A run stops taking calls 20 s before its end; a thousand calls take well under a minute.
            timeout=cdk.Duration.minutes(4),
            memory_size=512,
            environment={
                "CALLS_TABLE": tables.calls.table_name,
                "TRANSCRIPTS_TABLE": tables.transcripts.table_name,
                "EVENT_BUS_NAME": bus.event_bus_name,
                "SWEEP_AFTER_SECONDS": str(config.sweep_after_seconds),
                "TWILIO_SECRET_ARN": secrets.twilio.secret_arn,
                "TWILIO_API_BASE_URL": config.twilio_api_base_url,
                **config.prices_environment(),  # a settled call's stale cost is recomputed
            },
        )
        self.handler = built
        function = built.function
        function.configure_async_invoke(retry_attempts=0, max_event_age=cdk.Duration.minutes(5))
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[tables.calls_index_arn(CALLS_TO_SWEEP_INDEX)]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[tables.calls.table_arn]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[tables.transcripts.table_arn])
        )
        bus.grant_put_events_to(function)
        secrets.twilio.grant_read(function)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Run the callscribe sweeper",
            schedule=events.Schedule.expression(config.sweep_schedule),
            # a failed delivery (throttling) is retried until the next run is due anyway
            targets=[
                targets.LambdaFunction(function, retry_attempts=2, max_event_age=cdk.Duration.minutes(5))
            ],
        )
