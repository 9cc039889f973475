"""A stream's opening: wait (bounded) for Twilio's `start`, then verify its per-call stream token.

Nothing about a stream is trusted before its `start` passes here. A connection that sends no `start`
within START_TIMEOUT_SECONDS, keeps sending other messages, or whose `start` is malformed or carries
no valid token for exactly its call SID and parameters (`shared.stream_token`) is closed (1008) with
nothing stored, transcribed, spoken or called. The verified `start` comes back without its token, so
nothing after this (agent, logs, storage) sees it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from shared import stream_token
from streamer import protocol
from streamer.calllog import CallLog
from streamer.guard import StreamGuard

# Twilio sends `connected`, then `start`: a connection that sends this many messages without a `start`
# is not Twilio, and is refused rather than parsed until START_TIMEOUT_SECONDS.
MAX_MESSAGES_BEFORE_START = 8


async def verified_start(
    ws: ServerConnection,
    guard: StreamGuard,
    tokens: tuple[str, ...],
    within: float,
    log: CallLog,
) -> protocol.Start | None:
    """The stream's `start` (awaited `within` seconds), verified and without its token; None once the
    stream was closed."""
    start = await _await_start(ws, guard, within, log)
    if start is None:
        return None
    verified = without_token(start, tokens)
    if verified is None:
        await guard.refuse("stream token missing or invalid", claimed_call_sid=start.call_sid)
    return verified


def without_token(start: protocol.Start, tokens: tuple[str, ...]) -> protocol.Start | None:
    """The `start` without its token when the token is ours for exactly this call SID and these
    parameters (primary or, during a rotation, secondary auth token), else None. Checked on the
    values as they came off the wire."""
    if not stream_token.verify(tokens, start.call_sid, start.custom_parameters):
        return None
    params = {
        name: value for name, value in start.custom_parameters.items() if name != stream_token.TOKEN_PARAMETER
    }
    return dataclasses.replace(start, custom_parameters=params)


async def _await_start(
    ws: ServerConnection, guard: StreamGuard, within: float, log: CallLog
) -> protocol.Start | None:
    deadline = time.monotonic() + within
    for _ in range(MAX_MESSAGES_BEFORE_START):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            frame = await asyncio.wait_for(ws.recv(), timeout=remaining)
        except TimeoutError:
            break
        except ConnectionClosed:
            log.info("stream closed before start")
            return None
        try:
            message = protocol.parse(frame)
        except protocol.MalformedStartError as exc:
            await guard.refuse(f"malformed start: {exc}")
            return None
        except protocol.ProtocolError as exc:
            guard.bad(str(exc))
            continue
        if isinstance(message, protocol.Start):
            return message
        if isinstance(message, protocol.Media):
            guard.bad("media before start")
    else:
        await guard.refuse(f"no start among the first {MAX_MESSAGES_BEFORE_START} messages")
        return None
    await guard.no_start_in_time()
    return None
