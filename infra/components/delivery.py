"""How an event or a stream record reaches a Lambda without being lost: one rule, retries on both
hops, one DLQ; or one mapping of the calls table's stream, its failures to a DLQ.

EventBridge retries delivering to the function (`retry_attempts` over `max_event_age`), Lambda
retries the function's own failures (twice, events kept six hours), and whatever both give up on
lands in the same dead-letter queue, on whose first message an alarm fires (`Monitoring`). The
summaries and recordings rules are built here so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.components.functions import BuiltFunction
from infra.components.nag import acknowledge
from infra.components.outputs import pascal, stack_output
from shared.events import SOURCE

if TYPE_CHECKING:
    from infra.components.data import DataTables


def dead_letter_queue(
    scope: Construct,
    consumer: str,
    redrive: str | None = "by hand",
    *,
    role: str | None = None,
    holds: str | None = None,
) -> sqs.Queue:
    """`DeadLetters` under `scope`: encrypted, TLS-only, kept two weeks for a redrive by hand, with
    its URL as the output `<Consumer>DeadLetterQueueUrl`. `role`: what the queue is to its consumer
    (default: the dead-letter queue of its rule and function); `redrive`: how the operator redrives
    what it holds (None: nothing to redrive); `holds`: the output's description."""
    queue = sqs.Queue(
        scope,
        "DeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )
    acknowledge(
        queue,
        ("AwsSolutions-SQS3",),
        f"This queue is itself {role or f'the dead-letter queue of the {consumer} rule and function'}; an "
        "alarm fires on its first message" + (f" and the operator redrives {redrive}." if redrive else "."),
    )
    stack_output(
        scope,
        f"{pascal(consumer)}DeadLetterQueueUrl",
        queue.queue_url,
        holds or f"Events the {consumer} Lambda could not process (docs/deploy.md, Operating it)",
    )
    return queue


def deliver_events(
    scope: Construct,
    rule_id: str,
    *,
    bus: events.IEventBus,
    detail_types: Sequence[str],
    function: lambda_.IFunction,
    dead_letters: sqs.IQueue,
    description: str,
) -> events.Rule:
    """The rule that sends `detail_types` from the product's bus to `function`, with both retries."""
    function.configure_async_invoke(
        retry_attempts=2,
        max_event_age=cdk.Duration.hours(6),
        on_failure=destinations.SqsDestination(dead_letters),
    )
    return events.Rule(
        scope,
        rule_id,
        event_bus=bus,
        description=description,
        event_pattern=events.EventPattern(source=[SOURCE], detail_type=list(detail_types)),
        targets=[
            targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letters,
                max_event_age=cdk.Duration.hours(24),
                retry_attempts=8,
            )
        ],
    )


def read_calls_stream(
    built: BuiltFunction,
    tables: DataTables,
    dead_letters: sqs.IQueue,
    *,
    starting_position: lambda_.StartingPosition,
    batch_size: int,
    retry_attempts: int,
    max_record_age: cdk.Duration,
    report_batch_item_failures: bool = False,
) -> sources.DynamoEventSource:
    """`built`'s mapping of the calls table's stream: a shard's records in order (one batch at a
    time, no batching window), a failing batch bisected, and what is given up on described in
    `dead_letters`. What differs between the readers (where they start, how long they retry) is
    theirs to say (docs/infra.md, "The calls table's stream and its two readers")."""
    source = sources.DynamoEventSource(
        tables.calls,
        starting_position=starting_position,
        batch_size=batch_size,
        max_batching_window=cdk.Duration.seconds(0),
        parallelization_factor=1,
        bisect_batch_on_error=True,
        report_batch_item_failures=report_batch_item_failures or None,
        retry_attempts=retry_attempts,
        max_record_age=max_record_age,
        on_failure=sources.SqsDlq(dead_letters),
    )
    built.function.add_event_source(source)
    acknowledge(
        built.role,
        ("AwsSolutions-IAM5[Resource::*]",),
        "dynamodb:ListStreams supports no resource-level permission; every other stream action is "
        "granted on the calls table's stream only.",
    )
    return source
