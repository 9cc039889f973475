"""The people's side of the local stack: who may sign in, the live feed, the read API and the console.

It starts moto's Cognito pool with one person in both groups (`cognito.LOCAL_USER`, a fresh password
each run), the AppSync Events stand-in (the streamer and the call feed Lambda, run on the calls
table's stream by `table_stream.py`, publish to it; browsers and `callscribe tail` subscribe), the
people's read API behind the local API Gateway with the Cognito authoriser (`api.invoke`, `api.url`),
and the console's server, which serves the app and `/api` on one origin.
Must keep: what the other commands need is in `state()` (the state file's `console`, `console_api`
= `<console>/api`, the local user); each part as docs/local.md, "The parts", describes it.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.credentials import Credentials

from callscribe_local.apigw import CognitoAuthorizer, LocalApiGateway
from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.aws_local import LocalNames, fake_credentials_env
from callscribe_local.cognito import (
    LOCAL_USER,
    TokenVerifier,
    UserPool,
    add_user,
    create_local_pool,
    new_password,
)
from callscribe_local.console_server import ConsoleConfig, ConsoleServer
from callscribe_local.table_stream import TableStreamPoller
from functions.call_feed.app import Tally
from functions.call_feed.app import create_handler as create_call_feed
from functions.console_api.app import RESOURCES, create_handler
from functions.console_api.dependencies import build_services
from functions.console_api.logic import Services
from functions.console_api.settings import ConsoleApiSettings
from shared.access import GROUPS
from shared.feed_publisher import FeedPublisher

API_STAGE = "api"


@dataclass
class PeopleSide:
    pool: UserPool
    user: str
    password: str
    feed: AppSyncEventsStandIn
    api: LocalApiGateway
    console: ConsoleServer

    def streamer_env(self) -> dict[str, str]:
        """What the streamer needs to publish to the feed."""
        return {"FEED_HTTP_URL": self.feed.http_url, "FEED_REGION": self.pool.region}

    def state(self) -> dict[str, Any]:
        """The state file's people keys (the contract's `console`, `console_api`, `console_user`,
        `console_password`, `feed`, and what `callscribe tail` and `users add` need besides)."""
        return {
            "console": self.console.url,
            "console_api": self.console.api_url,
            "console_user": self.user,
            "console_password": self.password,
            "feed": self.feed.realtime_url,
            "feed_http": self.feed.http_url,
            "user_pool": {
                "region": self.pool.region,
                "pool_id": self.pool.pool_id,
                "client_id": self.pool.client_id,
                "endpoint": str(self.pool.endpoint),
            },
        }


def start_people_side(exit_stack: ExitStack, endpoint: str, names: LocalNames, region: str) -> PeopleSide:
    """Start it all on moto at `endpoint`; `exit_stack` stops it."""
    pool = create_local_pool(endpoint, region)
    password = new_password()
    add_user(pool, LOCAL_USER, GROUPS.values(), password=password)
    local = fake_credentials_env()
    credentials = Credentials(
        local["AWS_ACCESS_KEY_ID"], local["AWS_SECRET_ACCESS_KEY"], local["AWS_SESSION_TOKEN"]
    )
    feed = AppSyncEventsStandIn(
        verifier=TokenVerifier(pool, token_use=None),  # AppSync's Cognito auth takes ID or access tokens
        credentials={credentials.access_key: credentials},
        region=region,
    ).start()
    exit_stack.callback(feed.stop)
    _start_call_feed(exit_stack, feed, names, region, credentials)
    settings = ConsoleApiSettings(
        calls_table=names.calls_table,
        transcripts_table=names.transcripts_table,
        recordings_bucket=names.recordings_bucket,
    )

    @cache
    def services() -> Services:  # built on the first request, as in a Lambda container
        return build_services(settings)

    api = LocalApiGateway(
        create_handler(services),
        stage=API_STAGE,
        resources=RESOURCES,
        authorizer=CognitoAuthorizer(TokenVerifier(pool)),
    ).start()
    exit_stack.callback(api.stop)
    console = ConsoleServer(
        config=_console_config(pool, feed),
        api=api.invoke,
        cognito_endpoint=endpoint,
        media_origins=[endpoint],  # the presigned recording links point at moto's S3
    ).start()
    exit_stack.callback(console.stop)
    return PeopleSide(pool=pool, user=LOCAL_USER, password=password, feed=feed, api=api, console=console)


def _console_config(pool: UserPool, feed: AppSyncEventsStandIn) -> ConsoleConfig:
    return ConsoleConfig(
        region=pool.region,
        user_pool_id=pool.pool_id,
        user_pool_client_id=pool.client_id,
        feed_http_host=feed.http_host,
        feed_realtime_url=feed.realtime_url,
    )


def _start_call_feed(
    exit_stack: ExitStack,
    feed: AppSyncEventsStandIn,
    names: LocalNames,
    region: str,
    credentials: Credentials,
) -> None:
    """The call feed Lambda on the calls table's stream, publishing to the stand-in."""
    tally = Tally()
    frozen = credentials.get_frozen_credentials()
    publisher = FeedPublisher(feed.http_url, region, tally, credentials=lambda: frozen)
    publisher.start()
    exit_stack.callback(publisher.stop)
    poller = TableStreamPoller(
        names.calls_table, create_call_feed(lambda: (publisher, tally)), name="call-feed"
    )
    exit_stack.callback(poller.start().stop)
