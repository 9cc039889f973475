"""One Twilio media stream = one `CallSession`, which owns everything about that call.

In agent mode (`start.customParameters.mode == "agent"`) the same session also owns the call's
`AgentConversation` (streamer/agent): it hears the inbound track's Deepgram events, gets Twilio's
`mark` and `dtmf` messages, speaks on this socket and stores its words through this session's writes;
the transcript is finished exactly as for any other call.

Lifecycle: read `connected`/`start` (bounded wait); check the `start` (a call SID, and the per-call
stream token made by our webhooks for exactly this call and these parameters: `shared.stream_token`)
before anything else, and refuse it (1008) with nothing stored, transcribed, spoken or called when
it fails; only then does the server count the stream as a call. Open one `TrackTranscriber` per
track, then feed media until `stop` or the socket closes (either way the transcript is finished the
same way): CloseStream on each track, a bounded wait for the last finals, flush the call's segment
writes, set the transcript status and count on the CDR, publish `Transcript Completed` once. Any end
but Twilio's `stop`, the agent hanging up, or the drain (a socket closed without `stop`, a message
over MAX_MESSAGE_BYTES, no media for MEDIA_IDLE_TIMEOUT_SECONDS, far more messages than Twilio
sends) leaves the transcript `incomplete`, saying why. Every task the
session starts is tracked in its `TaskSet` and awaited or cancelled before `run()` returns; the ones
it must wait for by identity (each track's transcription, the two early CDR writes) are also held as
typed handles. One module (a little over 300 lines) because it is the one owner of a call's state;
what it delegates (tracks, writes, the CDR, the agent) lives in the modules it imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from shared import clock, stream_token
from shared.dal.records import StreamUsage
from shared.sids import is_call_sid
from shared.status import TranscriptStatus
from streamer import metrics as m
from streamer import protocol
from streamer.audio import BYTES_PER_SECOND, TrackAudio
from streamer.calllog import CallLog
from streamer.calls import CallRecords
from streamer.config import StreamerSettings
from streamer.deepgram import Segment, TrackTranscriber
from streamer.metrics import StreamerMetrics
from streamer.redaction import CallRedaction, Pending
from streamer.segments import CallWrites, SegmentStore
from streamer.tasks import TaskSet, settled

if TYPE_CHECKING:
    from streamer.agent.conversation import AgentConversation
    from streamer.agent.deps import AgentDeps


@dataclass(frozen=True)
class SessionDeps:
    """What every session shares (one of each per process)."""

    settings: StreamerSettings
    store: SegmentStore
    records: CallRecords
    metrics: StreamerMetrics
    agent: AgentDeps | None = None  # agent mode's shared parts; None: agent calls are transcribed only


# Twilio sends `connected`, then `start`: a connection that sends this many messages without a `start`
# is not Twilio, and is refused rather than parsed until START_TIMEOUT_SECONDS.
MAX_MESSAGES_BEFORE_START = 8
# How often a call's watchdog refills its message budget and looks for missing media (at most; a
# shorter MEDIA_IDLE_TIMEOUT_SECONDS ticks faster). Per call, not per frame.
WATCH_INTERVAL_SECONDS = 1.0


def _admit_all(session: CallSession) -> bool:
    return True


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


class CallSession:
    def __init__(
        self,
        ws: ServerConnection,
        deps: SessionDeps,
        admit: Callable[[CallSession], bool] = _admit_all,
    ) -> None:
        """`admit` is asked once the `start` is verified, before anything is set up: True makes the
        stream a call (the server counts it from then on); False refuses it (1013, at capacity)."""
        self._ws = ws
        self._deps = deps
        self._admit = admit
        self._limits = deps.settings.limits
        self._metrics = deps.metrics
        self._log = CallLog(connection=str(ws.id))
        self.call_sid: str | None = None
        self.stream_sid = ""
        self._speakers: dict[str, str] = dict(protocol.DEFAULT_SPEAKERS)
        self._deepgram = deps.settings.deepgram  # this call's options: its route may pick language/model
        self._tracks: dict[str, TrackTranscriber] = {}
        self._tasks = TaskSet(self._log)
        # handles of the tasks waited for by identity
        self._transcription: list[asyncio.Task[None]] = []  # each track's TrackTranscriber.run()
        self._cdr_started: asyncio.Task[None] | None = None  # "in-progress" lands before any later status
        self._cdr_failed: asyncio.Task[None] | None = None  # "failed" lands before the final status
        self._writes: CallWrites | None = None
        self._redaction = CallRedaction(deps.settings.redaction.redactor())
        self._failure: str | None = None
        self.agent: AgentConversation | None = None
        self.bad_messages = 0
        self.frames_in = 0
        # Token bucket over every message of the stream: the pump takes one per message (one integer
        # decrement: no clock read, no allocation per frame); the watchdog refills it by the time elapsed.
        self._budget = self._limits.message_burst
        self._watchdog: asyncio.Task[None] | None = None
        # why the stream ended other than by Twilio's `stop`, the agent's hang-up or the drain
        self.ended_abnormally: str | None = None
        self._agent_closed = False
        self.finished = asyncio.Event()

    # ---- main flow ---------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            start = await self._await_start()
            if start is None:
                return
            verified = self._verified(start)
            if verified is None:
                await self._refuse("stream token missing or invalid", claimed_call_sid=start.call_sid)
                return
            if not self._admit(self):
                self._log.warning("stream refused: at capacity", claimed_call_sid=start.call_sid)
                await self._close_draining(CloseCode.TRY_AGAIN_LATER, "at capacity")
                return
            self._begin(verified)
            try:
                await self._pump()
            except Exception as exc:  # noqa: BLE001 - still finish what was heard
                self._log.exception("reading the stream failed", error=f"{type(exc).__name__}: {exc}")
                self.ended_abnormally = self.ended_abnormally or "reading the stream failed"
            finally:
                if self._watchdog is not None:
                    self._watchdog.cancel()
            await self._finish()
        except Exception as exc:  # noqa: BLE001 - one call's bug must never reach the server or other calls
            self._log.exception("call session failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            # nothing outlives the session: bookkeeping tasks get a moment, then are cancelled
            await self._tasks.settle(grace=1.0)
            self.finished.set()

    async def _await_start(self) -> protocol.Start | None:
        deadline = time.monotonic() + self._limits.start_timeout_seconds
        for _ in range(MAX_MESSAGES_BEFORE_START):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                frame = await asyncio.wait_for(self._ws.recv(), timeout=remaining)
            except TimeoutError:
                break
            except ConnectionClosed:
                self._log.info("stream closed before start")
                return None
            try:
                message = protocol.parse(frame)
            except protocol.MalformedStartError as exc:
                await self._refuse(f"malformed start: {exc}")
                return None
            except protocol.ProtocolError as exc:
                self._bad(str(exc))
                continue
            if isinstance(message, protocol.Start):
                return message
            if isinstance(message, protocol.Media):
                self._bad("media before start")
        else:
            await self._refuse(f"no start among the first {MAX_MESSAGES_BEFORE_START} messages")
            return None
        self._metrics.incr(m.STREAM_TIMEOUTS)
        self._log.warning("no start message in time: closing")
        await self._close_draining(CloseCode.POLICY_VIOLATION, "expected start")
        return None

    def _verified(self, start: protocol.Start) -> protocol.Start | None:
        """The `start` without its token when the token is ours for exactly this call SID and these
        parameters (primary or, during a rotation, secondary auth token), else None. Checked on the
        values as they came off the wire; from here on nothing (agent, logs, storage) sees the token."""
        tokens = self._deps.settings.twilio.auth_tokens()
        if not stream_token.verify(tokens, start.call_sid, start.custom_parameters):
            return None
        params = {
            name: value
            for name, value in start.custom_parameters.items()
            if name != stream_token.TOKEN_PARAMETER
        }
        return dataclasses.replace(start, custom_parameters=params)

    async def _refuse(self, reason: str, claimed_call_sid: object = None) -> None:
        """Close a stream whose `start` cannot be trusted; nothing about it is stored or published.
        Logged with the reason and the call SID it claimed (never the token: it is not in `reason`)."""
        self._metrics.incr(m.STREAMS_REFUSED)
        self._log.warning(
            "stream refused at start",
            reason=reason,
            claimed_call_sid=claimed_call_sid if is_call_sid(claimed_call_sid) else None,
        )
        await self._close_draining(CloseCode.POLICY_VIOLATION, "stream refused")

    async def _close_draining(self, code: int, reason: str) -> None:
        await close_draining(self._ws, code, reason, self._limits.message_burst)

    def _begin(self, start: protocol.Start) -> None:
        self.call_sid = start.call_sid
        self.stream_sid = start.stream_sid
        self._log = CallLog(call_sid=start.call_sid, stream_sid=start.stream_sid)
        self._tasks.rebind(self._log)
        self._speakers = protocol.speaker_roles(start.custom_parameters)
        self._writes = CallWrites(start.call_sid)
        params = start.custom_parameters
        self._deepgram = self._deps.settings.deepgram.for_call(
            language=params.get("language"), model=params.get("model")
        )
        started_at = clock.now_iso()  # stream time 0, which recordings are aligned against
        self._tasks.spawn(self._deps.records.stream_started(start.call_sid, started_at), "cdr-stream-start")
        self._log.info(
            "stream started",
            tracks=list(start.tracks),
            speakers=self._speakers,
            media_encoding=start.encoding,
            sample_rate=start.sample_rate,
            language=self._deepgram.language,
            model=self._deepgram.model,
        )
        if start.encoding != "audio/x-mulaw" or start.sample_rate != 8000:
            self._log.warning("unexpected media format; treating as 8 kHz mu-law")
        if start.custom_parameters.get("mode") == "agent":
            self._start_agent(start)
        for track in start.tracks:
            self._track(track)
        self._cdr_started = self._tasks.spawn(
            self._deps.records.transcript_started(start.call_sid, start.stream_sid), "cdr-started"
        )
        self._watchdog = self._tasks.spawn(self._watch(), "watchdog")

    async def _pump(self) -> None:
        """The hot loop: one frame at a time, handed straight to its track (no per-frame task)."""
        ws = self._ws
        tracks = self._tracks
        metrics = self._metrics
        agent = self.agent
        try:
            async for frame in ws:
                self._budget -= 1
                if self._budget < 0:
                    self._over_rate()
                    return
                try:
                    message = protocol.parse(frame)
                except protocol.ProtocolError as exc:
                    self._bad(str(exc), media='"media"' in frame if isinstance(frame, str) else False)
                    continue
                if type(message) is protocol.Media:
                    self.frames_in += 1
                    metrics.incr(m.FRAMES_IN)
                    transcriber = tracks.get(message.track) or self._track(message.track)
                    await transcriber.feed(message.timestamp_ms, message.payload)
                    if agent is not None and message.track == "inbound":
                        agent.on_media(message.timestamp_ms)
                elif isinstance(message, protocol.Stop):
                    self._log.info("stream stopped by Twilio", frames_in=self.frames_in)
                    return
                elif isinstance(message, protocol.Mark):
                    if agent is not None:
                        agent.on_mark(message.name)
                elif isinstance(message, protocol.Dtmf):
                    self._log.info("dtmf", digit=message.digit)
                    if agent is not None:
                        agent.on_dtmf(message.digit)
                elif isinstance(message, protocol.Start):
                    self._bad("second start ignored")
        except ConnectionClosed:
            pass  # how it closed is read off the connection below, whichever way the loop ended
        reason = self._closed_without_stop()
        if self.ended_abnormally is None:
            self.ended_abnormally = reason
        self._log.info(
            "stream socket closed without stop",
            close_code=ws.close_code,
            ended_abnormally=self.ended_abnormally,
        )

    def _closed_without_stop(self) -> str | None:
        """Why the socket closed without Twilio's `stop`, for the transcript's error; None when the
        end was a normal one of ours: the agent hung up, or the drain window ended (1001)."""
        protocol_state = self._ws.protocol
        sent, received = protocol_state.close_sent, protocol_state.close_rcvd
        ours = sent is not None and not protocol_state.close_rcvd_then_sent
        if ours and sent is not None:
            if sent.code == CloseCode.GOING_AWAY or self._agent_closed:
                return None
            if sent.code == CloseCode.MESSAGE_TOO_BIG:
                self._bad("oversized message refused")
                return (
                    f"stream cut: a message over MAX_MESSAGE_BYTES ({self._limits.max_message_bytes})"
                    " was refused (close code 1009)"
                )
        code = received.code if received is not None else sent.code if sent is not None else 1006
        return f"stream closed without Twilio's stop (close code {code})"

    def _over_rate(self) -> None:
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
        closing = self._close_draining(CloseCode.POLICY_VIOLATION, "message rate limit")
        self._tasks.spawn(closing, "close-stream")

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
            self._budget = min(burst, self._budget + whole)
            if self.frames_in != seen:
                seen, last_media = self.frames_in, now
            elif now - last_media >= idle_timeout:
                self.ended_abnormally = f"stream cut: no media for {idle_timeout:g} s (close code 1008)"
                self._metrics.incr(m.STREAM_TIMEOUTS)
                self._log.warning("no media from Twilio: ending the stream", idle_seconds=idle_timeout)
                # the pump is still reading, so this only sends the close and waits for its reply
                await self._ws.close(CloseCode.POLICY_VIOLATION, "no media")
                return

    async def _finish(self) -> None:
        if self.agent is not None:
            await self.agent.close()  # first: its last words become a segment before the flush
        for transcriber in self._tracks.values():
            transcriber.close_input()
        missing: list[str] = []
        running = [t for t in self._transcription if not t.done()]
        if running:
            _, late = await asyncio.wait(
                running, timeout=self._deps.settings.deepgram.finalize_timeout_seconds
            )
            for task in late:
                task.cancel()
            if late:
                lost = {t.track: round(t.unconfirmed_seconds, 3) for t in self._tracks.values()}
                self._log.warning("deepgram did not finish in time", unconfirmed_seconds=lost)
                await asyncio.wait(late)
                gaps = {track: s for track, s in lost.items() if s > 0}
                if gaps:
                    missing.append(f"audio never transcribed (seconds by track): {gaps}")
        for pending in self._redaction.flush():  # digits held back for the next words: none will come
            self._put(pending)
        if not await self._wait_writes():
            missing.append("segment writes still pending at the flush timeout")
        assert self.call_sid is not None
        assert self._writes is not None
        writes = self._writes
        if writes.failed:
            self._log.error("some segments could not be stored", failed=writes.failed)
            missing.append(f"{writes.failed} segments could not be stored")
        # Nothing lost is the claim "completed" makes; a transcript with holes, or of a stream that
        # ended without Twilio's `stop`, says so instead of passing for whole (the summary still
        # runs on what was stored).
        if self.ended_abnormally is not None:
            missing.insert(0, self.ended_abnormally)
        if self._failure:
            status, error = TranscriptStatus.FAILED, None
        elif missing:
            status, error = TranscriptStatus.INCOMPLETE, "; ".join(missing)
        else:
            status, error = TranscriptStatus.COMPLETED, None
        # let the "in-progress" and "failed" writes land first, so they never overwrite the final status
        await settled(self._cdr_started)
        await settled(self._cdr_failed)
        await self._record_usage()  # before the event: the summaries tier costs the call from it
        if self._redaction.enabled:
            await self._save_redaction_counts()
        await self._deps.records.transcript_finished(self.call_sid, status, writes.written, error)
        await self._deps.records.publish_completed(self.call_sid, writes.written, status)
        self._log.info(
            "transcript finished",
            status=status.value,
            segment_count=writes.written,
            reconnects=sum(t.reconnects for t in self._tracks.values()),
            bad_messages=self.bad_messages,
        )

    def usage(self) -> StreamUsage:
        """What this stream used: every track's audio sent to Deepgram live, the agent's TTS text."""
        assert self.call_sid is not None
        sent = sum(transcriber.sent_bytes for transcriber in self._tracks.values())
        return StreamUsage(
            call_sid=self.call_sid,
            live_audio_seconds=sent / BYTES_PER_SECOND,
            tts_characters=None if self.agent is None else self.agent.speaker.characters_sent,
        )

    async def _record_usage(self) -> None:
        """Store the usage; a failure (after the writer's retries) is logged, never costs the transcript."""
        usage = self.usage()
        try:
            await self._deps.records.record_usage(usage)
        except Exception as exc:  # noqa: BLE001 - an estimate's input, not the transcript
            self._log.error("stream usage not stored", error=f"{type(exc).__name__}: {exc}")

    async def _save_redaction_counts(self) -> None:
        """`redaction_counts` on the CDR (a SET of the totals: a retry writes the same), before the
        transcript is announced finished. Not worth failing the transcript for: logged instead."""
        assert self.call_sid is not None
        counts = self._redaction.counts
        try:
            await self._deps.records.save_redaction_counts(self.call_sid, counts)
        except Exception as exc:  # noqa: BLE001 - the transcript is stored; only the counts are missing
            self._log.error("redaction counts not stored", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        self._log.info("redaction counts stored", redactions=counts)

    async def _wait_writes(self) -> bool:
        """True when every segment write has settled (stored or given up) within the flush window."""
        assert self._writes is not None
        timeout = self._deps.settings.segments.flush_timeout_seconds
        try:
            await asyncio.wait_for(self._writes.wait_idle(), timeout=timeout)
        except TimeoutError:
            self._log.error("segment writes did not finish in time", pending=self._writes.pending)
            return False
        return True

    # ---- tracks and results ------------------------------------------------------------------------

    def _track(self, track: str) -> TrackTranscriber:
        settings = self._deps.settings
        transcriber = TrackTranscriber(
            track=track,
            audio=TrackAudio(settings.audio.replay_buffer_bytes, settings.audio.max_silence_fill_ms),
            options=self._deepgram,
            on_segment=functools.partial(
                self._store,
                speaker=self._speakers.get(track, track),
                source=f"deepgram:{self._deepgram.model}",
            ),
            on_failure=self._on_failure,
            metrics=self._metrics,
            log=self._log,
            on_event=self.agent.on_stt if self.agent is not None and track == "inbound" else None,
        )
        self._tracks[track] = transcriber
        self._transcription.append(self._tasks.spawn(transcriber.run(), f"deepgram-{track}"))
        return transcriber

    def _store(self, segment: Segment, *, speaker: str, source: str) -> None:
        """The one way a segment reaches the call's writes, whoever produced it: a track's final
        result, or what the caller heard of the agent (each bound to its speaker and source)."""
        self._log.debug(
            "final segment",
            track=segment.track,
            speaker=speaker,
            start=segment.start,
            end=segment.end,
            chars=len(segment.text),  # never the text itself: logs carry no transcript
        )
        # redacted before anything is written; a digits-only segment may wait for the next words
        for pending in self._redaction.accept(Pending(segment, speaker, source)):
            self._put(pending)

    def _put(self, pending: Pending) -> None:
        assert self._writes is not None
        waiter = self._deps.store.put(
            self._writes,
            pending.segment,
            speaker=pending.speaker,
            source=pending.source,
            language=self._deepgram.language,
        )
        if waiter is not None:
            self._tasks.spawn(waiter, "segment-put")

    # ---- agent mode ---------------------------------------------------------------------------------

    def _start_agent(self, start: protocol.Start) -> None:
        agent_deps = self._deps.agent
        if agent_deps is None:
            self._log.error("agent mode requested but not configured: transcribing only")
            return
        from streamer.agent.line import CallLine  # agent code loads only when used

        line = CallLine(
            call_sid=start.call_sid,
            account_sid=start.account_sid,
            stream_sid=start.stream_sid,
            send=self._ws.send,
            close_stream=self._close_stream,
            store_segment=functools.partial(
                self._store, speaker="agent", source=f"agent:{agent_deps.settings.model}"
            ),
        )
        try:
            self.agent = agent_deps.conversation(line, start.custom_parameters, self._metrics, self._log)
        except Exception as exc:  # noqa: BLE001 - the call is still transcribed, as any other
            self._log.exception(
                "agent could not start: transcribing only", error=f"{type(exc).__name__}: {exc}"
            )
            return
        self.agent.start()

    async def _close_stream(self) -> None:
        self._agent_closed = True  # a normal end: the agent hung up or transferred
        await self._ws.close(CloseCode.NORMAL_CLOSURE, "call ended by the agent")

    def _on_failure(self, track: str, reason: str) -> None:
        if self._failure is not None:
            return
        self._failure = f"{track}: {reason}"
        self._cdr_failed = self._tasks.spawn(self._record_failure(), "cdr-failed")

    async def _record_failure(self) -> None:
        assert self.call_sid is not None
        assert self._failure is not None
        # "in-progress" first, then "failed": the started write's condition already refuses to
        # replace a terminal status, but ordering them here keeps that true on stores whose
        # conditional writes are not atomic (moto) and saves a refused write on those that are.
        await settled(self._cdr_started)
        await self._deps.records.transcript_failed(self.call_sid, self._failure)

    # ---- helpers -----------------------------------------------------------------------------------

    def _parse(self, frame: str | bytes) -> protocol.Message | None:
        try:
            return protocol.parse(frame)
        except protocol.ProtocolError as exc:
            self._bad(str(exc))
            return None

    def _bad(self, reason: str, media: bool = False) -> None:
        self.bad_messages += 1
        self._metrics.incr(m.BAD_MESSAGES)
        if media:
            self._metrics.incr(m.FRAMES_DROPPED)
        if self.bad_messages <= 5 or self.bad_messages % 1000 == 0:  # don't let a bad sender flood logs
            self._log.warning("bad message skipped", reason=reason, bad_messages=self.bad_messages)
