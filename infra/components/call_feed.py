"""The call feed: the calls table's stream → a small Lambda that publishes each status change of a call
to the live feed (`functions/call_feed`; docs/people.md, "The live feed").

What a change must keep: the mapping starts at `LATEST`, one batch per shard at a time (a call's
changes in order), no batching window; retries are few and short (`RETRY_ATTEMPTS`,
`MAX_RECORD_AGE`) because the feed is a view and a late status is worth little; what is given up
goes to an encrypted dead-letter queue that alarms. IAM: the stream, `appsync:EventPublish` on the
feed's namespace, its own queue; no table access. Why, beside the outbox's mapping: docs/infra.md,
"The calls table's stream and its two readers".
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.delivery import dead_letter_queue, read_calls_stream
from infra.components.feed import LiveFeed
from infra.components.functions import BuiltFunction, build_python_function

BATCH_SIZE = 100
RETRY_ATTEMPTS = 2
MAX_RECORD_AGE = cdk.Duration.minutes(10)


class CallFeed(Construct):
    """`handler` (the call feed Lambda), `event_source` (its mapping), `dead_letters`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        feed: LiveFeed,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = dead_letter_queue(
            self,
            "call_feed",
            None,
            role="the on-failure destination of the call feed's stream mapping (batch descriptions only)",
            holds="Stream batches the call feed gave up on: changes no board was told of (docs/deploy.md)",
        )
        built: BuiltFunction = build_python_function(
            self,
            "Handler",
            name="call_feed",
            description="callscribe: each call status change (calls table stream) to the live feed",
            config=config,
            # a batch is read in milliseconds; the handler waits up to 10 s for its publishes
            timeout=cdk.Duration.seconds(30),
            environment=feed.environment,
        )
        self.handler = built
        self.event_source = read_calls_stream(
            built,
            tables,
            self.dead_letters,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=BATCH_SIZE,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
        )
        feed.grant_publish(built.function)
