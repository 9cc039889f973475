"""Speaking AppSync Events' wire protocols by hand in tests: a SigV4-signed HTTP publish (botocore's
signer, httpx), and a realtime WebSocket client (websockets) that reads messages by type; and the
stand-in itself as the local stack wires it (`make_feed`, fixture `feed` with `feed_fixture`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.appsync_realtime import SUBPROTOCOL, auth_protocol
from callscribe_local.aws_local import LOCAL_REGION
from callscribe_local.cognito import TokenVerifier, UserPool

LOCAL_CREDENTIALS = Credentials("testing", "testing", "testing")  # tests/conftest.py's fake ones


def signed_publish(
    http_url: str,
    channel: str,
    events: Iterable[str],
    *,
    credentials: Credentials = LOCAL_CREDENTIALS,
    service: str = "appsync",
    region: str = LOCAL_REGION,
    tamper: bool = False,
) -> httpx.Response:
    """POST /event signed as the product signs it; `tamper` changes the body after signing."""
    body = json.dumps({"channel": channel, "events": list(events)}).encode()
    request = AWSRequest(
        method="POST", url=f"{http_url}/event", data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(credentials, service, region).add_auth(request)
    sent = body.replace(b"}", b" }", 1) if tamper else body
    return httpx.post(f"{http_url}/event", content=sent, headers=dict(request.headers.items()))


async def open_feed(realtime_url: str, http_host: str, token: str, **options: Any) -> ClientConnection:
    """A realtime connection authorised by `token` (a people's pool token)."""
    protocols = [
        Subprotocol(SUBPROTOCOL),
        Subprotocol(auth_protocol({"host": http_host, "Authorization": token})),
    ]
    return await connect(realtime_url, subprotocols=protocols, compression=None, **options)


def raw_feed(realtime_url: str, *protocols: str) -> connect:
    """A realtime connection offering the events subprotocol and exactly `protocols` besides."""
    offered = [Subprotocol(SUBPROTOCOL), *(Subprotocol(protocol) for protocol in protocols)]
    return connect(realtime_url, subprotocols=offered, compression=None)


async def next_message(
    ws: ClientConnection, *, skip: Iterable[str] = ("ka",), wait_seconds: float = 10.0
) -> dict[str, Any]:
    """The next message whose type is not in `skip`."""
    skipped = set(skip)
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait_seconds))
        if message.get("type") not in skipped:
            return message


async def subscribe(
    ws: ClientConnection, subscription_id: str, channel: str, authorization: Mapping[str, str] | None
) -> dict[str, Any]:
    """Send a subscribe and return its answer (`subscribe_success` or `subscribe_error`)."""
    message: dict[str, Any] = {"type": "subscribe", "id": subscription_id, "channel": channel}
    if authorization is not None:
        message["authorization"] = dict(authorization)
    await ws.send(json.dumps(message))
    return await next_message(ws)


def make_feed(pool: UserPool, clock: Callable[[], float] = time.time, **options: Any) -> AppSyncEventsStandIn:
    """The stand-in as the local stack wires it: tokens of `pool` (ID or access, as AppSync takes
    them), the local credentials for publishing."""
    return AppSyncEventsStandIn(
        verifier=TokenVerifier(pool, token_use=None, now=clock),
        credentials={LOCAL_CREDENTIALS.access_key: LOCAL_CREDENTIALS},
        region=LOCAL_REGION,
        **options,
    )


@pytest.fixture(name="feed")
def feed_fixture(people_pool: UserPool) -> Iterator[AppSyncEventsStandIn]:
    with make_feed(people_pool) as running:
        yield running
