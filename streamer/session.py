"""One Twilio media stream = one `CallSession`, which owns everything about that call.

In agent mode (`start.customParameters.mode == "agent"`) the same session also owns the call's
`AgentConversation` (streamer/agent): it hears the inbound track's Deepgram events, gets Twilio's
`mark` and `dtmf` messages, speaks on this socket and stores its words through this session's writes;
the transcript is finished exactly as for any other call.

Lifecycle: read `connected`/`start` (bounded wait), open one `TrackTranscriber` per track, then feed
media until `stop` or the socket closes (either way the transcript is finished the same way):
CloseStream on each track, a bounded wait for the last finals, flush the call's segment writes, set
the transcript status and count on the CDR, publish `Transcript Completed` once. Every task the
session starts is tracked in its `TaskSet` and awaited or cancelled before `run()` returns; the ones
it must wait for by identity (each track's transcription, the two early CDR writes) are also held as
typed handles. One module (a little over 300 lines) because it is the one owner of a call's state;
what it delegates (tracks, writes, the CDR, the agent) lives in the modules it imports.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from shared import clock
from shared.status import TranscriptStatus
from streamer import metrics as m
from streamer import protocol
from streamer.audio import TrackAudio
from streamer.calllog import CallLog
from streamer.calls import CallRecords
from streamer.config import StreamerSettings
from streamer.deepgram import Segment, TrackTranscriber
from streamer.metrics import StreamerMetrics
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


class CallSession:
    def __init__(self, ws: ServerConnection, deps: SessionDeps) -> None:
        self._ws = ws
        self._deps = deps
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
        self._failure: str | None = None
        self.agent: AgentConversation | None = None
        self.bad_messages = 0
        self.frames_in = 0
        self.finished = asyncio.Event()

    # ---- main flow ---------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            start = await self._await_start()
            if start is None:
                return
            self._begin(start)
            try:
                await self._pump()
            except Exception as exc:  # noqa: BLE001 - still finish what was heard
                self._log.exception("reading the stream failed", error=f"{type(exc).__name__}: {exc}")
            await self._finish()
        except Exception as exc:  # noqa: BLE001 - one call's bug must never reach the server or other calls
            self._log.exception("call session failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            # nothing outlives the session: bookkeeping tasks get a moment, then are cancelled
            await self._tasks.settle(grace=1.0)
            self.finished.set()

    async def _await_start(self) -> protocol.Start | None:
        deadline = time.monotonic() + self._deps.settings.limits.start_timeout_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._log.warning("no start message in time: closing")
                await self._ws.close(1008, "expected start")
                return None
            try:
                frame = await asyncio.wait_for(self._ws.recv(), timeout=remaining)
            except TimeoutError:
                continue
            except ConnectionClosed:
                self._log.info("stream closed before start")
                return None
            message = self._parse(frame)
            if isinstance(message, protocol.Start):
                return message
            if isinstance(message, protocol.Media):
                self._bad("media before start")

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

    async def _pump(self) -> None:
        """The hot loop: one frame at a time, handed straight to its track (no per-frame task)."""
        ws = self._ws
        tracks = self._tracks
        metrics = self._metrics
        agent = self.agent
        try:
            async for frame in ws:
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
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:
                self._bad("oversized message refused")
            self._log.info(
                "stream socket closed without stop", close_code=exc.rcvd.code if exc.rcvd else None
            )
            return
        self._log.info("stream socket closed without stop", close_code=ws.close_code)

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
        if not await self._wait_writes():
            missing.append("segment writes still pending at the flush timeout")
        assert self.call_sid is not None
        assert self._writes is not None
        writes = self._writes
        if writes.failed:
            self._log.error("some segments could not be stored", failed=writes.failed)
            missing.append(f"{writes.failed} segments could not be stored")
        # Nothing lost is the claim "completed" makes; a transcript with holes says so instead of
        # passing for whole (the summary still runs on what was stored).
        if self._failure:
            status, error = TranscriptStatus.FAILED, None
        elif missing:
            status, error = TranscriptStatus.INCOMPLETE, "; ".join(missing)
        else:
            status, error = TranscriptStatus.COMPLETED, None
        # let the "in-progress" and "failed" writes land first, so they never overwrite the final status
        await settled(self._cdr_started)
        await settled(self._cdr_failed)
        await self._deps.records.transcript_finished(self.call_sid, status, writes.written, error)
        await self._deps.records.publish_completed(self.call_sid, writes.written, status)
        self._log.info(
            "transcript finished",
            status=status.value,
            segment_count=writes.written,
            reconnects=sum(t.reconnects for t in self._tracks.values()),
            bad_messages=self.bad_messages,
        )

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
        assert self._writes is not None
        self._log.debug(
            "final segment", track=segment.track, speaker=speaker, start=segment.start, end=segment.end
        )
        waiter = self._deps.store.put(
            self._writes,
            segment,
            speaker=speaker,
            source=source,
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
        await self._ws.close(1000, "call ended by the agent")

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
