"""One Twilio media stream = one `CallSession`, the orchestration of one call's named parts.

The parts: `StreamGuard` (what the stream may cost, why it ended), the opening (`start` awaited and
its stream token verified: `streamer.opening`), `CallOwnership` (the stream's claim on its call
record, its heartbeat, every later write as owner), `CallTracks` (a Deepgram transcriber per track,
the one redacted path to storage), `CallFinisher` (the transcript status, the call's end) and, in
agent mode, the `AgentConversation`. The session reads the stream and hands each message to its part.
Must keep: nothing set up (Deepgram, agent, segment, event) before the `start` is verified, the call
claimed for this stream and the server admits it (until the claim answers the stream is a pending
connection, never a call, and what it sends is kept for its tracks); the transcript finished however
a claimed stream ended; every task the parts start tracked in the `TaskSet`, awaited or cancelled
before `run()` returns.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.typing import Data

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
from streamer.ownership import CallOwnership, ClaimAnswer, new_owner
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
        """`admit` is asked once the `start` is verified and the call claimed for this stream, before
        anything is set up: True makes the stream a call (the server counts it from then on); False
        refuses it (1013, at capacity)."""
        self._ws = ws
        self._deps = deps
        self._admit = admit
        self._log = CallLog(connection=str(ws.id))
        self._tasks = TaskSet(self._log)
        self._guard = StreamGuard(ws, deps.settings.limits, deps.metrics, self._tasks, self._log)
        self._owner = new_owner()  # this connection's id on the call record, if it claims the call
        self.agent: AgentConversation | None = None
        self.finished = asyncio.Event()

    async def run(self) -> None:
        guard = self._guard
        try:
            opened = await self._open()
            if opened is None:
                return
            start, owned, finisher, early = opened
            tracks = self._begin(start, owned, finisher, kept=len(early))
            try:
                await self._pump(tracks, early)
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

    async def _open(self) -> tuple[protocol.Start, CallOwnership, CallFinisher, list[Data]] | None:
        """A verified `start`, its call claimed for this stream and admitted as a call (with what the
        stream sent meanwhile); None once the stream was refused and closed."""
        settings, guard, records = self._deps.settings, self._guard, self._deps.records
        start = await verified_start(
            self._ws, guard, settings.twilio.auth_tokens(), settings.limits.start_timeout_seconds, self._log
        )
        if start is None:
            return None
        started_at = clock.now_iso()  # stream time 0, which recordings are aligned against
        owned = CallOwnership(
            start.call_sid, self._owner, records=records, settings=settings.stream, log=self._log
        )
        answer, early = await self._claim(owned, start.stream_sid, started_at)
        if answer is ClaimAnswer.TAKEN:
            await guard.refuse("the call's stream was claimed already (running or ended)", start.call_sid)
            return None
        if answer is ClaimAnswer.UNREACHABLE:
            await guard.claim_failed(start.call_sid)
            return None
        finisher = CallFinisher(owned, settings=settings, tasks=self._tasks, log=self._log)
        if not self._admit(self):
            await guard.at_capacity(start.call_sid)
            await finisher.end_unheard(
                "stream refused: the task was at its hard cap of calls (close code 1013)"
            )
            return None
        return start, owned, finisher, early

    async def _claim(
        self, owned: CallOwnership, stream_sid: str, started_at: str
    ) -> tuple[ClaimAnswer, list[Data]]:
        """Claim the call for this stream, reading (and keeping, for its tracks) what the stream sends
        meanwhile: at most MESSAGE_BURST messages, then the socket waits (TCP holds the rest)."""
        ws, limit = self._ws, self._deps.settings.limits.message_burst
        claim = self._tasks.spawn(owned.claim(stream_sid, started_at), "cdr-claim")
        early: list[Data] = []
        while not claim.done() and len(early) < limit:
            reading = asyncio.ensure_future(ws.recv())
            await asyncio.wait((claim, reading), return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()  # websockets' recv is cancellation-safe: the message stays queued
                await asyncio.wait((reading,))  # unwound before the read loop calls recv again
            if reading.cancelled() or reading.exception() is not None:
                break  # the claim answered, or the socket closed (the read loop sees it too)
            early.append(reading.result())
        return await claim, early

    def _begin(
        self, start: protocol.Start, owned: CallOwnership, finisher: CallFinisher, *, kept: int
    ) -> CallTracks:
        """Set the call's parts up: the stream is a call from here on."""
        deps = self._deps
        self._log = log = CallLog(call_sid=start.call_sid, stream_sid=start.stream_sid)
        self._tasks.rebind(log)
        self._guard.rebind(log)
        owned.rebind(log)
        finisher.rebind(log)
        params = start.custom_parameters
        speakers = protocol.speaker_roles(params)
        tracks = CallTracks(
            start.call_sid,
            owner=owned.owner,
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
            messages_kept_while_claiming=kept,
        )
        if start.encoding != "audio/x-mulaw" or start.sample_rate != 8000:
            log.warning("unexpected media format; treating as 8 kHz mu-law")
        if params.get("mode") == "agent":
            self.agent = self._start_agent(start, tracks)
        if self.agent is not None:
            tracks.inbound_listener = self.agent.on_stt
        for track in start.tracks:
            tracks.open(track)
        owned.start_heartbeat(self._tasks)
        self._guard.start_watching()
        return tracks

    async def _pump(self, tracks: CallTracks, early: list[Data]) -> None:
        """What the stream sent while its claim was made, then the socket, frame by frame."""
        if early and await self._read(tracks, _replayed(early)):
            return
        try:
            if await self._read(tracks, self._ws):
                return
        except ConnectionClosed:
            pass  # how it closed is read off the connection below, whichever way the loop ended
        self._guard.closed_without_stop()

    async def _read(self, tracks: CallTracks, frames: AsyncIterator[Data] | ServerConnection) -> bool:
        """The hot loop: one frame at a time, handed straight to its track (no per-frame task). True
        once the stream ended (Twilio's `stop`, or the message rate cut it); False when `frames` ran
        out (the socket closed: ConnectionClosed otherwise)."""
        guard = self._guard
        by_track, open_track = tracks.by_track, tracks.open
        metrics = self._deps.metrics
        agent = self.agent
        async for frame in frames:
            guard.budget -= 1
            if guard.budget < 0:
                guard.over_rate()
                return True
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
                return True
            elif isinstance(message, protocol.Mark):
                if agent is not None:
                    agent.on_mark(message.name)
            elif isinstance(message, protocol.Dtmf):
                self._log.info("dtmf", digit=message.digit)
                if agent is not None:
                    agent.on_dtmf(message.digit)
            elif isinstance(message, protocol.Start):
                guard.bad("second start ignored")
        return False

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


async def _replayed(frames: Iterable[Data]) -> AsyncIterator[Data]:
    for frame in frames:
        yield frame
