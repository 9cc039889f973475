"""A call's tracks: one `TrackTranscriber` per track, and the one path a segment takes to storage.

Every segment, a track's final result or what the caller heard of the agent, goes through `store`:
bound to its speaker and source, redacted (`CallRedaction`: a digits-only segment may wait for the
next words), then handed to the segment writers with the call's `CallWrites`. A change must keep that
single path (nothing reaches the writers unredacted) and every transcription task tracked, so the
call's end can wait for it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from streamer.audio import BYTES_PER_SECOND, TrackAudio
from streamer.calllog import CallLog
from streamer.config import DeepgramSettings, StreamerSettings
from streamer.deepgram import Segment, TrackTranscriber
from streamer.deepgram_messages import ListenEvent
from streamer.metrics import StreamerMetrics
from streamer.redaction import CallRedaction, Pending
from streamer.segments import CallWrites, SegmentStore
from streamer.tasks import TaskSet


class CallTracks:
    """`by_track` is read by the session's read loop on every frame; `open` adds a track."""

    def __init__(
        self,
        call_sid: str,
        *,
        owner: str,
        speakers: dict[str, str],
        options: DeepgramSettings,
        settings: StreamerSettings,
        store: SegmentStore,
        metrics: StreamerMetrics,
        tasks: TaskSet,
        log: CallLog,
        on_failure: Callable[[str, str], None],
    ) -> None:
        self.options = options  # this call's: its route may pick language and model
        self.writes = CallWrites(call_sid, owner)  # written as the stream that owns the call
        self.redaction = CallRedaction(settings.redaction.redactor())
        self.by_track: dict[str, TrackTranscriber] = {}
        # the inbound track's every Deepgram event, when an agent listens (its ears)
        self.inbound_listener: Callable[[ListenEvent], None] | None = None
        self._speakers = speakers
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._tasks = tasks
        self._log = log
        self._on_failure = on_failure
        self._transcription: list[asyncio.Task[None]] = []  # each track's TrackTranscriber.run()

    def open(self, track: str) -> TrackTranscriber:
        audio = self._settings.audio
        transcriber = TrackTranscriber(
            track=track,
            audio=TrackAudio(audio.replay_buffer_bytes, audio.max_silence_fill_ms),
            options=self.options,
            on_segment=functools.partial(
                self.store,
                speaker=self._speakers.get(track, track),
                source=f"deepgram:{self.options.model}",
            ),
            on_failure=self._on_failure,
            metrics=self._metrics,
            log=self._log,
            on_event=self.inbound_listener if track == "inbound" else None,
        )
        self.by_track[track] = transcriber
        self._transcription.append(self._tasks.spawn(transcriber.run(), f"deepgram-{track}"))
        return transcriber

    def store(self, segment: Segment, *, speaker: str, source: str) -> None:
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
        for pending in self.redaction.accept(Pending(segment, speaker, source)):
            self._put(pending)

    def close_input(self) -> None:
        """No more audio: CloseStream on every track (each then waits for its last finals)."""
        for transcriber in self.by_track.values():
            transcriber.close_input()

    async def wait_transcribed(self, within: float) -> str | None:
        """Wait (up to `within` seconds) for every track's last finals; what was never transcribed, if any."""
        running = [task for task in self._transcription if not task.done()]
        if not running:
            return None
        _, late = await asyncio.wait(running, timeout=within)
        for task in late:
            task.cancel()
        if not late:
            return None
        lost = {t.track: round(t.unconfirmed_seconds, 3) for t in self.by_track.values()}
        self._log.warning("deepgram did not finish in time", unconfirmed_seconds=lost)
        await asyncio.wait(late)
        gaps = {track: seconds for track, seconds in lost.items() if seconds > 0}
        return f"audio never transcribed (seconds by track): {gaps}" if gaps else None

    def flush_redaction(self) -> None:
        """Write the digits redaction held back for the next words: none will come."""
        for pending in self.redaction.flush():
            self._put(pending)

    async def wait_writes(self, within: float) -> bool:
        """True when every segment write has settled (stored or given up) in `within` seconds."""
        try:
            await asyncio.wait_for(self.writes.wait_idle(), timeout=within)
        except TimeoutError:
            self._log.error("segment writes did not finish in time", pending=self.writes.pending)
            return False
        return True

    @property
    def live_audio_seconds(self) -> float:
        """Every track's audio sent to Deepgram live (a replay after a reconnect counts again)."""
        return sum(t.sent_bytes for t in self.by_track.values()) / BYTES_PER_SECOND

    @property
    def reconnects(self) -> int:
        return sum(t.reconnects for t in self.by_track.values())

    def _put(self, pending: Pending) -> None:
        waiter = self._store.put(
            self.writes,
            pending.segment,
            speaker=pending.speaker,
            source=pending.source,
            language=self.options.language,
        )
        if waiter is not None:
            self._tasks.spawn(waiter, "segment-put")
