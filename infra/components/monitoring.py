"""One dashboard and the alarms an on-call person needs, all notifying one SNS topic.

Alarms: webhook 5xx (Twilio then plays an error to the caller), webhook and summaries Lambda
errors, anything in the summaries dead-letter queue, unhealthy streamer targets, and a Deepgram
reconnect storm (transcripts at risk). Optional e-mail subscription from context `alarmEmail`.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.components.api import WebhooksApi
from infra.components.config import InfraConfig
from infra.components.events import Summaries
from infra.components.streamer import StreamerService, streamer_metric
from streamer.contract import (
    ACTIVE_CALLS,
    DEEPGRAM_RECONNECTS,
    FRAMES_DROPPED,
    FRAMES_IN,
    SEGMENT_STORE_LATENCY,
    SEGMENTS_WRITTEN,
    WRITE_RETRIES,
)

_FIVE_MINUTES = cdk.Duration.minutes(5)
_ONE_MINUTE = cdk.Duration.minutes(1)


@dataclass(frozen=True)
class _Signals:
    """The metrics an alarm and a dashboard graph share, defined once so both show the same line."""

    webhooks: lambda_.IFunction
    summarizer: lambda_.IFunction
    api_4xx: cloudwatch.Metric
    api_5xx: cloudwatch.Metric
    dlq_depth: cloudwatch.Metric
    unhealthy: cloudwatch.Metric
    reconnects: cloudwatch.Metric

    @classmethod
    def of(cls, api: WebhooksApi, summaries: Summaries, streamer: StreamerService) -> _Signals:
        return cls(
            webhooks=api.handler.function,
            summarizer=summaries.handler.function,
            api_4xx=api.api.metric_client_error(period=_FIVE_MINUTES, statistic="Sum"),
            api_5xx=api.api.metric_server_error(period=_FIVE_MINUTES, statistic="Sum"),
            dlq_depth=summaries.dead_letters.metric_approximate_number_of_messages_visible(
                period=_FIVE_MINUTES,
                statistic="Maximum",
            ),
            unhealthy=streamer.target_group.metrics.unhealthy_host_count(period=_ONE_MINUTE),
            reconnects=streamer_metric(DEEPGRAM_RECONNECTS, statistic="Sum", period_minutes=5),
        )


class Monitoring(Construct):
    """The alarm topic, the alarms on it, and the operations dashboard; `__init__` lists the steps."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        api: WebhooksApi,
        summaries: Summaries,
        streamer: StreamerService,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._build_topic(config)
        signals = _Signals.of(api, summaries, streamer)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._build_alarms(config, signals)
        self.dashboard = self._build_dashboard(config, api, streamer, signals)
        cdk.CfnOutput(
            scope,
            "AlarmTopicArn",
            value=self.topic.topic_arn,
            description="Subscribe on-call here (or set context alarmEmail)",
        )

    def _build_topic(self, config: InfraConfig) -> sns.Topic:
        topic = sns.Topic(self, "Alarms", display_name="callscribe alarms", enforce_ssl=True)
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        return topic

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, threshold: float, description: str, periods: int = 1
    ) -> None:
        """Every alarm notifies the topic when it fires and when it clears; no data is not a breach
        (no calls at night must not page anyone)."""
        created = cloudwatch.Alarm(
            self,
            name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = actions.SnsAction(self.topic)
        created.add_alarm_action(action)
        created.add_ok_action(action)
        self.alarms[name] = created

    def _build_alarms(self, config: InfraConfig, signals: _Signals) -> None:
        self._alarm(
            "Webhook5xx", signals.api_5xx, 1, "The webhooks API answered 5xx: Twilio callers heard an error"
        )
        self._alarm(
            "WebhookErrors",
            signals.webhooks.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            1,
            "The webhooks Lambda raised errors",
        )
        self._alarm(
            "SummariesErrors",
            signals.summarizer.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            1,
            "The summaries Lambda failed (it is retried; the DLQ alarm says when retries ran out)",
        )
        self._alarm(
            "SummariesDeadLetters",
            signals.dlq_depth,
            1,
            "Summaries gave up on a call: messages are in the dead-letter queue (redrive by hand)",
        )
        self._alarm(
            "StreamerUnhealthyHosts",
            signals.unhealthy,
            1,
            "A streamer task fails its /healthz check (full, draining, or broken)",
            periods=3,
        )
        self._alarm(
            "DeepgramReconnectStorm",
            signals.reconnects,
            config.reconnect_storm_threshold,
            "Streamer reconnects to Deepgram are storming: live transcripts are at risk",
        )

    def _build_dashboard(
        self, config: InfraConfig, api: WebhooksApi, streamer: StreamerService, signals: _Signals
    ) -> cloudwatch.Dashboard:
        """One row per concern, top to bottom: traffic, the live transcript path, the Lambdas."""
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{config.stack_name}-operations")
        dashboard.add_widgets(_title())
        dashboard.add_widgets(*_traffic_row(api, streamer, signals))
        dashboard.add_widgets(*_streams_row(signals))
        dashboard.add_widgets(*_lambdas_row(signals))
        return dashboard


# The dashboard's rows, each three 8-wide graphs.


def _title() -> cloudwatch.IWidget:
    return cloudwatch.TextWidget(
        markdown="# callscribe\nCalls, streams, transcripts and summaries. Alarms go to the SNS "
        "topic in the stack outputs.",
        width=24,
        height=2,
    )


def _traffic_row(api: WebhooksApi, streamer: StreamerService, signals: _Signals) -> list[cloudwatch.IWidget]:
    """Load: webhook requests, calls per task (what autoscaling tracks), and the tasks serving them."""
    return [
        cloudwatch.GraphWidget(
            title="Webhook requests and errors",
            width=8,
            left=[api.api.metric_count(period=_FIVE_MINUTES, statistic="Sum", label="requests")],
            right=[signals.api_4xx.with_(label="4xx"), signals.api_5xx.with_(label="5xx")],
        ),
        cloudwatch.GraphWidget(
            title="Active calls per task (average / max)",
            width=8,
            left=[streamer_metric(ACTIVE_CALLS), streamer_metric(ACTIVE_CALLS, "Maximum")],
            right=[streamer.service.metric_cpu_utilization(period=_ONE_MINUTE)],
        ),
        cloudwatch.GraphWidget(
            title="Streamer tasks and targets",
            width=8,
            left=[
                streamer.target_group.metrics.healthy_host_count(period=_ONE_MINUTE),
                signals.unhealthy,
            ],
        ),
    ]


def _streams_row(signals: _Signals) -> list[cloudwatch.IWidget]:
    """The live transcript path: media in, Deepgram connections, segment writes."""
    return [
        cloudwatch.GraphWidget(
            title="Media frames in / dropped",
            width=8,
            left=[streamer_metric(FRAMES_IN, "Sum"), streamer_metric(FRAMES_DROPPED, "Sum")],
        ),
        cloudwatch.GraphWidget(
            title="Deepgram reconnects and segment writes",
            width=8,
            left=[signals.reconnects],
            right=[
                streamer_metric(SEGMENTS_WRITTEN, "Sum", 5),
                streamer_metric(WRITE_RETRIES, "Sum", 5),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Segment store latency (ms)",
            width=8,
            left=[
                streamer_metric(SEGMENT_STORE_LATENCY, "p50"),
                streamer_metric(SEGMENT_STORE_LATENCY, "p99"),
            ],
        ),
    ]


def _lambdas_row(signals: _Signals) -> list[cloudwatch.IWidget]:
    webhooks, summarizer = signals.webhooks, signals.summarizer
    return [
        cloudwatch.GraphWidget(
            title="Lambda errors",
            width=8,
            left=[
                webhooks.metric_errors(period=_FIVE_MINUTES, label="webhooks"),
                summarizer.metric_errors(period=_FIVE_MINUTES, label="summaries"),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Lambda duration p99 (ms)",
            width=8,
            left=[
                webhooks.metric_duration(period=_FIVE_MINUTES, statistic="p99", label="webhooks"),
                summarizer.metric_duration(period=_FIVE_MINUTES, statistic="p99", label="summaries"),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Summaries dead letters",
            width=8,
            left=[signals.dlq_depth],
        ),
    ]
