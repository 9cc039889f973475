"""The live feed's channels and messages (AppSync Events, namespace `calls`): the contract's shapes.

- `/calls/live` carries a `call` message on every status change of any call (the live board);
- `/calls/{callSid}` carries the same `call` messages of that call (and of its `<Dial>`ed legs, which
  name `parentCallSid`), and a `segment` message for each final segment as it is stored (redacted
  as stored).

Each event is a JSON string (AppSync Events' rule). A `call` message names only what its publisher
knows: `callSid` and `at` always, the rest when known (a client merges it into what it shows, and
takes `status` only when it ranks above the one shown, as the table does). The feed is a view, never
the record: a client loads what is stored first and de-duplicates segments by `segmentId` (the
segment's sort key, as `GET /calls/{callSid}` gives it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from shared import clock
from shared.dal.records import Number, Segment

NAMESPACE: Final = "calls"
LIVE_CHANNEL: Final = f"/{NAMESPACE}/live"
MAX_EVENTS_PER_PUBLISH: Final = 5  # AppSync Events takes at most five events per publish


def call_channel(call_sid: str) -> str:
    return f"/{NAMESPACE}/{call_sid}"


def _event(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def segment_event(segment: Segment) -> str:
    """A stored segment as the feed carries it (its text as stored: redacted)."""
    return _event(
        {
            "type": "segment",
            "callSid": segment.call_sid,
            "segmentId": segment.segment_key,
            "track": segment.track,
            "speaker": segment.speaker,
            "start": segment.start,
            "end": segment.end,
            "text": segment.text,
            "source": segment.origin_or_live,
        }
    )


@dataclass(frozen=True, kw_only=True)
class CallUpdate:
    """What changed on a call, as far as its publisher knows (None: not known, left out)."""

    call_sid: str
    parent_call_sid: str | None = None  # a <Dial>ed leg: announced on its parent's channel only
    status: str | None = None
    transcript_status: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    direction: str | None = None
    route: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    duration_seconds: Number | None = None
    summary_ready: bool | None = None
    reconciled: bool | None = None

    def event(self, at: str | None = None) -> str:
        """The `call` message, stamped `at` (now by default)."""
        fields = {
            "parentCallSid": self.parent_call_sid,
            "status": self.status,
            "transcriptStatus": self.transcript_status,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "direction": self.direction,
            "route": self.route,
            "from": self.from_number,
            "to": self.to_number,
            "durationSeconds": self.duration_seconds,
            "summaryReady": self.summary_ready,
            "reconciled": self.reconciled,
        }
        known = {name: value for name, value in fields.items() if value is not None}
        return _event({"type": "call", "callSid": self.call_sid, **known, "at": at or clock.now_iso()})

    def channels(self) -> tuple[str, ...]:
        """Where a call message goes: the board's channel and the call's own; a leg's, to its
        parent's channel only (the parent's page lists its legs; the board shows calls)."""
        if self.parent_call_sid is not None:
            return (call_channel(self.parent_call_sid),)
        return LIVE_CHANNEL, call_channel(self.call_sid)
