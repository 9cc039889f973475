"""A call's transcript status on the call record (CDR), from the stream's claim to its end.

The claim (`streamer.ownership`) wrote "in-progress"; `CallFinisher` writes "failed" at a track's
first failure, and at the end, in order: the agent's last words, CloseStream on every track and a
bounded wait for the last finals, the digits redaction held back, a bounded wait for every segment
write; then the heartbeat stopped, the usage and redaction counts, and the final status (`completed`
only when nothing was lost and the stream ended normally; `incomplete` saying what was lost;
`failed`) with the segment count. The outbox announces it from the table's stream, not from here.
Must keep: every write is the owning stream's (`CallOwnership`); earlier status writes, the usage
and the redaction counts land before the final status (the summaries tier costs the call from the
record the event announces). docs/streamer.md ("How a transcript ends").
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from shared.dal.records import StreamUsage, TranscriptEnd
from shared.status import TranscriptStatus
from streamer.calllog import CallLog
from streamer.config import StreamerSettings
from streamer.guard import StreamGuard
from streamer.ownership import CallOwnership
from streamer.tasks import TaskSet, settled
from streamer.tracks import CallTracks

if TYPE_CHECKING:
    from streamer.agent.conversation import AgentConversation


class CallFinisher:
    def __init__(
        self,
        owned: CallOwnership,
        *,
        settings: StreamerSettings,
        tasks: TaskSet,
        log: CallLog,
    ) -> None:
        self._owned = owned
        self._call_sid = owned.call_sid
        self._settings = settings
        self._tasks = tasks
        self._log = log
        self.failure: str | None = None
        self._failed: asyncio.Task[None] | None = None  # "failed" lands before the final status

    def rebind(self, log: CallLog) -> None:
        """Log with the call's keys once the call is set up."""
        self._log = log

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
        if writes.refused:
            self._log.error(
                "segments refused: another stream's were stored at their keys", refused=writes.refused
            )
            missing.append(f"{writes.refused} segments refused: another stream's were stored at their keys")
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
        # the stream is over: no more heartbeats, and the "failed" write lands before the final status
        await self._owned.stop_heartbeat()
        await settled(self._failed)
        await self._record_usage(usage(self._call_sid, tracks, agent))  # before the final status
        if tracks.redaction.enabled:
            await self._save_redaction_counts(tracks.redaction.counts)
        await self._end(status, writes.written, error)
        self._log.info(
            "transcript finished",
            status=status.value,
            segment_count=writes.written,
            reconnects=tracks.reconnects,
            bad_messages=guard.bad_messages,
        )

    async def end_unheard(self, reason: str) -> None:
        """End the transcript of a claimed stream that is closed before anything was heard (the task
        at its hard cap): `incomplete`, nothing stored, announced so the call is summarised."""
        await self._owned.stop_heartbeat()
        await self._end(TranscriptStatus.INCOMPLETE, 0, reason)

    async def _end(self, status: TranscriptStatus, segment_count: int, error: str | None) -> None:
        """The final status: the outbox announces it as `Transcript Completed` when this write is what
        ended the transcript (the transcript had no end before it)."""
        ended = await self._owned.finished(status, segment_count, error)
        if ended is TranscriptEnd.AFTER_SWEEP:
            # The sweeper took this stream for dead (no heartbeat within its bound) and ended the
            # transcript it found, which the outbox announced; the summaries summarise once per
            # transcript, so that announcement stands (the outbox announces a transcript's first end
            # only): the record now says how the stream really ended (docs/streamer.md).
            self._log.warning(
                "the sweeper had ended this transcript: not announced again", status=status.value
            )
        elif ended is TranscriptEnd.REFUSED:
            self._log.error("the transcript's end was refused: this stream does not own its call")

    async def _record_failure(self, failure: str) -> None:
        if not await self._owned.failed(failure):
            self._log.error("the transcript's failure was refused: this stream does not own its call")

    async def _record_usage(self, stream_usage: StreamUsage) -> None:
        """Store the usage; a failure (after the writer's retries) is logged, never costs the transcript."""
        try:
            await self._owned.usage(stream_usage)
        except Exception as exc:  # noqa: BLE001 - an estimate's input, not the transcript
            self._log.error("stream usage not stored", error=f"{type(exc).__name__}: {exc}")

    async def _save_redaction_counts(self, counts: dict[str, int]) -> None:
        """`redaction_counts` on the CDR (a SET of the totals: a retry writes the same), before the
        transcript is announced finished. Not worth failing the transcript for: logged instead."""
        try:
            await self._owned.redaction_counts(counts)
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
