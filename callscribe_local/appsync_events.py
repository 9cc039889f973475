"""A local stand-in for an AWS AppSync Events API: HTTP publish and the realtime WebSocket.

Two listeners, as AWS has two hosts: HTTP `POST /event` (SigV4 for `appsync` by a local credential,
1-5 JSON-string events, channels checked by `appsync_channels.py`, AppSync's answers and errors),
and WebSocket `/event/realtime` (`appsync_realtime.py`, subscriptions authorised by a people's pool
token with the subscribe group). Wire details: docs/local.md, "The parts".
Must keep: a publish is answered only once its events are queued to every matching subscriber; each
subscriber has a bounded outbox drained by its own task, so one slow reader never holds up a publish
or another reader; one that falls `outbox_limit` messages behind is cut off (aborted, since a
reader that is not reading would not read a close frame either).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, Self

from botocore.credentials import Credentials
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from callscribe_local.appsync_channels import Channel, ChannelError, parse_channel, reaches
from callscribe_local.appsync_realtime import (
    BAD_REQUEST,
    SUBPROTOCOL,
    UNAUTHORIZED,
    Access,
    RealtimeConnection,
    Refused,
    encode,
    errors,
    offered,
)
from callscribe_local.cognito import TokenVerifier
from callscribe_local.http_server import BackgroundHttpServer, StandIn
from callscribe_local.sigv4 import SignatureRefused, SigV4Verifier
from shared.access import VIEWERS

_log = logging.getLogger(__name__)

REALTIME_PATH = "/event/realtime"
PUBLISH_PATH = "/event"
SERVICE = "appsync"
MAX_EVENTS_PER_PUBLISH = 5
MAX_EVENT_BYTES = 240 * 1024


class AppSyncEventsStandIn(StandIn):
    """`with AppSyncEventsStandIn(verifier=…, credentials=…, region=…) as feed:` publish at
    `feed.http_url`, subscribe at `feed.realtime_url` with `feed.http_host` in the auth header."""

    def __init__(
        self,
        *,
        verifier: TokenVerifier,
        credentials: Mapping[str, Credentials],
        region: str,
        namespaces: tuple[str, ...] = ("calls",),
        host: str = "127.0.0.1",
        keepalive_seconds: float = 60.0,
        subscribe_group: str = VIEWERS,
        outbox_limit: int = 10_000,
    ) -> None:
        self._signatures = SigV4Verifier(SERVICE, region, credentials)
        self.namespaces = namespaces
        self._host = host
        self._keepalive = keepalive_seconds
        self._outbox_limit = outbox_limit
        self._http = BackgroundHttpServer(host, 0, self._http_handler(), "appsync-events-http")
        self._access = Access(verifier, self.http_host, namespaces, subscribe_group)
        self._connections: set[RealtimeConnection] = set()  # touched on the loop only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._counts = threading.Lock()  # publishes arrive on the HTTP server's threads
        self.published = 0  # events accepted over HTTP
        self.batch_sizes: list[int] = []  # events per accepted publish request, in arrival order
        self.refused_publishes = 0

    @property
    def http_host(self) -> str:
        return f"{self._http.host}:{self._http.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_host}"

    @property
    def realtime_url(self) -> str:
        assert self._server is not None, "not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://{self._host}:{port}{REALTIME_PATH}"

    @property
    def subscribers(self) -> int:
        """Open realtime connections (read from any thread: a snapshot)."""
        return len(self._connections)

    @property
    def subscriptions(self) -> int:
        """Subscriptions over all open connections (a snapshot)."""
        return sum(len(connection.subscriptions) for connection in list(self._connections))

    def start(self) -> Self:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="appsync-events", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=10)
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = self._thread = None

    def drop_connections(self) -> int:
        """Fault injection: cut every realtime connection as a network failure would (no close
        frame); clients must reconnect and re-read what they missed. The number cut."""
        assert self._loop is not None, "not started"

        async def cut() -> int:
            connections = list(self._connections)
            for connection in connections:
                connection.ws.transport.abort()
            return len(connections)

        return asyncio.run_coroutine_threadsafe(cut(), self._loop).result(timeout=10)

    async def _serve(self) -> Server:
        return await serve(
            self._connection,
            self._host,
            0,
            process_request=self._process_request,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            compression=None,
        )

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    # ---- HTTP publish ----------------------------------------------------------------------------

    def publish(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        """One HTTP request to the publish host: (status, JSON answer)."""
        if path.split("?", 1)[0] != PUBLISH_PATH or method != "POST":
            return HTTPStatus.NOT_FOUND, {"errors": errors("NotFoundException", "POST /event only")}
        try:
            self._signatures.verify(method, f"http://{self.http_host}{path}", headers, body)
            channel, events = self._parse_publish(body)
        except SignatureRefused as exc:
            self._count(refused=1)
            return HTTPStatus.UNAUTHORIZED, {"errors": errors(UNAUTHORIZED, str(exc))}
        except Refused as exc:
            self._count(refused=1)
            return HTTPStatus.BAD_REQUEST, {"errors": errors(exc.error_type, str(exc))}
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._deliver(channel, events), self._loop).result(timeout=10)
        self._count(published=len(events), batch=len(events))
        successful = [{"identifier": str(uuid.uuid4()), "index": index} for index in range(len(events))]
        return HTTPStatus.OK, {"successful": successful, "failed": []}

    def _count(self, *, published: int = 0, refused: int = 0, batch: int = 0) -> None:
        with self._counts:
            self.published += published
            self.refused_publishes += refused
            if batch:
                self.batch_sizes.append(batch)

    def _parse_publish(self, body: bytes) -> tuple[Channel, list[str]]:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Refused(BAD_REQUEST, "body is not JSON") from exc
        if not isinstance(request, dict):
            raise Refused(BAD_REQUEST, "body must be an object with channel and events")
        try:
            channel = parse_channel(request.get("channel"), self.namespaces, wildcard=False)
        except ChannelError as exc:
            raise Refused(BAD_REQUEST, str(exc)) from exc
        events = request.get("events")
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_PUBLISH:
            raise Refused(BAD_REQUEST, f"events must be a list of 1 to {MAX_EVENTS_PER_PUBLISH} JSON strings")
        for index, event in enumerate(events):
            if not isinstance(event, str):
                raise Refused(BAD_REQUEST, f"events[{index}] is not a string")
            if len(event.encode("utf-8")) > MAX_EVENT_BYTES:
                raise Refused(BAD_REQUEST, f"events[{index}] is over {MAX_EVENT_BYTES} bytes")
            try:
                json.loads(event)
            except ValueError as exc:
                raise Refused(BAD_REQUEST, f"events[{index}] is not a JSON string") from exc
        return channel, events

    async def _deliver(self, channel: Channel, events: list[str]) -> None:
        for connection in list(self._connections):
            for subscription_id, subscription in connection.subscriptions.items():
                if reaches(subscription, channel):
                    for event in events:
                        connection.push(encode({"type": "data", "id": subscription_id, "event": event}))
            if connection.overflowed:
                self._drop(connection)

    def _drop(self, connection: RealtimeConnection) -> None:
        """Cut off a subscriber that fell its outbox's size behind. It is not reading (its socket's
        buffers are full), so it would not read a close frame either: the connection is aborted."""
        if connection not in self._connections:
            return  # already on its way out
        self._connections.discard(connection)
        _log.warning("subscriber cut off: more than %d messages behind", self._outbox_limit)
        connection.ws.transport.abort()

    def _http_handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = standin.publish(self.command, self.path, dict(self.headers.items()), body)
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return _Handler

    # ---- realtime WebSocket ----------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != REALTIME_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if SUBPROTOCOL not in offered(request):
            return connection.respond(HTTPStatus.BAD_REQUEST, f"subprotocol {SUBPROTOCOL} required\n")
        return None

    async def _connection(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        try:
            self._access.connection(ws.request)
        except Refused as exc:
            await ws.send(encode({"type": "connection_error", "errors": errors(exc.error_type, str(exc))}))
            await ws.close(1008, "unauthorized")
            return
        connection = RealtimeConnection(ws, self._access, asyncio.Queue(self._outbox_limit))
        self._connections.add(connection)
        writer = asyncio.create_task(self._write(connection), name="appsync-writer")
        keepalive = asyncio.create_task(self._keep_alive(connection), name="appsync-ka")
        try:
            async for frame in ws:
                connection.handle(frame)
                if connection.overflowed:  # its own answers overflowed the outbox
                    self._drop(connection)
        except ConnectionClosed:
            pass
        finally:
            self._connections.discard(connection)
            for task in (keepalive, writer):
                task.cancel()
            await asyncio.gather(keepalive, writer, return_exceptions=True)

    async def _write(self, connection: RealtimeConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await connection.ws.send(await connection.outbox.get())

    async def _keep_alive(self, connection: RealtimeConnection) -> None:
        while True:
            await asyncio.sleep(self._keepalive)
            if not connection.push(encode({"type": "ka"})):
                self._drop(connection)
                return
