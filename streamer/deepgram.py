"""One track's live transcription: a Deepgram `/v1/listen` WebSocket that survives drops.

Audio is appended to the track's `TrackAudio` whether or not a connection is open and drained to
the open one; a connection starts at the confirmed index (end of the last final), so after a drop
the unconfirmed audio is sent again, and its clock is mapped back to stream time. A final ending at
or before the track's high-water mark is a duplicate and dropped. Handshake 4xx (but 408/429) and
close 1008 are terminal; everything else is retried (`shared.backoff`, `DEEPGRAM_MAX_ATTEMPTS` in a
row; a connection that heard nothing counts as a failed attempt). docs/streamer.md has the long
form ("No audio lost") and why `websockets`, not deepgram-sdk ("One Deepgram connection per track").
~400 lines, most of it one class: sending, reconnecting and timing results share one track's
indices (confirmed, sent, the connection's clock) and must move together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode

from shared.backoff import full_jitter
from streamer import deepgram_messages as dg
from streamer import metrics as m
from streamer.audio import ConnectionClock, TrackAudio
from streamer.calllog import CallLog
from streamer.config import DeepgramSettings
from streamer.metrics import StreamerMetrics

KEEPALIVE = json.dumps({"type": "KeepAlive"})
CLOSE_STREAM = json.dumps({"type": "CloseStream"})
# The hot path writes only while Deepgram's socket buffer holds less than this, and at most this much:
# the two together stay under websockets' 32 KiB write limit, so feed() never waits on a slow or dead
# Deepgram socket (which would stall reading the call's Twilio stream); the sender task waits instead.
_DIRECT_WRITE_LIMIT = 16 * 1024
_MAX_MESSAGE_BYTES = 1 << 20  # the largest Deepgram message taken (results are a few KB)
TERMINAL_HANDSHAKE = frozenset({400, 401, 402, 403, 404, 405, 410, 413, 415, 422})


@dataclass(frozen=True, slots=True)
class Segment:
    """A final transcript stretch of one track, in stream seconds."""

    track: str
    text: str
    start: float
    end: float
    confidence: float | None
    final_at: float  # time.monotonic() when the final result arrived (store latency metric)


class TerminalError(Exception):
    """Deepgram refused us for a reason retrying cannot fix (credentials, payment, bad request)."""


class _HeardNothing(Exception):
    """A connection opened and ended without one result: a failed attempt (the quick-failure detector)."""


_RETRYABLE = (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, _HeardNothing)


class TrackTranscriber:
    """Owns one track's Deepgram connection(s) for the whole call; `run()` is its one task."""

    def __init__(
        self,
        track: str,
        audio: TrackAudio,
        options: DeepgramSettings,
        on_segment: Callable[[Segment], None],
        on_failure: Callable[[str, str], None],
        metrics: StreamerMetrics,
        log: CallLog,
        on_event: Callable[[dg.ListenEvent], None] | None = None,
    ) -> None:
        """`on_event`, when given, sees every Results (interim too), SpeechStarted and UtteranceEnd
        message as it arrives: the voice agent's ears. Storage is unaffected by it."""
        self.track = track
        self._on_event = on_event
        self.audio = audio
        self._options = options
        # read per frame on the hot path: computed once, not through the settings model's properties
        self._min_chunk_bytes = options.min_chunk_bytes
        self._direct_write_bytes = min(options.max_chunk_bytes, _DIRECT_WRITE_LIMIT)
        self._on_segment = on_segment
        self._on_failure = on_failure
        self._metrics = metrics
        self._log = log.bind(track=track)
        self._wake = asyncio.Event()
        self._live: tuple[ClientConnection, ConnectionClock] | None = None
        self._last_send = 0.0
        self._input_closed = False
        self._high_water = float("-inf")  # stream seconds: end of the last final result stored
        self.failed: str | None = None
        self.connections = 0
        self.reconnects = 0
        self.segments = 0
        self.sent_bytes = 0  # audio sent to Deepgram over every connection (a replay counts again)

    # ---- fed by the session ------------------------------------------------------------------------

    async def feed(self, timestamp_ms: int, payload: bytes) -> None:
        """Take one Twilio frame. When the connection is open and caught up, forward it right here
        (no task switch per frame: this is the hot path); otherwise it waits in the buffer for the
        sender (connecting, replaying, or Deepgram's socket is backed up)."""
        if self.failed is not None:
            return
        audio = self.audio
        dropped = audio.append(timestamp_ms, payload)
        if dropped:
            self._metrics.incr(m.FRAMES_DROPPED, max(1, dropped // 160))
        live = self._live
        if live is not None:
            ws, clock = live
            if audio.end - clock.next_index < self._min_chunk_bytes:
                return  # batch: sent with the next frame (or by the sender if audio stops)
            transport = ws.transport
            if transport is not None and transport.get_write_buffer_size() < _DIRECT_WRITE_LIMIT:
                start, data = audio.pending(clock.next_index, self._direct_write_bytes)
                if data:
                    clock.sent(start, len(data))  # before the write: the sender must not send it too
                    self.sent_bytes += len(data)
                    self._last_send = time.monotonic()
                    try:
                        await ws.send(data)
                    except ConnectionClosed:
                        return  # the receiving side sees the close and reconnects
                if audio.end == clock.next_index:
                    return
        self._wake.set()

    def close_input(self) -> None:
        """The caller hung up: flush what is left (CloseStream) and end after the last finals."""
        self._input_closed = True
        self._wake.set()

    @property
    def unconfirmed_seconds(self) -> float:
        return self.audio.buffered_bytes / 8000

    # ---- the task ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve and reconnect until the call's audio is all heard or a failure is final.

        A connection that heard results and then dropped is progress: the count of failed attempts
        starts again (after a short jittered pause, so a task's tracks dropped together do not all
        reconnect in the same instant). One that heard nothing is a failed attempt."""
        while True:
            finished = False
            try:
                async for attempt in self._reconnects():
                    with attempt:
                        finished = await self._next_connection()
            except TerminalError as exc:
                self._fail("deepgram-refused", str(exc))
                return
            except _RETRYABLE:
                attempts = self._options.max_attempts
                self._fail("deepgram-unavailable", f"gave up after {attempts} consecutive failed attempts")
                return
            if finished:
                return
            self._count_reconnect()
            opts = self._options
            pause = min(opts.backoff_max_seconds, opts.backoff_base_seconds)  # the policy's first window
            await asyncio.sleep(random.uniform(0, pause))  # noqa: S311 - jitter, not crypto

    def _reconnects(self) -> AsyncRetrying:
        opts = self._options
        return AsyncRetrying(
            retry=retry_if_exception_type(_RETRYABLE),
            stop=stop_after_attempt(opts.max_attempts),
            wait=full_jitter(opts.backoff_base_seconds, opts.backoff_max_seconds),
            after=self._after_failed_attempt,
            reraise=True,
        )

    def _after_failed_attempt(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if error is not None and not isinstance(error, _HeardNothing):  # a drop logs its own warning
            attempt = state.attempt_number
            self._log.warning("deepgram connection failed", error=_describe(error), attempt=attempt)
        self._count_reconnect()

    def _count_reconnect(self) -> None:
        self.reconnects += 1
        self._metrics.incr(m.DEEPGRAM_RECONNECTS)

    async def _next_connection(self) -> bool:
        """One connection, once there is audio to send. True when the track is finished; False when
        a connection that heard results dropped; raises when it failed without hearing any."""
        # Connect only with audio to send: Deepgram closes a connection that gets none for ~10 s
        # (NET-0001, and KeepAlive does not count before the first audio), so a silent track, or
        # one whose audio is all confirmed after a drop, waits here instead of churning.
        while self.audio.buffered_bytes == 0 and not self._input_closed:
            self._wake.clear()
            await self._wake.wait()
        if self._input_closed and self.audio.buffered_bytes == 0:
            return True  # everything heard is confirmed (or the call ended before any audio)
        heard = await self._connect_and_serve()
        if heard is None:  # closed cleanly after our CloseStream: done
            return True
        if not heard:
            raise _HeardNothing("the connection ended before any result")
        return False

    def _fail(self, code: str, detail: str) -> None:
        self.failed = f"{code}: {detail}"
        self._metrics.incr(m.DEEPGRAM_FAILURES)
        self._log.error("deepgram transcription failed", reason=code, detail=detail)
        self._on_failure(self.track, self.failed)

    async def _connect_and_serve(self) -> bool | None:
        """One connection. Returns None when finished cleanly, else whether it heard any result."""
        try:
            ws = await connect(
                self._options.listen_url(),
                additional_headers={"Authorization": f"Token {self._options.api_key.get_secret_value()}"},
                compression=None,
                proxy=None,
                open_timeout=self._options.connect_timeout_seconds,
                max_size=_MAX_MESSAGE_BYTES,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in TERMINAL_HANDSHAKE:
                body = exc.response.body.decode("utf-8", "replace")[:200] if exc.response.body else ""
                raise TerminalError(f"HTTP {status} at handshake {body}".strip()) from exc
            raise
        self.connections += 1
        clock = ConnectionClock(self.audio.confirmed)
        self._log.info(
            "deepgram connected",
            origin_seconds=round(self.audio.confirmed / 8000, 3),
            connection=self.connections,
        )
        sender = asyncio.create_task(self._send_loop(ws, clock), name=f"deepgram-send-{self.track}")
        heard = False
        try:
            async for message in ws:
                if isinstance(message, str) and self.handle_message(message, clock):
                    heard = True
        except ConnectionClosed:
            pass  # examined below through ws.close_code
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender
        code, reason = ws.close_code, ws.close_reason or ""
        if code == CloseCode.POLICY_VIOLATION:
            raise TerminalError(f"closed 1008 {reason}".strip())
        if code == CloseCode.NORMAL_CLOSURE and self._input_closed and clock.closed:
            return None
        self._log.warning(
            "deepgram connection dropped",
            close_code=code,
            close_reason=reason,
            unconfirmed_seconds=round(self.unconfirmed_seconds, 3),
        )
        return heard

    async def _send_loop(self, ws: ClientConnection, clock: ConnectionClock) -> None:
        """Sends what the hot path cannot: the backlog (buffered before the connection opened, or to
        replay after a drop), KeepAlive while no audio flows, and CloseStream at the end."""
        opts = self._options
        self._last_send = time.monotonic()
        try:
            while True:
                start, data = self.audio.pending(clock.next_index, opts.max_chunk_bytes)
                if data:
                    clock.sent(start, len(data))
                    self.sent_bytes += len(data)
                    self._last_send = time.monotonic()
                    await ws.send(data)
                    continue
                if self._input_closed:
                    clock.closed = True
                    await ws.send(CLOSE_STREAM)
                    return
                self._live = (ws, clock)  # caught up: feed() forwards new frames itself from now on
                self._wake.clear()
                idle = time.monotonic() - self._last_send
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, opts.keepalive_seconds - idle))
                except TimeoutError:
                    if self.audio.end > clock.next_index:
                        continue  # a partial chunk left by feed() when audio stopped: send it
                    if time.monotonic() - self._last_send >= opts.keepalive_seconds * 0.9:
                        await ws.send(KEEPALIVE)
                        self._last_send = time.monotonic()
        except ConnectionClosed:
            return
        except Exception as exc:  # noqa: BLE001 - a sender bug must end this connection, not the call
            self._log.exception("deepgram sender failed", error=_describe(exc))
            await ws.close(CloseCode.INTERNAL_ERROR, "sender failed")
        finally:
            self._live = None

    # ---- results -----------------------------------------------------------------------------------

    def handle_message(self, text: str, clock: ConnectionClock) -> bool:
        """One text frame from Deepgram; True when it was a Results (the connection heard something)."""
        try:
            message = dg.parse(text)
        except dg.NotJsonError:
            self._log.warning("deepgram sent non-JSON text", size=len(text))
            return False
        except dg.MalformedResultsError as exc:
            self._log.warning("malformed deepgram result skipped", error=_describe(exc))
            return True
        if type(message) is dg.Results:
            # the listener first (a result already stored, heard again after a reconnect, is not
            # passed on twice), then storage
            if self._on_event is not None and not self._is_replay(message, clock):
                self._notify(message)
            self._on_results(message, clock)
            return True
        if isinstance(message, dg.SpeechStarted | dg.UtteranceEnd):
            if self._on_event is not None:
                self._notify(message)
        elif isinstance(message, dg.Metadata):
            self._log.debug("deepgram metadata", request_id=message.request_id, duration=message.duration)
        elif isinstance(message, dg.ErrorMessage):
            self._log.warning("deepgram error message", detail=message.detail)
        return False

    def _notify(self, event: dg.ListenEvent) -> None:
        assert self._on_event is not None
        try:
            self._on_event(event)
        except Exception as exc:  # noqa: BLE001 - a listener bug must not cost the transcript
            self._log.exception("deepgram event listener failed", error=_describe(exc))

    def _is_replay(self, results: dg.Results, clock: ConnectionClock) -> bool:
        """A result that ends at or before the last stored final: audio heard before a reconnect."""
        end = results.end
        return self.audio.stream_seconds(clock.index_at(end), end=True) <= self._high_water + 0.0005

    def _on_results(self, results: dg.Results, clock: ConnectionClock) -> None:
        if not results.is_final:
            return  # interim results are never stored
        end = results.end
        end_index = clock.index_at(end)
        audio = self.audio
        result_end = audio.stream_seconds(end_index, end=True)
        if result_end <= self._high_water + 0.0005:
            self._metrics.incr(m.DUPLICATE_RESULTS)
            self._log.debug("duplicate final result dropped", end=round(result_end, 3))
            return
        previous = self._high_water
        self._high_water = result_end
        # times first, then confirm: confirming forgets the anchors these times are mapped through
        timed = [
            (
                w,
                audio.stream_seconds(clock.index_at(w.start)),
                audio.stream_seconds(clock.index_at(w.end), end=True),
            )
            for w in results.words
        ]
        result_start = audio.stream_seconds(clock.index_at(results.start))
        audio.confirm(round(end_index))

        kept = [t for t in timed if t[2] > previous + 0.0005]
        # replayed words already stored: keep only the new ones
        text = " ".join(w.text for w, _, _ in kept) if len(kept) < len(timed) else results.transcript
        text = text.strip()
        if not text:
            return
        seg_start, seg_end = (kept[0][1], kept[-1][2]) if kept else (result_start, result_end)
        self.segments += 1
        self._on_segment(
            Segment(
                track=self.track,
                text=text,
                start=round(max(seg_start, 0.0), 3),
                end=round(max(seg_end, 0.0), 3),
                confidence=results.confidence,
                final_at=time.monotonic(),
            )
        )


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
