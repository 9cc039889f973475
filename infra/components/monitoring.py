"""One dashboard and the alarms an on-call person needs, all notifying one SNS topic.

What a change must keep: every product metric read here takes its name from the emitting tier's
names module (`functions/<tier>/metric_names.py`, `streamer/contract.py`) and its dimensions exactly
as the tier emits them (an extra dimension is another metric to CloudWatch);
tests/infra/test_metrics_emitted.py checks the template against what each tier emits. The alarms,
and why: docs/infra.md, "Monitoring".
Long (~680 lines): one module for every alarm and graph, so the dashboard and the alarms read the
same metrics (`_Signals`) and the on-call page is one place to read.
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

from functions.call_feed import metric_names as call_feed_metrics
from functions.outbox import metric_names as outbox_metrics
from functions.recordings import metric_names as recording_metrics
from functions.sweeper import metric_names as sweeper_metrics
from infra.components.api import WebhooksApi
from infra.components.call_feed import CallFeed
from infra.components.config import InfraConfig
from infra.components.events import Summaries
from infra.components.exports import AnalystExports
from infra.components.outbox import Outbox
from infra.components.outputs import stack_output
from infra.components.people_api import PeopleApi
from infra.components.recordings import Recordings
from infra.components.streamer import StreamerService, streamer_metric
from infra.components.sweeper import Sweeper
from shared.telemetry import METRICS_NAMESPACE, SERVICE_DIMENSION
from streamer.contract import (
    ACTIVE_CALLS,
    DEEPGRAM_RECONNECTS,
    FRAMES_DROPPED,
    FRAMES_IN,
    SEGMENT_STORE_LATENCY,
    SEGMENTS_WRITTEN,
    STREAMS_REFUSED,
    WRITE_RETRIES,
)

OUTBOX_LAG_ALARM_MS = 60_000  # a minute behind the stream's newest record, three minutes running
CALL_FEED_LAG_ALARM_MS = 30_000  # half a minute behind the stream's newest record, three minutes running
_FIVE_MINUTES = cdk.Duration.minutes(5)
_ONE_MINUTE = cdk.Duration.minutes(1)
_ONE_HOUR = cdk.Duration.hours(1)
# A run reads Twilio at most once after a refusal or a 429 (it stops reading for the run): a few an
# hour are a flaky moment, a dozen (one per five-minute run) a standing fault such as a rotated token.
_TWILIO_FAILURES_PER_HOUR = 5


def _lambda_metric(
    service: str, name: str, statistic: str, period: cdk.Duration = _FIVE_MINUTES
) -> cloudwatch.Metric:
    """A metric a Lambda emits with Powertools (the product namespace, dimension `service`)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={SERVICE_DIMENSION: service},
        statistic=statistic,
        period=period,
    )


def recording_metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
    return _lambda_metric(recording_metrics.SERVICE_NAME, name, statistic)


def call_feed_metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
    return _lambda_metric(call_feed_metrics.SERVICE_NAME, name, statistic)


def outbox_metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
    return _lambda_metric(outbox_metrics.SERVICE_NAME, name, statistic, _ONE_MINUTE)


def sweeper_metric(
    name: str, statistic: str = "Sum", period: cdk.Duration = _FIVE_MINUTES
) -> cloudwatch.Metric:
    return _lambda_metric(sweeper_metrics.SERVICE_NAME, name, statistic, period)


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
    recorder: lambda_.IFunction
    sweeper: lambda_.IFunction
    recordings_dlq_depth: cloudwatch.Metric
    outbox: lambda_.IFunction
    outbox_dlq_depth: cloudwatch.Metric
    outbox_iterator_age: cloudwatch.Metric

    @classmethod
    def of(
        cls,
        api: WebhooksApi,
        summaries: Summaries,
        streamer: StreamerService,
        recordings: Recordings,
        sweeper: Sweeper,
        outbox: Outbox,
    ) -> _Signals:
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
            recorder=recordings.handler.function,
            sweeper=sweeper.handler.function,
            recordings_dlq_depth=recordings.dead_letters.metric_approximate_number_of_messages_visible(
                period=_FIVE_MINUTES,
                statistic="Maximum",
            ),
            outbox=outbox.handler.function,
            outbox_dlq_depth=outbox.dead_letters.metric_approximate_number_of_messages_visible(
                period=_FIVE_MINUTES,
                statistic="Maximum",
            ),
            # how far behind the newest write the outbox is (ms): what a late event waits
            outbox_iterator_age=cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="IteratorAge",
                dimensions_map={"FunctionName": outbox.handler.function.function_name},
                statistic="Maximum",
                period=_ONE_MINUTE,
            ),
        )


@dataclass(frozen=True)
class _PeopleSignals:
    """The people's side: the read API and its Lambda, the call feed and its stream mapping."""

    api_requests: cloudwatch.Metric
    api_4xx: cloudwatch.Metric
    api_5xx: cloudwatch.Metric
    console_api: lambda_.IFunction
    call_feed: lambda_.IFunction
    call_feed_dlq_depth: cloudwatch.Metric
    call_feed_iterator_age: cloudwatch.Metric

    @classmethod
    def of(cls, people_api: PeopleApi, call_feed: CallFeed) -> _PeopleSignals:
        api = people_api.api
        return cls(
            api_requests=api.metric_count(period=_FIVE_MINUTES, statistic="Sum"),
            api_4xx=api.metric_client_error(period=_FIVE_MINUTES, statistic="Sum"),
            api_5xx=api.metric_server_error(period=_FIVE_MINUTES, statistic="Sum"),
            console_api=people_api.handler.function,
            call_feed=call_feed.handler.function,
            call_feed_dlq_depth=call_feed.dead_letters.metric_approximate_number_of_messages_visible(
                period=_FIVE_MINUTES, statistic="Maximum"
            ),
            # how far behind the stream's newest record the call feed reads (ms): what a board waits
            call_feed_iterator_age=cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="IteratorAge",
                dimensions_map={"FunctionName": call_feed.handler.function.function_name},
                statistic="Maximum",
                period=_ONE_MINUTE,
            ),
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
        recordings: Recordings,
        sweeper: Sweeper,
        outbox: Outbox,
        exports: AnalystExports,
        people_api: PeopleApi,
        call_feed: CallFeed,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._build_topic(config)
        signals = _Signals.of(api, summaries, streamer, recordings, sweeper, outbox)
        people = _PeopleSignals.of(people_api, call_feed)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._build_alarms(config, signals)
        self._build_export_alarms(exports)
        self._build_people_alarms(people)
        self.dashboard = self._build_dashboard(config, api, streamer, signals)
        self.dashboard.add_widgets(*_people_row(people))
        stack_output(
            scope, "AlarmTopicArn", self.topic.topic_arn, "Subscribe on-call here (or set context alarmEmail)"
        )
        stack_output(scope, "DashboardName", self.dashboard.dashboard_name, "The operations dashboard")
        region = cdk.Stack.of(self).region
        stack_output(
            scope,
            "DashboardUrl",
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{config.stack_name}-operations",
            "The operations dashboard in the CloudWatch console",
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
        # Twilio never sends a bad stream token: a refusal is a leaked upgrade signature in use, an
        # auth-token rotation done out of order, or a malformed `start` (a call with no live transcript).
        self._alarm(
            "StreamsRefused",
            streamer_metric(STREAMS_REFUSED, statistic="Sum", period_minutes=5),
            1,
            "The streamer refused a media stream's start (bad or missing stream token, not a call SID): "
            "a leaked signature in use, or an auth-token rotation step skipped (docs/deploy.md)",
        )
        self._build_recordings_alarms(config, signals)
        self._build_outbox_alarms(signals)

    def _build_outbox_alarms(self, signals: _Signals) -> None:
        self._alarm(
            "OutboxDeadLetters",
            signals.outbox_dlq_depth,
            1,
            "The outbox could not announce a change of a call: a parked record, or a batch whose "
            "retries ran out, is in its dead-letter queue (docs/deploy.md, 'Operating it')",
        )
        self._alarm(
            "OutboxFallingBehind",
            signals.outbox_iterator_age,
            OUTBOX_LAG_ALARM_MS,
            "The outbox is minutes behind the calls table's stream: events (Call Completed, Transcript "
            "Completed, ...) are late. The bus failing, or a record retried; see the outbox's logs",
            periods=3,
        )

    def _build_recordings_alarms(self, config: InfraConfig, signals: _Signals) -> None:
        self._alarm(
            "RecordingsErrors",
            signals.recorder.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            1,
            "The recordings Lambda failed (it is retried; the DLQ alarm says when retries ran out)",
        )
        self._alarm(
            "RecordingsDeadLetters",
            signals.recordings_dlq_depth,
            1,
            "A recording could not be copied, transcribed or reconciled after its retries: messages are "
            "in the recordings dead-letter queue (the sweeper re-drives the call; or redrive by hand)",
        )
        self._alarm(
            "SweeperErrors",
            signals.sweeper.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            1,
            "A sweeper run failed (or could not sweep some calls); the next run retries them",
        )
        self._alarm(
            "SweeperGaveUp",
            sweeper_metric(sweeper_metrics.GAVE_UP),
            1,
            "The sweeper gave up on a call after its maximum re-drives: the call has sweep_gave_up_at "
            "set and still needs work (see its log line for what is open)",
        )
        self._alarm(
            "SweeperCannotReadTwilio",
            sweeper_metric(sweeper_metrics.TWILIO_FAILURES, period=_ONE_HOUR),
            _TWILIO_FAILURES_PER_HOUR,
            "The sweeper's reads of Twilio's REST API keep failing (credentials refused, rate limited, "
            "Twilio down): calls whose status or recording callback was lost stay as they are until "
            "it reads again (see its log lines for Twilio's answers)",
        )
        self._alarm(
            "CallsRedrivenTooOften",
            sweeper_metric(sweeper_metrics.CALLS_REDRIVEN, period=_ONE_HOUR),
            config.sweep_redrive_alarm_threshold,
            "The sweeper is re-driving many calls: transcripts or events are being lost somewhere "
            "(a crashing streamer, a failing consumer)",
        )

    def _build_people_alarms(self, people: _PeopleSignals) -> None:
        """The console's reads and its live feed: a failure here shows people stale or no data, it
        loses no call data (the tables are the record)."""
        self._alarm(
            "PeopleApi5xx",
            people.api_5xx,
            1,
            "The people's read API answered 5xx: the console could not load calls (the console API's logs)",
        )
        self._alarm(
            "ConsoleApiErrors",
            people.console_api.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            1,
            "The console API Lambda failed (a timeout or a crash, not a refused request)",
        )
        self._alarm(
            "CallFeedErrors",
            people.call_feed.metric_errors(period=_FIVE_MINUTES, statistic="Sum"),
            1,
            "The call feed Lambda failed on a batch of the calls table's stream (it is retried, then "
            "dead-lettered): boards are not told of status changes",
        )
        self._alarm(
            "CallFeedDeadLetters",
            people.call_feed_dlq_depth,
            1,
            "The call feed gave up on a batch of the calls table's stream: those status changes reached "
            "no board (people see them on their next reload); see the call feed's logs for why",
        )
        self._alarm(
            "CallFeedFallingBehind",
            people.call_feed_iterator_age,
            CALL_FEED_LAG_ALARM_MS,
            "The call feed is reading the calls table's stream late: boards show status changes late",
            periods=3,
        )
        self._alarm(
            "CallFeedPublishFailures",
            call_feed_metric(call_feed_metrics.FEED_PUBLISH_FAILURES),
            1,
            "The call feed's publishes to AppSync Events keep failing (15 minutes running): boards are not "
            "told of status changes (an AppSync outage, or the Lambda's role lost appsync:EventPublish)",
            periods=3,
        )

    def _build_export_alarms(self, exports: AnalystExports) -> None:
        """The analysts' daily export: a failed or timed-out run leaves their tables a day behind
        (the next run catches up; the failed state's name, ExportFailed or DeriveFailed, is in the
        workflow's execution history)."""
        machine = exports.state_machine
        self._alarm(
            "AnalystExportFailed",
            machine.metric_failed(period=_ONE_HOUR, statistic="Sum"),
            1,
            "The analysts' export workflow failed: the flat tables miss today's partition",
        )
        self._alarm(
            "AnalystExportTimedOut",
            machine.metric_timed_out(period=_ONE_HOUR, statistic="Sum"),
            1,
            "The analysts' export workflow ran past its timeout: the flat tables miss today's partition",
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
        dashboard.add_widgets(*_recordings_row(signals))
        dashboard.add_widgets(*_sweeper_row())
        dashboard.add_widgets(*_outbox_row(signals))
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
            title="Media frames in / dropped, streams refused",
            width=8,
            left=[streamer_metric(FRAMES_IN, "Sum"), streamer_metric(FRAMES_DROPPED, "Sum")],
            right=[streamer_metric(STREAMS_REFUSED, "Sum")],
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


def _recordings_row(signals: _Signals) -> list[cloudwatch.IWidget]:
    """The recordings tier: how late, how much it added, how much live had already heard."""
    return [
        cloudwatch.GraphWidget(
            title="Reconcile lag after the call (s)",
            width=8,
            left=[
                recording_metric(recording_metrics.RECONCILE_LAG_SECONDS, "p50"),
                recording_metric(recording_metrics.RECONCILE_LAG_SECONDS, "p99"),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Filled from recordings (s) / live coverage",
            width=8,
            left=[recording_metric(recording_metrics.FILLED_SECONDS, "Sum")],
            right=[
                recording_metric(recording_metrics.LIVE_COVERAGE, "Average"),
                recording_metric(recording_metrics.LIVE_COVERAGE, "Minimum"),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Recording failures, errors and dead letters",
            width=8,
            left=[
                recording_metric(recording_metrics.RECORDING_FAILURES, "Sum"),
                signals.recorder.metric_errors(period=_FIVE_MINUTES, label="recordings errors"),
            ],
            right=[signals.recordings_dlq_depth],
        ),
    ]


def _sweeper_row() -> list[cloudwatch.IWidget]:
    """What the sweeper finds each run: settled calls are normal, re-drives mean something was lost."""
    return [
        cloudwatch.GraphWidget(
            title="Sweeper: calls due, settled, re-driven, waiting",
            width=8,
            left=[
                sweeper_metric(sweeper_metrics.CALLS_EXAMINED),
                sweeper_metric(sweeper_metrics.CALLS_SETTLED),
                sweeper_metric(sweeper_metrics.CALLS_REDRIVEN),
                sweeper_metric(sweeper_metrics.CALLS_WAITING),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Sweeper: what it re-drove or repaired",
            width=8,
            left=[
                sweeper_metric(sweeper_metrics.TRANSCRIPTS_FINISHED),
                sweeper_metric(sweeper_metrics.TRANSCRIPT_EVENTS),
                sweeper_metric(sweeper_metrics.RECORDING_EVENTS),
                sweeper_metric(sweeper_metrics.COSTS_REPAIRED),
                sweeper_metric(sweeper_metrics.SUMMARIES_FAILED),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Sweeper: what Twilio's REST API set right, and its bills",
            width=8,
            left=[
                sweeper_metric(sweeper_metrics.STATUSES_FROM_TWILIO),
                sweeper_metric(sweeper_metrics.RECORDINGS_FROM_TWILIO),
                sweeper_metric(sweeper_metrics.PRICES_FROM_TWILIO),
                sweeper_metric(sweeper_metrics.TWILIO_REQUESTS),
                sweeper_metric(sweeper_metrics.TWILIO_FAILURES),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Sweeper: gave up, failed, backlog",
            width=8,
            left=[
                sweeper_metric(sweeper_metrics.GAVE_UP),
                sweeper_metric(sweeper_metrics.FAILURES),
                sweeper_metric(sweeper_metrics.BACKLOG, "Maximum"),
            ],
        ),
    ]


def _people_row(people: _PeopleSignals) -> list[cloudwatch.IWidget]:
    """The console's reads, and the call feed: what it published, what failed, how late."""
    return [
        cloudwatch.GraphWidget(
            title="Console API requests and errors",
            width=8,
            left=[people.api_requests.with_(label="requests")],
            right=[people.api_4xx.with_(label="4xx"), people.api_5xx.with_(label="5xx")],
        ),
        cloudwatch.GraphWidget(
            title="Call feed: status changes, events published, failed",
            width=8,
            left=[
                call_feed_metric(call_feed_metrics.CALL_UPDATES),
                call_feed_metric(call_feed_metrics.FEED_EVENTS_PUBLISHED),
            ],
            right=[call_feed_metric(call_feed_metrics.FEED_PUBLISH_FAILURES)],
        ),
        cloudwatch.GraphWidget(
            title="Call feed lag (ms) and Lambda errors",
            width=8,
            left=[people.call_feed_iterator_age],
            right=[
                people.call_feed.metric_errors(period=_FIVE_MINUTES, label="call feed errors"),
                people.console_api.metric_errors(period=_FIVE_MINUTES, label="console API errors"),
            ],
        ),
    ]


def _outbox_row(signals: _Signals) -> list[cloudwatch.IWidget]:
    """The outbox: what it announced, how late, and what it could not."""
    return [
        cloudwatch.GraphWidget(
            title="Outbox: writes read, changes found, events published",
            width=8,
            left=[
                outbox_metric(outbox_metrics.RECORDS),
                outbox_metric(outbox_metrics.CHANGES),
                outbox_metric(outbox_metrics.EVENTS_PUBLISHED),
            ],
        ),
        cloudwatch.GraphWidget(
            title="Outbox: behind the stream (ms)",
            width=8,
            left=[signals.outbox_iterator_age],
        ),
        cloudwatch.GraphWidget(
            title="Outbox: retried, parked, dead letters",
            width=8,
            left=[outbox_metric(outbox_metrics.RECORDS_FAILED), outbox_metric(outbox_metrics.RECORDS_PARKED)],
            right=[signals.outbox_dlq_depth],
        ),
    ]
