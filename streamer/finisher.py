"""A call's transcript status on the call record (CDR), from the stream's start to its end.

`CallFinisher` writes the stream's start and "in-progress" when the call begins, "failed" at a track's
first failure, and at the end, in this order: the agent's last words, CloseStream on every track and a
bounded wait for the last finals, the digits redaction held back, a bounded wait for every segment
write; then the final status (`completed` only when nothing was lost and the stream ended normally;
`incomplete` saying what was lost; `failed` after a failure), the stream's usage and redaction
counts, the status and segment count, and `Transcript Completed` once. A change must keep the earlier
status writes landing before the final one, and the usage before the event (the summaries tier costs
the call from it).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from shared.dal.records import StreamUsage
from shared.status import TranscriptStatus
from streamer.calllog import CallLog
from streamer.calls import CallRecords
from streamer.config import StreamerSettings
from streamer.guard import StreamGuard
from streamer.tasks import TaskSet, settled
from streamer.tracks import CallTracks

if TYPE_CHECKING:
    from streamer.agent.conversation import AgentConversation


class CallFinisher:
    def __init__(
        self,
        call_sid: str,
        stream_sid: str,
        *,
        records: CallRecords,
        settings: StreamerSettings,
        tasks: TaskSet,
        log: CallLog,
    ) -> None:
        self._call_sid = call_sid
        self._stream_sid = stream_sid
        self._records = records
        self._settings = settings
        self._tasks = tasks
        self._log = log
        self.failure: str | None = None
        # waited for by identity before the final status
        self._started: asyncio.Task[None] | None = None  # "in-progress" lands before any later status
        self._failed: asyncio.Task[None] | None = None  # "failed" lands before the final status

    def stream_started(self, started_at: str) -> None:
        """Stream time 0 on the CDR (what recordings are aligned against)."""
        self._tasks.spawn(self._records.stream_started(self._call_sid, started_at), "cdr-stream-start")

    def transcript_started(self) -> None:
        started = self._records.transcript_started(self._call_sid, self._stream_sid)
        self._started = self._tasks.spawn(started, "cdr-started")

    def track_failed(self, track: str, reason: str) -> None:
        """A track's transcription gave up: the transcript is `failed` (the first failure is kept)."""
        if self.failure is not None:
            return
        self.failure = f"{track}: {reason}"
        self._failed = self._tasks.spawn(self._record_failure(self.failure), "cdr-failed")

    async def finish(self, tracks: CallTracks, guard: StreamGuard, agent: AgentConversation | None) -> None:
        if agent is not None:
            await agent.close()  # first: its last words become a segment before the flush
        tracks.close_input()
        missing: list[str] = []
        deepgram = self._settings.deepgram
        if (gaps := await tracks.wait_transcribed(deepgram.finalize_timeout_seconds)) is not None:
            missing.append(gaps)
        tracks.flush_redaction()
        if not await tracks.wait_writes(self._settings.segments.flush_timeout_seconds):
            missing.append("segment writes still pending at the flush timeout")
        writes = tracks.writes
        if writes.failed:
            self._log.error("some segments could not be stored", failed=writes.failed)
            missing.append(f"{writes.failed} segments could not be stored")
        # Nothing lost is the claim "completed" makes; a transcript with holes, or of a stream that
        # ended without Twilio's `stop`, says so instead of passing for whole (the summary still
        # runs on what was stored).
        if guard.ended_abnormally is not None:
            missing.insert(0, guard.ended_abnormally)
        if self.failure:
            status, error = TranscriptStatus.FAILED, None
        elif missing:
            status, error = TranscriptStatus.INCOMPLETE, "; ".join(missing)
        else:
            status, error = TranscriptStatus.COMPLETED, None
        # let the "in-progress" and "failed" writes land first, so they never overwrite the final status
        await settled(self._started)
        await settled(self._failed)
        await self._record_usage(usage(self._call_sid, tracks, agent))  # before the event
        if tracks.redaction.enabled:
            await self._save_redaction_counts(tracks.redaction.counts)
        await self._records.transcript_finished(self._call_sid, status, writes.written, error)
        await self._records.publish_completed(self._call_sid, writes.written, status)
        self._log.info(
            "transcript finished",
            status=status.value,
            segment_count=writes.written,
            reconnects=tracks.reconnects,
            bad_messages=guard.bad_messages,
        )

    async def _record_failure(self, failure: str) -> None:
        # "in-progress" first, then "failed": the started write's condition already refuses to
        # replace a terminal status, but ordering them here keeps that true on stores whose
        # conditional writes are not atomic (moto) and saves a refused write on those that are.
        await settled(self._started)
        await self._records.transcript_failed(self._call_sid, failure)

    async def _record_usage(self, stream_usage: StreamUsage) -> None:
        """Store the usage; a failure (after the writer's retries) is logged, never costs the transcript."""
        try:
            await self._records.record_usage(stream_usage)
        except Exception as exc:  # noqa: BLE001 - an estimate's input, not the transcript
            self._log.error("stream usage not stored", error=f"{type(exc).__name__}: {exc}")

    async def _save_redaction_counts(self, counts: dict[str, int]) -> None:
        """`redaction_counts` on the CDR (a SET of the totals: a retry writes the same), before the
        transcript is announced finished. Not worth failing the transcript for: logged instead."""
        try:
            await self._records.save_redaction_counts(self._call_sid, counts)
        except Exception as exc:  # noqa: BLE001 - the transcript is stored; only the counts are missing
            self._log.error("redaction counts not stored", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        self._log.info("redaction counts stored", redactions=counts)


def usage(call_sid: str, tracks: CallTracks, agent: AgentConversation | None) -> StreamUsage:
    """What a stream used: every track's audio sent to Deepgram live, the agent's TTS text."""
    return StreamUsage(
        call_sid=call_sid,
        live_audio_seconds=tracks.live_audio_seconds,
        tts_characters=None if agent is None else agent.speaker.characters_sent,
    )
