"""The outbox: the calls table's stream → a small Lambda that announces each change of a call.

A write that landed is announced whatever happened to the request that made it, so no tier in the
request path needs PutEvents. What a change must keep: the mapping starts at `TRIM_HORIZON` (nothing
skipped), one batch per shard at a time, no batching window, `ReportBatchItemFailures` with
bisection (a call's later change never overtakes an earlier one), retries bounded by age
(`OUTBOX_MAX_RECORD_AGE`) and count, what is given up in an encrypted dead-letter queue that alarms.
IAM: the stream, PutEvents on the product bus, its own queue; no table access.
Why: docs/infra.md, "The calls table's stream and its two readers".
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.delivery import dead_letter_queue, read_calls_stream
from infra.components.functions import BuiltFunction, build_python_function

OUTBOX_BATCH_SIZE = 100
OUTBOX_RETRY_ATTEMPTS = 1000
OUTBOX_MAX_RECORD_AGE = cdk.Duration.hours(6)


class Outbox(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = dead_letter_queue(
            self, "outbox", "from the stream or the table (docs/deploy.md, 'Operating it')"
        )
        built: BuiltFunction = build_python_function(
            self,
            "Handler",
            name="outbox",
            description="callscribe: announce each change of a call record from the calls table's stream",
            config=config,
            # A batch is at most 100 records and one PutEvents each; a failing bus is retried by
            # botocore inside a record, then the batch by the mapping.
            timeout=cdk.Duration.minutes(1),
            memory_size=256,
            environment={
                "EVENT_BUS_NAME": bus.event_bus_name,
                "OUTBOX_DEAD_LETTER_QUEUE_URL": self.dead_letters.queue_url,
            },
        )
        self.handler = built
        function = built.function
        self.event_source = read_calls_stream(
            built,
            tables,
            self.dead_letters,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=OUTBOX_BATCH_SIZE,
            report_batch_item_failures=True,
            retry_attempts=OUTBOX_RETRY_ATTEMPTS,
            max_record_age=OUTBOX_MAX_RECORD_AGE,
        )
        bus.grant_put_events_to(function)
        self.dead_letters.grant_send_messages(function)
