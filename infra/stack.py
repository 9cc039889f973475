"""The one callscribe stack: a thin composition of one construct per capability."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.components.api import WebhooksApi
from infra.components.audit import AccessLogs
from infra.components.bedrock import BedrockModels
from infra.components.call_feed import CallFeed
from infra.components.config import InfraConfig
from infra.components.console import ConsoleSite
from infra.components.data import DataTables
from infra.components.events import ProductEvents, Summaries
from infra.components.exports import AnalystExports
from infra.components.feed import LiveFeed
from infra.components.monitoring import Monitoring
from infra.components.outbox import Outbox
from infra.components.people import PeopleDirectory
from infra.components.people_api import PeopleApi
from infra.components.recordings import Recordings, RecordingsBucket
from infra.components.routing import announce_routing
from infra.components.secrets import ProductSecrets
from infra.components.streamer import StreamerService
from infra.components.sweeper import Sweeper


class CallscribeStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.tables = DataTables(self, "Data")
        self.secrets = ProductSecrets(self, "Secrets", config=config)
        bedrock = BedrockModels.of(config, self.region)  # None: Claude through Anthropic's API
        self.events = ProductEvents(self, "Events", config=config)
        self.access_logs = AccessLogs(self, "AccessLogs")
        self.people = PeopleDirectory(self, "People", config=config)
        self.feed = LiveFeed(self, "Feed", config=config, people=self.people)
        self.streamer = StreamerService(
            self,
            "Streamer",
            config=config,
            tables=self.tables,
            secrets=self.secrets,
            access_logs=self.access_logs.bucket,
            bedrock=bedrock,
        )
        self.feed.add_publisher(self.streamer.container, self.streamer.task_definition.task_role)
        self.api = WebhooksApi(
            self,
            "Webhooks",
            config=config,
            tables=self.tables,
            secrets=self.secrets,
            stream_url=self.streamer.stream_url,
        )
        self.outbox = Outbox(self, "Outbox", config=config, tables=self.tables, bus=self.events.bus)
        self.summaries = Summaries(
            self,
            "Summaries",
            config=config,
            tables=self.tables,
            secrets=self.secrets,
            bus=self.events.bus,
            bedrock=bedrock,
        )
        self.recordings_bucket = RecordingsBucket(
            self, "RecordingsStore", config=config, access_logs=self.access_logs.bucket
        )
        self.recordings = Recordings(
            self,
            "Recordings",
            config=config,
            tables=self.tables,
            secrets=self.secrets,
            bus=self.events.bus,
            store=self.recordings_bucket,
        )
        self.call_feed = CallFeed(self, "CallFeed", config=config, tables=self.tables, feed=self.feed)
        self.people_api = PeopleApi(
            self,
            "PeopleApi",
            config=config,
            tables=self.tables,
            recordings=self.recordings_bucket,
            people=self.people,
            logging_account=self._api_logging_account(),
        )
        self.console = ConsoleSite(
            self,
            "Console",
            config=config,
            access_logs=self.access_logs.bucket,
            people=self.people,
            feed=self.feed,
            api=self.people_api,
            recordings=self.recordings_bucket,
        )
        self.sweeper = Sweeper(
            self, "Sweeper", config=config, tables=self.tables, secrets=self.secrets, bus=self.events.bus
        )
        self.exports = AnalystExports(
            self,
            "Analysts",
            config=config,
            tables=self.tables,
            access_logs=self.access_logs.bucket,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            api=self.api,
            summaries=self.summaries,
            streamer=self.streamer,
            recordings=self.recordings,
            sweeper=self.sweeper,
            outbox=self.outbox,
            exports=self.exports,
            people_api=self.people_api,
            call_feed=self.call_feed,
        )
        announce_routing(self, config)  # the CallRoutes output; a warning when no routes are set

    def _api_logging_account(self) -> cdk.CfnResource:
        """The region's API Gateway CloudWatch role setting, which the webhooks API makes (one per
        account and region): any other REST API's stage logs only once it exists."""
        account = self.api.api.node.find_child("Account")
        assert isinstance(account, cdk.CfnResource)
        return account
