"""One stream per call: a stream's claim on its call record, its heartbeat, and its writes as owner.

`CallOwnership` is one stream's hold on one call. The claim is the first thing done with a verified
`start` (before Deepgram, the agent, a segment or an event): one conditional write that only one
stream, on any task, ever wins; a `start` for a call already claimed (running or ended) is refused.
Then every write of the call record this stream makes is conditional on its owner id (a random id
per connection: nothing in the `start` names it), and runs one at a time, in the order made, so the
heartbeat never races the transcript's ending on a store whose writes are not atomic. A change must
keep: no write of the call's before the claim answered; every write after it through this object.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import TypeVar

from shared.dal.records import StreamClaim, StreamUsage, TranscriptEnd
from shared.status import TranscriptStatus
from streamer.calllog import CallLog
from streamer.calls import CallRecords
from streamer.config import StreamSettings
from streamer.tasks import TaskSet

T = TypeVar("T")


class ClaimAnswer(Enum):
    CLAIMED = "claimed"  # this stream owns the call
    TAKEN = "taken"  # another stream claimed it (running or ended), or its transcript has ended
    UNREACHABLE = "unreachable"  # the call record could not be written within the claim's bound


def new_owner() -> str:
    """A stream's owner id: random, per connection (never the stream SID or anything a `start` holds)."""
    return secrets.token_hex(16)


class CallOwnership:
    def __init__(
        self,
        call_sid: str,
        owner: str,
        *,
        records: CallRecords,
        settings: StreamSettings,
        log: CallLog,
    ) -> None:
        self.call_sid = call_sid
        self.owner = owner
        self._records = records
        self._settings = settings
        self._log = log
        self._writes = asyncio.Lock()  # one write of this call's record at a time, in order
        self._stop_beating = asyncio.Event()
        self._heartbeat: asyncio.Task[None] | None = None

    def rebind(self, log: CallLog) -> None:
        self._log = log

    async def claim(self, stream_sid: str, started_at: str) -> ClaimAnswer:
        """Take the call for this stream (bounded by STREAM_CLAIM_TIMEOUT_SECONDS, retries included)."""
        claim = StreamClaim(
            call_sid=self.call_sid, owner=self.owner, stream_sid=stream_sid, started_at=started_at
        )
        within = self._settings.claim_timeout_seconds
        try:
            async with asyncio.timeout(within):
                claimed = await self._write(self._records.claim_stream, claim)
        except Exception as exc:  # noqa: BLE001 - the table failed (after retries) or did not answer in time
            reason = "no answer in time" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            self._log.error("the call record could not be claimed", error=reason[:300], within_seconds=within)
            return ClaimAnswer.UNREACHABLE
        return ClaimAnswer.CLAIMED if claimed else ClaimAnswer.TAKEN

    # ---- the heartbeat ---------------------------------------------------------------------------

    def start_heartbeat(self, tasks: TaskSet) -> None:
        """Stamp `stream_heartbeat_at` every STREAM_HEARTBEAT_SECONDS until `stop_heartbeat`."""
        self._heartbeat = tasks.spawn(self._beat(), "cdr-heartbeat")

    async def stop_heartbeat(self) -> None:
        """No more heartbeats; returns once a write in flight has landed (never cut mid-write)."""
        self._stop_beating.set()
        if self._heartbeat is not None:
            await asyncio.wait({self._heartbeat})

    async def _beat(self) -> None:
        interval = self._settings.heartbeat_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_beating.wait(), timeout=interval)
            if self._stop_beating.is_set():
                return
            try:
                if not await self._write(self._records.heartbeat, self.call_sid, self.owner):
                    self._log.error("heartbeat refused: this stream no longer owns its call")
                    return
            except Exception as exc:  # noqa: BLE001 - the next beat tries again; the sweeper waits longer
                self._log.warning("heartbeat not stored", error=f"{type(exc).__name__}: {exc}"[:300])

    # ---- the owner's writes ------------------------------------------------------------------------

    async def failed(self, error: str) -> bool:
        return await self._write(self._records.transcript_failed, self.call_sid, self.owner, error)

    async def finished(
        self, status: TranscriptStatus, segment_count: int, error: str | None
    ) -> TranscriptEnd:
        return await self._write(
            self._records.transcript_finished, self.call_sid, self.owner, status, segment_count, error
        )

    async def usage(self, usage: StreamUsage) -> bool:
        return await self._write(self._records.record_usage, usage, self.owner)

    async def redaction_counts(self, counts: Mapping[str, int]) -> bool:
        return await self._write(self._records.save_redaction_counts, self.call_sid, self.owner, counts)

    async def _write(self, write: Callable[..., Awaitable[T]], *args: object) -> T:
        async with self._writes:
            return await write(*args)
