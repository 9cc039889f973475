"""One dashboard and the alarms an on-call person needs, all notifying one SNS topic.

Alarms: webhook 5xx (Twilio then plays an error to the caller), webhook and summaries Lambda
errors, anything in the summaries dead-letter queue, unhealthy streamer targets, and a Deepgram
reconnect storm (transcripts at risk). Optional e-mail subscription from context `alarmEmail`.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.components.api import WebhooksApi
from infra.components.config import InfraConfig
from infra.components.events import Summaries
from infra.components.streamer import StreamerService, streamer_metric

_FIVE_MINUTES = cdk.Duration.minutes(5)


class Monitoring(Construct):
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
        self.topic = sns.Topic(self, "Alarms", display_name="callscribe alarms", enforce_ssl=True)
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        alarm_action = actions.SnsAction(self.topic)

        webhooks = api.handler.function
        summarizer = summaries.handler.function
        dlq_depth = summaries.dead_letters.metric_approximate_number_of_messages_visible(
            period=_FIVE_MINUTES,
            statistic="Maximum",
        )
        api_5xx = api.api.metric_server_error(period=_FIVE_MINUTES, statistic="Sum")
        api_4xx = api.api.metric_client_error(period=_FIVE_MINUTES, statistic="Sum")
        unhealthy = streamer.target_group.metrics.unhealthy_host_count(period=cdk.Duration.minutes(1))
        reconnects = streamer_metric("DeepgramReconnects", statistic="Sum", period_minutes=5)

        self.alarms: dict[str, cloudwatch.Alarm] = {}

        def alarm(
            name: str, metric: cloudwatch.IMetric, threshold: float, description: str, periods: int = 1
        ) -> None:
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
            created.add_alarm_action(alarm_action)
            created.add_ok_action(alarm_action)
            self.alarms[name] = created

        alarm("Webhook5xx", api_5xx, 1, "The webhooks API answered 5xx: Twilio callers heard an error")
        alarm(
            "WebhookErrors",
            webhooks.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            1,
            "The webhooks Lambda raised errors",
        )
        alarm(
            "SummariesErrors",
            summarizer.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            1,
            "The summaries Lambda failed (it is retried; the DLQ alarm says when retries ran out)",
        )
        alarm(
            "SummariesDeadLetters",
            dlq_depth,
            1,
            "Summaries gave up on a call: messages are in the dead-letter queue (redrive by hand)",
        )
        alarm(
            "StreamerUnhealthyHosts",
            unhealthy,
            1,
            "A streamer task fails its /healthz check (full, draining, or broken)",
            periods=3,
        )
        alarm(
            "DeepgramReconnectStorm",
            reconnects,
            config.reconnect_storm_threshold,
            "Streamer reconnects to Deepgram are storming: live transcripts are at risk",
        )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{config.stack_name}-operations",
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="# callscribe\nCalls, streams, transcripts and summaries. Alarms go to the SNS "
                "topic in the stack outputs.",
                width=24,
                height=2,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Webhook requests and errors",
                width=8,
                left=[api.api.metric_count(period=_FIVE_MINUTES, statistic="Sum", label="requests")],
                right=[api_4xx.with_(label="4xx"), api_5xx.with_(label="5xx")],
            ),
            cloudwatch.GraphWidget(
                title="Active calls per task (average / max)",
                width=8,
                left=[streamer_metric("ActiveCalls"), streamer_metric("ActiveCalls", "Maximum")],
                right=[streamer.service.metric_cpu_utilization(period=cdk.Duration.minutes(1))],
            ),
            cloudwatch.GraphWidget(
                title="Streamer tasks and targets",
                width=8,
                left=[
                    streamer.target_group.metrics.healthy_host_count(period=cdk.Duration.minutes(1)),
                    unhealthy,
                ],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Media frames in / dropped",
                width=8,
                left=[streamer_metric("FramesIn", "Sum"), streamer_metric("FramesDropped", "Sum")],
            ),
            cloudwatch.GraphWidget(
                title="Deepgram reconnects and segment writes",
                width=8,
                left=[reconnects],
                right=[
                    streamer_metric("SegmentsWritten", "Sum", 5),
                    streamer_metric("WriteRetries", "Sum", 5),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Segment store latency (ms)",
                width=8,
                left=[
                    streamer_metric("SegmentStoreLatency", "p50"),
                    streamer_metric("SegmentStoreLatency", "p99"),
                ],
            ),
        )
        self.dashboard.add_widgets(
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
                left=[dlq_depth],
            ),
        )
        cdk.CfnOutput(
            scope,
            "AlarmTopicArn",
            value=self.topic.topic_arn,
            description="Subscribe on-call here (or set context alarmEmail)",
        )
