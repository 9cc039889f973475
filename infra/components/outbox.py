"""The outbox: the calls table's stream → a small Lambda that announces each change of a call.

Every write of the calls table is in its stream (both images, `shared/dal/tables.py`); the event
source mapping hands the outbox Lambda (`functions/outbox`) one shard's records in order, and the
Lambda puts the contract's events on the bus. So a write that landed is announced whatever happened
to the request that made it, and no tier in the request path needs PutEvents.

The mapping, and why:
- `TRIM_HORIZON`: from the oldest record the stream holds (24 h), so nothing written between the
  stream's start and the mapping's is skipped; a re-created mapping re-announces up to a day of
  changes (consumers are idempotent; docs/deploy.md says when that happens);
- one batch per shard at a time (parallelization 1, the default): a call's changes in order;
- no batching window: Lambda polls each shard four times a second and invokes as soon as records
  are there, which is the latency the summaries (and a live feed) wait on;
- `ReportBatchItemFailures` with bisection: the Lambda answers which record failed first; records
  before it are done, the rest are retried (the Lambda also fails the later ones itself, so a
  call's later change never overtakes an earlier one);
- retries bounded by age first (`OUTBOX_MAX_RECORD_AGE`), and by count against a tight loop: a
  record the Lambda knows it can never announce is parked by the Lambda at once, so retries only
  wait out a failing bus, however long that takes within the bound;
- on failure the batch's description (shard, sequence numbers) goes to the encrypted dead-letter
  queue, where the Lambda also parks the records it refuses; an alarm fires on its first message
  and another when the stream falls behind (`Monitoring`).

IAM: stream read on the calls table's stream only (CDK's grant; `ListStreams` has no resource-level
permission), PutEvents on the product bus, SendMessage on its own dead-letter queue. No table access.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.delivery import dead_letter_queue
from infra.components.functions import BuiltFunction, build_python_function
from infra.components.nag import acknowledge

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
        self.event_source = sources.DynamoEventSource(
            tables.calls,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=OUTBOX_BATCH_SIZE,
            max_batching_window=cdk.Duration.seconds(0),
            parallelization_factor=1,
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            retry_attempts=OUTBOX_RETRY_ATTEMPTS,
            max_record_age=OUTBOX_MAX_RECORD_AGE,
            on_failure=sources.SqsDlq(self.dead_letters),
        )
        function.add_event_source(self.event_source)
        bus.grant_put_events_to(function)
        self.dead_letters.grant_send_messages(function)
        acknowledge(
            built.role,
            ("AwsSolutions-IAM5[Resource::*]",),
            "dynamodb:ListStreams supports no resource-level permission; every other stream action "
            "is granted on the calls table's stream only.",
        )
