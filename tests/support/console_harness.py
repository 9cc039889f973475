"""The console on the real console server, with moto's Cognito and the test doubles of the read API and
the feed behind it: what the browser tests drive where they need the feed and the records under their
control (a feed that drops, refuses or falls silent; a record in an exact state). The rest drive the
console on the local stack (tests/support/console_stack.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

from callscribe_local.console_server import ConsoleConfig, ConsoleServer
from tests.support.console_api_double import ConsoleApiDouble, MediaServer
from tests.support.console_people import Pool, TokenCheck, create_pool
from tests.support.feed_double import FeedDouble


@dataclass
class ConsoleHarness:
    url: str
    pool: Pool
    tokens: TokenCheck
    api: ConsoleApiDouble
    feed: FeedDouble
    media: MediaServer
    server: ConsoleServer


@contextmanager
def console_harness() -> Iterator[ConsoleHarness]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    with ExitStack() as stack:
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        stack.callback(moto.stop)
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        pool = create_pool(endpoint)
        tokens = TokenCheck(pool)
        media = MediaServer()
        stack.callback(media.stop)
        feed = FeedDouble(tokens).start()
        stack.callback(feed.stop)
        api = ConsoleApiDouble(tokens, media)
        config = ConsoleConfig(
            region=pool.region,
            user_pool_id=pool.pool_id,
            user_pool_client_id=pool.client_id,
            feed_http_host=feed.http_host,
            feed_realtime_url=feed.realtime_url,
        )
        server = ConsoleServer(
            config=config, api=api, cognito_endpoint=endpoint, media_origins=[media.origin]
        ).start()
        stack.callback(server.stop)
        yield ConsoleHarness(
            url=server.url, pool=pool, tokens=tokens, api=api, feed=feed, media=media, server=server
        )
