"""What one Twilio stream may cost the task, and why it ended when it was not by Twilio's `stop`.

`StreamGuard` holds a stream's message budget (a token bucket the read loop spends one message at a
time and its watchdog refills by the time elapsed), the idle watchdog (no media for
MEDIA_IDLE_TIMEOUT_SECONDS ends the stream), the count of bad messages, every close the streamer
starts on the stream, and the reason an abnormal end gives the transcript. A change must keep the
read loop's cost per frame at one integer decrement, and every close it starts tracked.
"""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from shared.sids import is_call_sid
from streamer import metrics as m
from streamer.calllog import CallLog
from streamer.config import LimitSettings
from streamer.metrics import StreamerMetrics
from streamer.tasks import TaskSet

# How often a call's watchdog refills its message budget and looks for missing media (at most; a
# shorter MEDIA_IDLE_TIMEOUT_SECONDS ticks faster). Per call, not per frame.
WATCH_INTERVAL_SECONDS = 1.0


async def close_draining(ws: ServerConnection, code: int, reason: str, max_messages: int) -> None:
    """Close a stream nobody else is reading, discarding what the peer sent meanwhile.

    websockets stops reading the socket once a few unread messages are queued, so a peer that was
    still sending when our close went out would have its close reply stuck behind them until the
    close timeout (10 s), holding the connection open. Reading them off (undecoded) lets the
    handshake finish at once; a peer still sending after `max_messages` is dropped instead."""

    async def discard() -> None:
        with contextlib.suppress(ConnectionClosed):
            for _ in range(max_messages):
                await ws.recv(decode=False)
            ws.transport.abort()

    drain = asyncio.create_task(discard(), name="close-drain")
    try:
        await ws.close(code, reason)
        await drain
    finally:
        drain.cancel()


class StreamGuard:
    """One stream's limits and end. The read loop spends `budget` and counts `frames_in` itself."""

    def __init__(
        self,
        ws: ServerConnection,
        limits: LimitSettings,
        metrics: StreamerMetrics,
        tasks: TaskSet,
        log: CallLog,
    ) -> None:
        self._ws = ws
        self._limits = limits
        self._metrics = metrics
        self._tasks = tasks
        self._log = log
        # Token bucket over every message of the stream: the read loop takes one per message (one
        # integer decrement: no clock read, no allocation per frame); the watchdog refills it.
        self.budget = limits.message_burst
        self.frames_in = 0
        self.bad_messages = 0
        # why the stream ended other than by Twilio's `stop`, the agent's hang-up or the drain
        self.ended_abnormally: str | None = None
        self._ended_by_agent = False
        self._watchdog: asyncio.Task[None] | None = None

    def rebind(self, log: CallLog) -> None:
        """Log with the call's keys once the `start` has named the call."""
        self._log = log

    def bad(self, reason: str, media: bool = False) -> None:
        """Count a message that could not be used, and skip it."""
        self.bad_messages += 1
        self._metrics.incr(m.BAD_MESSAGES)
        if media:
            self._metrics.incr(m.FRAMES_DROPPED)
        if self.bad_messages <= 5 or self.bad_messages % 1000 == 0:  # don't let a bad sender flood logs
            self._log.warning("bad message skipped", reason=reason, bad_messages=self.bad_messages)

    def end_abnormally(self, reason: str) -> None:
        """Record why the stream ended, unless an earlier reason is already recorded."""
        if self.ended_abnormally is None:
            self.ended_abnormally = reason

    # ---- closes before the stream is a call ----------------------------------------------------

    async def close_draining(self, code: int, reason: str) -> None:
        await close_draining(self._ws, code, reason, self._limits.message_burst)

    async def refuse(self, reason: str, claimed_call_sid: object = None) -> None:
        """Close a stream whose `start` cannot be trusted; nothing about it is stored or published.
        Logged with the reason and the call SID it claimed (never the token: it is not in `reason`)."""
        self._metrics.incr(m.STREAMS_REFUSED)
        self._log.warning(
            "stream refused at start",
            reason=reason,
            claimed_call_sid=claimed_call_sid if is_call_sid(claimed_call_sid) else None,
        )
        await self.close_draining(CloseCode.POLICY_VIOLATION, "stream refused")

    async def claim_failed(self, claimed_call_sid: str) -> None:
        """The call record could not be claimed in time (the table unreachable): the stream is closed
        (1011) unheard; the recording, if the call has one, is the call's transcript (docs/streamer.md)."""
        self._metrics.incr(m.STREAM_CLAIM_FAILURES)
        self._log.error("stream closed: its call could not be claimed", claimed_call_sid=claimed_call_sid)
        await self.close_draining(CloseCode.INTERNAL_ERROR, "call record unavailable")

    async def no_start_in_time(self) -> None:
        self._metrics.incr(m.STREAM_TIMEOUTS)
        self._log.warning("no start message in time: closing")
        await self.close_draining(CloseCode.POLICY_VIOLATION, "expected start")

    async def at_capacity(self, claimed_call_sid: str) -> None:
        self._log.warning("stream refused: at capacity", claimed_call_sid=claimed_call_sid)
        await self.close_draining(CloseCode.TRY_AGAIN_LATER, "at capacity")

    # ---- a call's stream -------------------------------------------------------------------------

    def start_watching(self) -> None:
        self._watchdog = self._tasks.spawn(self._watch(), "watchdog")

    def stop_watching(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()

    def over_rate(self) -> None:
        """Far more messages than Twilio sends: end the stream (1008); what was heard is finished."""
        if self.ended_abnormally is not None:
            return  # the watchdog already ended it; its close is under way
        limits = self._limits
        self.ended_abnormally = (
            f"stream cut: more than {limits.max_messages_per_second} messages a second"
            f" (burst {limits.message_burst}) (close code 1008)"
        )
        self._metrics.incr(m.STREAMS_RATE_LIMITED)
        self._log.warning(
            "stream closed: message rate far above Twilio's",
            max_messages_per_second=limits.max_messages_per_second,
            message_burst=limits.message_burst,
            frames_in=self.frames_in,
        )
        # In a task of its own, which reads off (and drops) the rest of the flood until the peer's
        # close reply arrives: the transcript is finished meanwhile.
        closing = self.close_draining(CloseCode.POLICY_VIOLATION, "message rate limit")
        self._tasks.spawn(closing, "close-stream")

    async def end_by_agent(self) -> None:
        """The agent hung up or transferred: a normal end, whatever the peer answers."""
        self._ended_by_agent = True
        await self._ws.close(CloseCode.NORMAL_CLOSURE, "call ended by the agent")

    def closed_without_stop(self) -> None:
        """The socket closed (or the read loop ended) without Twilio's `stop`: note why."""
        reason = self._why_closed()
        if reason is not None:
            self.end_abnormally(reason)
        self._log.info(
            "stream socket closed without stop",
            close_code=self._ws.close_code,
            ended_abnormally=self.ended_abnormally,
        )

    def _why_closed(self) -> str | None:
        """Why the socket closed without Twilio's `stop`, for the transcript's error; None when the
        end was a normal one of ours: the agent hung up, or the drain window ended (1001)."""
        protocol_state = self._ws.protocol
        sent, received = protocol_state.close_sent, protocol_state.close_rcvd
        ours = sent is not None and not protocol_state.close_rcvd_then_sent
        if ours and sent is not None:
            if sent.code == CloseCode.GOING_AWAY or self._ended_by_agent:
                return None
            if sent.code == CloseCode.MESSAGE_TOO_BIG:
                self.bad("oversized message refused")
                return (
                    f"stream cut: a message over MAX_MESSAGE_BYTES ({self._limits.max_message_bytes})"
                    " was refused (close code 1009)"
                )
        code = received.code if received is not None else sent.code if sent is not None else 1006
        return f"stream closed without Twilio's stop (close code {code})"

    async def _watch(self) -> None:
        """Per call, every WATCH_INTERVAL_SECONDS: refill the message budget by the time elapsed (a
        late tick under load refills more, never less), and end the stream when no media has come for
        MEDIA_IDLE_TIMEOUT_SECONDS (its transcript is then finished: CloseStream on its tracks)."""
        limits = self._limits
        idle_timeout = limits.media_idle_timeout_seconds
        rate, burst = limits.max_messages_per_second, limits.message_burst
        interval = min(WATCH_INTERVAL_SECONDS, idle_timeout / 4)
        loop = asyncio.get_running_loop()
        last = last_media = loop.time()
        seen = self.frames_in
        credit = 0.0
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            credit += rate * (now - last)
            last = now
            whole = int(credit)
            credit -= whole
            self.budget = min(burst, self.budget + whole)
            if self.frames_in != seen:
                seen, last_media = self.frames_in, now
            elif now - last_media >= idle_timeout:
                self.ended_abnormally = f"stream cut: no media for {idle_timeout:g} s (close code 1008)"
                self._metrics.incr(m.STREAM_TIMEOUTS)
                self._log.warning("no media from Twilio: ending the stream", idle_seconds=idle_timeout)
                # the read loop is still reading, so this only sends the close and waits for its reply
                await self._ws.close(CloseCode.POLICY_VIOLATION, "no media")
                return
