"""`callscribe tail [CALLSID]`: the live feed in a terminal, locally or from a deployed stack.

Signs in to the people's Cognito pool (`USER_PASSWORD_AUTH`), connects to the AppSync Events realtime
WebSocket (`aws-appsync-event-ws` + the `header-` auth subprotocol), `connection_init`, subscribes to
`/calls/live` (every call's status changes: the live board) or `/calls/{callSid}` (that call's
segments and status), and prints one line per message. The connection is watched with the server's
`connectionTimeoutMs` (no `ka` or data for that long: reconnect); on any drop it reconnects with
backoff, refreshing the tokens first when they are close to expiry, and says so: what was published
meanwhile is not replayed (the feed is a view; `callscribe show` reads the record).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from callscribe_local.appsync_realtime import SUBPROTOCOL, auth_protocol
from callscribe_local.cognito import SignInError, Tokens, refresh, sign_in
from callscribe_local.people import PeopleEndpoints
from shared.feed import LIVE_CHANNEL, call_channel

REFRESH_MARGIN_SECONDS = 300  # tokens this close to expiry are refreshed before a (re)subscribe
MAX_BACKOFF_SECONDS = 30.0


class TailError(Exception):
    """The feed refused us for good (sign-in, subscribe authorisation); one line for the terminal."""


def channel_for(call_sid: str | None) -> str:
    return call_channel(call_sid) if call_sid else LIVE_CHANNEL


def format_message(event: dict[str, Any]) -> str:
    """One terminal line for a feed message (anything unknown is shown as its JSON)."""
    at = datetime.now().strftime("%H:%M:%S")  # the terminal's local time
    sid = str(event.get("callSid", ""))
    short = f"{sid[:6]}…{sid[-4:]}" if len(sid) > 12 else sid
    if event.get("type") == "segment":
        span = f"{float(event.get('start', 0)):7.2f}-{float(event.get('end', 0)):.2f}"
        marks = "" if event.get("source") == "live" else f" ({event.get('source')})"
        speaker = event.get("speaker", event.get("track"))
        return f"{at}  {short}  {span}  [{speaker}]{marks} {event.get('text', '')}"
    if event.get("type") == "call":
        labels = {
            "status": "status",
            "transcriptStatus": "transcript",
            "route": "route",
            "direction": "direction",
            "durationSeconds": "duration",
            "summaryReady": "summary",
            "reconciled": "reconciled",
        }
        parts = [f"{label}={event[key]}" for key, label in labels.items() if key in event]
        return f"{at}  {short}  call  " + " ".join(parts)
    return f"{at}  {json.dumps(event, ensure_ascii=False)}"


@dataclass
class _Session:
    tokens: Tokens
    obtained: float

    def fresh(self) -> bool:
        return time.time() < self.obtained + self.tokens.expires_in - REFRESH_MARGIN_SECONDS


class FeedFollower:
    """Follows one channel until `count` messages were shown (None: until cancelled)."""

    def __init__(
        self,
        endpoints: PeopleEndpoints,
        username: str,
        password: str,
        channel: str,
        show: Callable[[dict[str, Any]], None],
        note: Callable[[str], None] = lambda line: None,
    ) -> None:
        self._endpoints = endpoints
        self._username = username
        self._password = password
        self._channel = channel
        self._show = show
        self._note = note
        self._session: _Session | None = None
        self.shown = 0

    async def run(self, count: int | None = None) -> int:
        """Messages shown; TailError when the sign-in or the subscribe is refused."""
        backoff = 1.0
        while count is None or self.shown < count:
            try:
                token = await self._token()
                async with await self._connect(token) as ws:
                    timeout_ms = await self._init(ws)
                    await self._subscribe(ws, token)
                    if backoff > 1.0:
                        self._note("reconnected: messages published while away were missed (callscribe show)")
                    backoff = 1.0
                    await self._read(ws, timeout_ms / 1000, count)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                self._note(f"feed connection lost ({type(exc).__name__}); reconnecting in {backoff:.0f} s")
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)
        return self.shown

    async def _token(self) -> str:
        session = self._session
        if session is not None and session.fresh():
            return session.tokens.id_token
        pool = self._endpoints.pool
        try:
            if session is not None and session.tokens.refresh_token:
                tokens = await asyncio.to_thread(refresh, pool, session.tokens.refresh_token)
            else:
                tokens = await asyncio.to_thread(sign_in, pool, self._username, self._password)
        except SignInError as exc:
            raise TailError(f"sign-in refused: {exc}") from exc
        self._session = _Session(tokens, time.time())
        return tokens.id_token

    async def _connect(self, token: str) -> ClientConnection:
        header = {"host": self._endpoints.feed_http_host, "Authorization": token}
        protocols = [Subprotocol(SUBPROTOCOL), Subprotocol(auth_protocol(header))]
        return await connect(self._endpoints.feed_realtime_url, subprotocols=protocols, open_timeout=10)

    async def _init(self, ws: ClientConnection) -> float:
        await ws.send(json.dumps({"type": "connection_init"}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message.get("type") == "connection_ack":
                return float(message.get("connectionTimeoutMs", 300_000))
            if message.get("type") == "connection_error":
                raise TailError(f"the feed refused the connection: {_first_error(message)}")

    async def _subscribe(self, ws: ClientConnection, token: str) -> None:
        subscription = str(uuid.uuid4())
        authorization = {"host": self._endpoints.feed_http_host, "Authorization": token}
        request = {
            "type": "subscribe",
            "id": subscription,
            "channel": self._channel,
            "authorization": authorization,
        }
        await ws.send(json.dumps(request))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message.get("type") == "subscribe_success" and message.get("id") == subscription:
                return
            if message.get("type") == "subscribe_error":
                raise TailError(f"subscribe to {self._channel} refused: {_first_error(message)}")

    async def _read(self, ws: ClientConnection, quiet_limit: float, count: int | None) -> None:
        """Show data messages until `count` in all; TimeoutError when nothing (not even `ka`) comes
        for `quiet_limit` seconds (the server's connectionTimeoutMs): the connection is dead."""
        while count is None or self.shown < count:
            message = json.loads(await asyncio.wait_for(ws.recv(), quiet_limit))
            if message.get("type") == "data":
                try:
                    event = json.loads(message.get("event", ""))
                except ValueError:
                    event = {"unreadable": message.get("event")}
                self._show(event if isinstance(event, dict) else {"event": event})
                self.shown += 1


def _first_error(message: dict[str, Any]) -> str:
    errors = message.get("errors") or [{}]
    first = errors[0] if isinstance(errors, list) and errors else {}
    return f"{first.get('errorType', 'error')}: {first.get('message', '')}".strip()
