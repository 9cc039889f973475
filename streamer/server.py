"""The WebSocket server: `/healthz`, the signature check, capacity and drain, then one session per call.

Refusals happen as early as they can. In `process_request`, before the upgrade completes: forged or
unsigned upgrades get 403; upgrades during a drain or beyond the hard cap of calls get 503, beyond
the bound of connections still waiting for their `start` 503 `busy`, and beyond one client address's
share of that bound 429. The upgrade signature is the same for every call (Twilio signs the bare
STREAM_URL), so it proves little: a connection only becomes a *call* once its session has verified
the `start`'s per-call stream token. Until then it is *pending* (`PendingStreams`): pending
connections never count toward MAX_CALLS or `/healthz` (idle upgrades cannot make the task look
full, and ECS never replaces a task, cutting its calls, because of them), and last at most
START_TIMEOUT_SECONDS. `/healthz` is 200 only while the task accepts calls and is below MAX_CALLS:
the load balancer then stops sending new calls here well before the hard cap.
"""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from shared.observability import logger
from shared.signatures import verify_stream_upgrade
from streamer import fd_limit
from streamer.client_address import FORWARDED_FOR, client_address
from streamer.contract import HEALTH_PATH, MEDIA_PATH
from streamer.guard import close_draining
from streamer.pending import ADDRESS_BUSY, PendingStreams
from streamer.session import CallSession, SessionDeps


class StreamerServer:
    def __init__(self, deps: SessionDeps) -> None:
        self._deps = deps
        self._server_settings = deps.settings.server
        self._limits = deps.settings.limits
        self._tokens = deps.settings.twilio.auth_tokens()  # primary, then the secondary when rotating
        self.sessions: set[CallSession] = set()  # calls: their `start` verified and admitted
        # upgraded, still waiting for a verified `start`
        self.pending: PendingStreams[CallSession] = PendingStreams(
            self._limits.max_pending_streams, self._limits.max_pending_streams_per_address
        )
        self.draining = False
        self.refused: dict[int, int] = {}
        self._server: Server | None = None
        self._changed = asyncio.Event()

    @property
    def active_calls(self) -> int:
        return len(self.sessions)

    @property
    def ready(self) -> bool:
        return not self.draining and self.active_calls < self._limits.max_calls

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.pending.cap, open_files = fd_limit.pending_cap(self._limits)
        if self.pending.cap < self._limits.max_pending_streams:
            logger.warning(
                "open-file limit too low for the configured limits: fewer connections may wait for start",
                open_files=open_files,
                needed=fd_limit.needed(self._limits),
                max_pending_streams=self._limits.max_pending_streams,
                pending_cap=self.pending.cap,
            )
        self._server = await serve(
            self._handle,
            self._server_settings.host,
            self._server_settings.port,
            process_request=self._process_request,
            compression=None,  # Twilio does not negotiate it; deflate on 200-byte frames only costs CPU
            max_size=self._limits.max_message_bytes,
            server_header=None,
        )
        logger.info(
            "streamer listening",
            port=self.port,
            max_calls=self._limits.max_calls,
            hard_cap=self._limits.hard_cap,
            pending_cap=self.pending.cap,
            pending_per_address=self.pending.per_address_cap,
            trusted_proxy_hops=self._server_settings.trusted_proxy_hops,
        )

    def begin_drain(self) -> None:
        if not self.draining:
            self.draining = True
            logger.info(
                "draining: refusing new streams",
                active_calls=self.active_calls,
                drain_seconds=self._limits.drain_seconds,
            )

    async def drain(self, window: float) -> None:
        """Let active calls run to their end for up to `window` seconds, then end the rest (each still
        finishes its transcript: CloseStream, flush, CDR, event) and stop listening."""
        self.begin_drain()
        deadline = time.monotonic() + window
        # pending connections are given their START_TIMEOUT_SECONDS too: one may be a call just routed here
        while (self.sessions or self.pending) and (remaining := deadline - time.monotonic()) > 0:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=remaining)
            except TimeoutError:
                break
        if self.sessions:
            logger.warning("drain window over: ending remaining calls", active_calls=self.active_calls)
        await self.close()

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()  # closes remaining streams with 1001; handlers finish their transcripts
        await self._server.wait_closed()
        self._server = None

    # ---- request handling --------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == HEALTH_PATH:
            if self.ready:
                return connection.respond(HTTPStatus.OK, "ok\n")
            return connection.respond(
                HTTPStatus.SERVICE_UNAVAILABLE, "draining\n" if self.draining else "at capacity\n"
            )
        if path.rstrip("/") != MEDIA_PATH:
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "not found\n")
        if self.draining:
            return self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
        if self.active_calls >= self._limits.hard_cap:
            return self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE, "at capacity\n")
        address = self._client_address(connection, request.headers)
        if (refusal := self.pending.refusal(address)) is not None:
            status, text = refusal
            response = self._refuse(connection, status, text)
            if (count := self.refused[status.value]) <= 5 or count % 100 == 0:  # no log flood
                logger.warning(
                    "stream upgrade refused: too many streams waiting for start",
                    from_this_address=refusal is ADDRESS_BUSY,
                    address=address,
                    pending=len(self.pending),
                    pending_from_address=self.pending.waiting_from(address),
                    refused=count,
                )
            return response
        if not verify_stream_upgrade(self._server_settings.stream_url, request.headers, self._tokens):
            logger.warning(
                "stream upgrade refused: bad signature",
                remote=str(connection.remote_address[0]) if connection.remote_address else None,
            )
            return self._refuse(connection, HTTPStatus.FORBIDDEN, "forbidden\n")
        return None

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, text: str) -> Response:
        self.refused[status.value] = self.refused.get(status.value, 0) + 1
        return connection.respond(status, text)

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None  # the handler runs once the upgrade request was accepted
        address = self._client_address(ws, ws.request.headers)
        # raced past process_request (upgrades completing together)
        if (
            self.draining
            or self.active_calls >= self._limits.hard_cap
            or self.pending.refusal(address) is not None
        ):
            await close_draining(ws, 1013, "try again later", self._limits.message_burst)
            return
        session = CallSession(ws, self._deps, admit=self._admit)
        self.pending.add(session, address)
        try:
            await session.run()  # catches and logs its own failures: nothing reaches other calls
        finally:
            self.pending.discard(session)
            self.sessions.discard(session)
            self._changed.set()

    def _client_address(self, connection: ServerConnection, headers: Headers) -> str:
        peer = connection.remote_address
        return client_address(
            headers.get_all(FORWARDED_FOR),
            str(peer[0]) if peer else None,
            self._server_settings.trusted_proxy_hops,
        )

    def _admit(self, session: CallSession) -> bool:
        """A pending connection's `start` verified: it becomes a call, unless the hard cap is reached
        (upgrades are checked against it too, but pending ones can all start at once)."""
        self.pending.discard(session)
        if self.active_calls >= self._limits.hard_cap:
            return False
        self.sessions.add(session)
        return True
