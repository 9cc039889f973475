"""A test double of the live feed (AWS AppSync Events' realtime WebSocket), for the console's browser tests
that need a feed under their control: one that refuses connections (`refuse`), drops them, or sends
only the messages a test publishes (the local stack's call feed announces every change). It speaks
the protocol as AppSync Events documents it: subprotocols `aws-appsync-event-ws` +
`header-<base64url auth>` (refused with 401 when the ID token is not valid), `connection_init` →
`connection_ack`, `ka` keep-alives, `subscribe` (checked again: token and `callscribe-viewers`) →
`subscribe_success`/`subscribe_error`, `data`, `unsubscribe`. Tests publish with `publish()` and cut
the feed with `drop_connections()`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.support.console_people import VIEWERS, TokenCheck, groups

PROTOCOL = "aws-appsync-event-ws"
PATH = "/event/realtime"


def _auth_from_protocols(headers: Headers) -> dict[str, Any] | None:
    offered = [p.strip() for value in headers.get_all("Sec-WebSocket-Protocol") for p in value.split(",")]
    if PROTOCOL not in offered:
        return None
    for item in offered:
        if item.startswith("header-"):
            encoded = item[len("header-") :]
            try:
                doc = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            except ValueError:
                return None
            return doc if isinstance(doc, dict) else None
    return None


@dataclass(eq=False)
class _Conn:
    ws: ServerConnection
    subs: dict[str, str] = field(default_factory=dict)  # id -> channel
    ka_task: asyncio.Task[None] | None = None


class FeedDouble:
    def __init__(
        self, tokens: TokenCheck, *, connection_timeout_ms: int = 300_000, ka_seconds: float = 60.0
    ) -> None:
        self.tokens = tokens
        self.connection_timeout_ms = connection_timeout_ms
        self.ka_seconds = ka_seconds
        self.refuse = 0  # the next N upgrades answer 503 (a feed that is down)
        self.connections_made = 0
        self.subscribes: list[str] = []  # channels, in the order subscribe_success was sent
        self.tokens_used: list[str] = []  # the ID token of each accepted connection, in order
        self._conns: set[_Conn] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="feed-double", daemon=True)
        self._server: Server | None = None
        self._lock = threading.Lock()

    def start(self) -> FeedDouble:
        self._thread.start()
        self._server = self._run(self._serve())
        return self

    async def _serve(self) -> Server:
        return await serve(self._handle, "127.0.0.1", 0, subprotocols=[PROTOCOL], process_request=self._check)  # type: ignore[list-item]

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._run(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def realtime_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{PATH}"

    @property
    def http_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def subscribed(self, channel: str) -> int:
        """How many connections follow `channel` now."""
        with self._lock:
            return sum(1 for conn in self._conns for ch in conn.subs.values() if ch == channel)

    def publish(self, channel: str, payload: dict[str, Any]) -> int:
        """Send one event to every subscriber of `channel`; how many got it."""
        result: int = self._run(self._publish(channel, json.dumps(payload)))
        return result

    def drop_connections(self) -> int:
        """Close every connection at once (abnormally, as a network cut does)."""
        result: int = self._run(self._drop())
        return result

    # -- server side -------------------------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?")[0] != PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if self.refuse > 0:
            self.refuse -= 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable\n")
        auth = _auth_from_protocols(request.headers)
        if auth is None or self.tokens.claims(auth.get("Authorization")) is None:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
        with self._lock:
            self.tokens_used.append(str(auth["Authorization"]))
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        conn = _Conn(ws)
        with self._lock:
            self._conns.add(conn)
            self.connections_made += 1
        try:
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "connection_init":
                    await ws.send(
                        json.dumps(
                            {"type": "connection_ack", "connectionTimeoutMs": self.connection_timeout_ms}
                        )
                    )
                    conn.ka_task = asyncio.create_task(self._keepalive(ws))
                elif kind == "subscribe":
                    await self._subscribe(conn, message)
                elif kind == "unsubscribe":
                    with self._lock:
                        conn.subs.pop(message.get("id"), None)
                    await ws.send(json.dumps({"type": "unsubscribe_success", "id": message.get("id")}))
        except ConnectionClosed:
            pass  # a dropped connection ends here like a closed one
        finally:
            if conn.ka_task is not None:
                conn.ka_task.cancel()
            with self._lock:
                self._conns.discard(conn)

    async def _subscribe(self, conn: _Conn, message: dict[str, Any]) -> None:
        token = (message.get("authorization") or {}).get("Authorization")
        claims = self.tokens.claims(token)
        sub_id = str(message.get("id"))
        if claims is None or VIEWERS not in groups(claims):
            await conn.ws.send(
                json.dumps(
                    {
                        "type": "subscribe_error",
                        "id": sub_id,
                        "errors": [{"errorType": "UnauthorizedException", "message": "Unauthorized"}],
                    }
                )
            )
            return
        with self._lock:
            conn.subs[sub_id] = str(message.get("channel"))
            self.subscribes.append(str(message.get("channel")))
        await conn.ws.send(json.dumps({"type": "subscribe_success", "id": sub_id}))

    async def _keepalive(self, ws: ServerConnection) -> None:
        while True:
            await asyncio.sleep(self.ka_seconds)
            await ws.send(json.dumps({"type": "ka"}))

    async def _publish(self, channel: str, event: str) -> int:
        with self._lock:
            targets = [
                (conn, sid) for conn in self._conns for sid, ch in conn.subs.items() if _matches(ch, channel)
            ]
        for conn, sid in targets:
            await conn.ws.send(json.dumps({"type": "data", "id": sid, "event": event}))
        return len(targets)

    async def _drop(self) -> int:
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.ws.transport.abort()
        return len(conns)


def _matches(subscribed: str, channel: str) -> bool:
    if subscribed.endswith("/*"):
        return channel.startswith(subscribed[:-1])
    return subscribed == channel
