"""One Twilio media stream = one `CallSession`, the orchestration of one call's named parts.

The parts: `StreamGuard` (what the stream may cost, and why it ended), the opening (`start` awaited
and its per-call stream token verified before anything else: `streamer.opening`), `CallTracks` (one
Deepgram transcriber per track, the one redacted path to storage), `CallFinisher` (the transcript
status on the CDR, and the call's end) and, in agent mode (`start.customParameters.mode == "agent"`),
the call's `AgentConversation` (streamer/agent), which hears the inbound track, gets Twilio's `mark`
and `dtmf` messages and speaks on this socket. The session reads the stream and hands each message to
its part. A change must keep: nothing set up (no Deepgram, agent, CDR write) before the `start` is
verified and the server admits the call; the transcript finished however the stream ended; every
task the parts start tracked in the session's `TaskSet`, awaited or cancelled before `run()` returns.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from shared import clock
from streamer import metrics as m
from streamer import protocol
from streamer.calllog import CallLog
from streamer.calls import CallRecords
from streamer.config import StreamerSettings
from streamer.finisher import CallFinisher
from streamer.guard import StreamGuard
from streamer.metrics import StreamerMetrics
from streamer.opening import verified_start
from streamer.segments import SegmentStore
from streamer.tasks import TaskSet
from streamer.tracks import CallTracks

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


def _admit_all(session: CallSession) -> bool:
    return True


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
        self._log = CallLog(connection=str(ws.id))
        self._tasks = TaskSet(self._log)
        self._guard = StreamGuard(ws, deps.settings.limits, deps.metrics, self._tasks, self._log)
        self.agent: AgentConversation | None = None
        self.finished = asyncio.Event()

    async def run(self) -> None:
        settings, guard = self._deps.settings, self._guard
        try:
            start = await verified_start(
                self._ws,
                guard,
                settings.twilio.auth_tokens(),
                settings.limits.start_timeout_seconds,
                self._log,
            )
            if start is None:
                return
            if not self._admit(self):
                await guard.at_capacity(start.call_sid)
                return
            tracks, finisher = self._begin(start)
            try:
                await self._pump(tracks)
            except Exception as exc:  # noqa: BLE001 - still finish what was heard
                self._log.exception("reading the stream failed", error=f"{type(exc).__name__}: {exc}")
                guard.end_abnormally("reading the stream failed")
            finally:
                guard.stop_watching()
            await finisher.finish(tracks, guard, self.agent)
        except Exception as exc:  # noqa: BLE001 - one call's bug must never reach the server or other calls
            self._log.exception("call session failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            # nothing outlives the session: bookkeeping tasks get a moment, then are cancelled
            await self._tasks.settle(grace=1.0)
            self.finished.set()

    def _begin(self, start: protocol.Start) -> tuple[CallTracks, CallFinisher]:
        """Set the call's parts up: the stream is a call from here on."""
        deps = self._deps
        self._log = log = CallLog(call_sid=start.call_sid, stream_sid=start.stream_sid)
        self._tasks.rebind(log)
        self._guard.rebind(log)
        params = start.custom_parameters
        speakers = protocol.speaker_roles(params)
        finisher = CallFinisher(
            start.call_sid,
            start.stream_sid,
            records=deps.records,
            settings=deps.settings,
            tasks=self._tasks,
            log=log,
        )
        started_at = clock.now_iso()  # stream time 0, which recordings are aligned against
        finisher.stream_started(started_at)
        tracks = CallTracks(
            start.call_sid,
            speakers=speakers,
            options=deps.settings.deepgram.for_call(
                language=params.get("language"), model=params.get("model")
            ),
            settings=deps.settings,
            store=deps.store,
            metrics=deps.metrics,
            tasks=self._tasks,
            log=log,
            on_failure=finisher.track_failed,
        )
        log.info(
            "stream started",
            tracks=list(start.tracks),
            speakers=speakers,
            media_encoding=start.encoding,
            sample_rate=start.sample_rate,
            language=tracks.options.language,
            model=tracks.options.model,
        )
        if start.encoding != "audio/x-mulaw" or start.sample_rate != 8000:
            log.warning("unexpected media format; treating as 8 kHz mu-law")
        if params.get("mode") == "agent":
            self.agent = self._start_agent(start, tracks)
        if self.agent is not None:
            tracks.inbound_listener = self.agent.on_stt
        for track in start.tracks:
            tracks.open(track)
        finisher.transcript_started()
        self._guard.start_watching()
        return tracks, finisher

    async def _pump(self, tracks: CallTracks) -> None:
        """The hot loop: one frame at a time, handed straight to its track (no per-frame task)."""
        ws = self._ws
        guard = self._guard
        by_track, open_track = tracks.by_track, tracks.open
        metrics = self._deps.metrics
        agent = self.agent
        try:
            async for frame in ws:
                guard.budget -= 1
                if guard.budget < 0:
                    guard.over_rate()
                    return
                try:
                    message = protocol.parse(frame)
                except protocol.ProtocolError as exc:
                    guard.bad(str(exc), media='"media"' in frame if isinstance(frame, str) else False)
                    continue
                if type(message) is protocol.Media:
                    guard.frames_in += 1
                    metrics.incr(m.FRAMES_IN)
                    transcriber = by_track.get(message.track) or open_track(message.track)
                    await transcriber.feed(message.timestamp_ms, message.payload)
                    if agent is not None and message.track == "inbound":
                        agent.on_media(message.timestamp_ms)
                elif isinstance(message, protocol.Stop):
                    self._log.info("stream stopped by Twilio", frames_in=guard.frames_in)
                    return
                elif isinstance(message, protocol.Mark):
                    if agent is not None:
                        agent.on_mark(message.name)
                elif isinstance(message, protocol.Dtmf):
                    self._log.info("dtmf", digit=message.digit)
                    if agent is not None:
                        agent.on_dtmf(message.digit)
                elif isinstance(message, protocol.Start):
                    guard.bad("second start ignored")
        except ConnectionClosed:
            pass  # how it closed is read off the connection below, whichever way the loop ended
        guard.closed_without_stop()

    def _start_agent(self, start: protocol.Start, tracks: CallTracks) -> AgentConversation | None:
        agent_deps = self._deps.agent
        if agent_deps is None:
            self._log.error("agent mode requested but not configured: transcribing only")
            return None
        from streamer.agent.call_line import CallLine  # agent code loads only when used

        line = CallLine(
            call_sid=start.call_sid,
            account_sid=start.account_sid,
            stream_sid=start.stream_sid,
            send=self._ws.send,
            close_stream=self._guard.end_by_agent,
            store_segment=functools.partial(
                tracks.store, speaker="agent", source=f"agent:{agent_deps.settings.model}"
            ),
        )
        try:
            agent = agent_deps.conversation(line, start.custom_parameters, self._deps.metrics, self._log)
        except Exception as exc:  # noqa: BLE001 - the call is still transcribed, as any other
            self._log.exception(
                "agent could not start: transcribing only", error=f"{type(exc).__name__}: {exc}"
            )
            return None
        agent.start()
        return agent
