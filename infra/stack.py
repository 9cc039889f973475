"""The one callscribe stack: a thin composition of one construct per capability."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.components.api import WebhooksApi
from infra.components.audit import AccessLogs
from infra.components.bedrock import BedrockModels
from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.events import ProductEvents, Summaries
from infra.components.exports import AnalystExports
from infra.components.monitoring import Monitoring
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
        self.streamer = StreamerService(
            self,
            "Streamer",
            config=config,
            tables=self.tables,
            secrets=self.secrets,
            bus=self.events.bus,
            access_logs=self.access_logs.bucket,
            bedrock=bedrock,
        )
        self.api = WebhooksApi(
            self,
            "Webhooks",
            config=config,
            tables=self.tables,
            secrets=self.secrets,
            bus=self.events.bus,
            stream_url=self.streamer.stream_url,
        )
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
        self.sweeper = Sweeper(self, "Sweeper", config=config, tables=self.tables, bus=self.events.bus)
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
            exports=self.exports,
        )
        announce_routing(self, config)  # the CallRoutes output; a warning when no routes are set
