"""The webhooks tier's writes to the call record (CDR), and the `GET /calls/{callSid}` view.

Twilio delivers voice, status and recording callbacks as separate HTTP requests that can arrive in
any order, twice, or for a call we never saw (a child leg, a lost voice webhook). So every write
here is a single conditional UpdateItem that is safe to repeat and to reorder:

- the voice webhook upserts the parties; first-seen times use `if_not_exists`;
- a status callback only moves `status_rank` up (shared/status.py); the terminal transition happens
  once, so `ended_at`/`duration_seconds` are written once, by the first terminal callback to land;
- a recording callback never lets an `in-progress` report replace a `completed` one;
- `Call Completed` is published exactly once: a conditional write claims `call_completed_event_at`
  (only on a terminal call, only when unclaimed), then we publish, and release the claim if the bus
  refuses so that Twilio's retry (or a duplicate callback) publishes it instead.

The store is a port (`CallStore`): `DynamoCallStore` is the real adapter over the pynamodb model,
and the unit tests use an in-memory fake with the same condition semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, Protocol

from pynamodb.exceptions import UpdateError

from shared import clock
from shared.errors import CallscribeError
from shared.events import CallCompleted, EventPublisher, PublishError
from shared.models import CallRecord, TranscriptSegment, calls_model
from shared.status import TERMINAL_RANK, CallStatus

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
_INVALID_DOCUMENT_PATH = "document path provided in the update expression is invalid"


class StoreError(CallscribeError):
    """The calls table refused or failed a write for a reason other than our own condition."""


@dataclass(frozen=True)
class CallParties:
    """Who and where: what Twilio tells us about the two ends of a call (all optional)."""

    account_sid: str | None = None
    parent_call_sid: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    forwarded_from: str | None = None
    caller_name: str | None = None
    from_city: str | None = None
    from_state: str | None = None
    from_zip: str | None = None
    from_country: str | None = None
    to_city: str | None = None
    to_state: str | None = None
    to_zip: str | None = None
    to_country: str | None = None

    def present(self) -> dict[str, str]:
        """The fields Twilio actually sent (blank strings, like `ToZip=`, count as absent)."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name))}


@dataclass(frozen=True)
class CallUpsert:
    """The voice webhook (or POST /calls) saying a call exists, who is on it and where it goes."""

    call_sid: str
    parties: CallParties
    started_at: str  # ISO-8601; kept from the first write that sets it
    route: str | None = None
    connect_to: str | None = None


@dataclass(frozen=True)
class StatusChange:
    """One status callback (or the status carried by a voice webhook)."""

    call_sid: str
    status: CallStatus
    at: str  # ISO-8601 time the event fired (Twilio's Timestamp), else when we received it
    duration_seconds: int | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None
    parties: CallParties | None = None  # used only to create a record for a call not seen yet


@dataclass(frozen=True)
class RecordingUpdate:
    call_sid: str
    sid: str
    status: str
    url: str | None = None
    duration_seconds: int | None = None
    channels: int | None = None
    source: str | None = None
    track: str | None = None
    started_at: str | None = None
    error_code: str | None = None

    def as_item(self, updated_at: str) -> dict[str, Any]:
        item: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "call_sid"}
        item["updated_at"] = updated_at
        return {key: value for key, value in item.items() if value is not None}


@dataclass(frozen=True)
class CompletedCall:
    """What the `Call Completed` event reports, read back by the claim that allows publishing it."""

    call_sid: str
    status: str
    duration_seconds: int | None


RECORDING_COMPLETED = "completed"


class CallStore(Protocol):
    def upsert_call(self, upsert: CallUpsert) -> None: ...

    def advance_status(self, change: StatusChange) -> bool:
        """Apply the change when it moves the call forward; False when it is stale or repeated."""
        ...

    def update_recording(self, update: RecordingUpdate) -> bool:
        """Store the recording; False when a completed recording already outranks this report."""
        ...

    def claim_completion(self, call_sid: str, claimed_at: str) -> CompletedCall | None:
        """Claim the right to publish `Call Completed`: None when not terminal or already claimed."""
        ...

    def release_completion(self, call_sid: str, claimed_at: str) -> None:
        """Give back a claim whose publication failed, so a retry can publish."""
        ...

    def get(self, call_sid: str) -> CallRecord | None: ...


def _condition_failed(exc: UpdateError) -> bool:
    return exc.cause_response_code == CONDITIONAL_CHECK_FAILED


class DynamoCallStore:
    """`CallStore` over the calls table, one conditional UpdateItem per write."""

    def __init__(self, calls_table: str, now: Callable[[], str] = clock.now_iso) -> None:
        self._model = calls_model(calls_table)
        self._now = now

    def get(self, call_sid: str) -> CallRecord | None:
        try:
            return self._model.get(call_sid, consistent_read=True)
        except self._model.DoesNotExist:
            return None

    def upsert_call(self, upsert: CallUpsert) -> None:
        m = self._model
        now = self._now()
        actions: list[Any] = [getattr(m, name).set(value) for name, value in upsert.parties.present().items()]
        actions += [
            m.started_at.set(m.started_at | upsert.started_at),
            m.call_date.set(m.call_date | upsert.started_at[:10]),
            m.created_at.set(m.created_at | now),
            m.updated_at.set(now),
            # An empty history map lets the status write that follows set its key at the first try.
            m.status_history.set(m.status_history | {}),
        ]
        if upsert.route is not None:
            actions.append(m.route.set(upsert.route))
        if upsert.connect_to is not None:
            actions.append(m.connect_to.set(upsert.connect_to))
        self._update(upsert.call_sid, actions, None)

    def advance_status(self, change: StatusChange) -> bool:
        m = self._model
        now = self._now()
        rank = change.status.rank
        actions: list[Any] = [
            m.status.set(change.status.value),
            m.status_rank.set(rank),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
            m.started_at.set(m.started_at | change.at),
            m.call_date.set(m.call_date | change.at[:10]),
        ]
        if change.parties is not None:
            # Only fills gaps: the voice webhook is the authority on a call's parties.
            for name, value in change.parties.present().items():
                attribute = getattr(m, name)
                actions.append(attribute.set(attribute | value))
        if change.status is CallStatus.IN_PROGRESS:
            actions.append(m.answered_at.set(m.answered_at | change.at))
        if change.status.is_terminal:
            actions.append(m.ended_at.set(change.at))
            if change.duration_seconds is not None:
                actions.append(m.duration_seconds.set(change.duration_seconds))
        if change.answered_by:
            actions.append(m.answered_by.set(change.answered_by))
        if change.sip_response_code is not None:
            actions.append(m.sip_response_code.set(change.sip_response_code))
        condition = m.status_rank.does_not_exist() | (m.status_rank < rank)
        history_key = m.status_history[change.status.value].set(change.at)
        first_history = m.status_history.set({change.status.value: change.at})
        # status_history is a map; DynamoDB can set a key inside it only once the map exists, so a
        # call seen first by this write creates the map whole (guarded, in case of a concurrent write).
        for _ in range(3):
            try:
                self._update(change.call_sid, [*actions, history_key], condition)
            except UpdateError as exc:
                if _condition_failed(exc):
                    return False
                if _INVALID_DOCUMENT_PATH not in str(exc):
                    raise StoreError(f"status update of {change.call_sid} failed: {exc}") from exc
            else:
                return True
            try:
                self._update(
                    change.call_sid, [*actions, first_history], condition & m.status_history.does_not_exist()
                )
            except UpdateError as exc:
                if not _condition_failed(exc):
                    raise StoreError(f"status update of {change.call_sid} failed: {exc}") from exc
                # Either the call has moved past this status, or a concurrent write made the map.
            else:
                return True
        raise StoreError(f"status update of {change.call_sid} kept racing the status history write")

    def update_recording(self, update: RecordingUpdate) -> bool:
        m = self._model
        now = self._now()
        actions = [
            m.recording.set(update.as_item(now)),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
        ]
        condition = None
        if update.status != RECORDING_COMPLETED:
            condition = m.recording.does_not_exist() | (m.recording.status != RECORDING_COMPLETED)
        try:
            self._update(update.call_sid, actions, condition)
        except UpdateError as exc:
            if _condition_failed(exc):
                return False
            raise StoreError(f"recording update of {update.call_sid} failed: {exc}") from exc
        return True

    def claim_completion(self, call_sid: str, claimed_at: str) -> CompletedCall | None:
        m = self._model
        record = m(call_sid)
        try:
            record.update(
                actions=[m.call_completed_event_at.set(claimed_at)],
                condition=(m.status_rank == TERMINAL_RANK) & m.call_completed_event_at.does_not_exist(),
            )
        except UpdateError as exc:
            if _condition_failed(exc):
                return None
            raise StoreError(f"completion claim of {call_sid} failed: {exc}") from exc
        duration = record.duration_seconds
        return CompletedCall(
            call_sid=call_sid,
            status=str(record.status),
            duration_seconds=None if duration is None else int(duration),
        )

    def release_completion(self, call_sid: str, claimed_at: str) -> None:
        m = self._model
        try:
            m(call_sid).update(
                actions=[m.call_completed_event_at.remove()],
                condition=m.call_completed_event_at == claimed_at,
            )
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise StoreError(f"releasing the completion claim of {call_sid} failed: {exc}") from exc

    def _update(self, call_sid: str, actions: list[Any], condition: Any) -> None:
        self._model(call_sid).update(actions=actions, condition=condition)


def record_status(
    store: CallStore, publisher: EventPublisher, change: StatusChange, now: Callable[[], str] = clock.now_iso
) -> bool:
    """Apply a status callback, then publish `Call Completed` if it is due. True if it advanced.

    The claim is tried for every terminal callback, including stale duplicates: that is how a
    retried callback publishes an event whose first publication failed.
    """
    advanced = store.advance_status(change)
    if change.status.is_terminal:
        publish_call_completed_once(store, publisher, change.call_sid, now)
    return advanced


def publish_call_completed_once(
    store: CallStore, publisher: EventPublisher, call_sid: str, now: Callable[[], str] = clock.now_iso
) -> bool:
    """Publish `Call Completed` if nobody has; raises PublishError (claim released) if the bus fails."""
    claimed_at = now()
    completed = store.claim_completion(call_sid, claimed_at)
    if completed is None:
        return False
    event = CallCompleted.model_validate(
        {
            "callSid": completed.call_sid,
            "status": completed.status,
            "durationSeconds": completed.duration_seconds,
        }
    )
    try:
        publisher.publish(event)
    except Exception as exc:
        store.release_completion(call_sid, claimed_at)
        if isinstance(exc, PublishError):
            raise
        raise PublishError(f"Call Completed for {call_sid} not published: {exc}") from exc
    return True


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _recording_view(record: CallRecord) -> dict[str, Any] | None:
    recording = record.recording
    if recording is None:
        return None
    return {
        "sid": recording.sid,
        "url": recording.url,
        "status": recording.status,
        "durationSeconds": _number(recording.duration_seconds),
        "channels": _number(recording.channels),
    }


def _plain(value: Any) -> Any:
    """pynamodb map attributes and Decimals as plain JSON values."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    if value.__class__.__name__ == "Decimal":
        return _number(value)
    return value


def call_view(record: CallRecord, segments: Iterable[TranscriptSegment]) -> dict[str, Any]:
    """The contract shape of `GET /calls/{callSid}`: the CDR, its final transcript, its summary."""
    ordered = sorted(segments, key=lambda s: (float(s.start), s.segment_key))
    return {
        "callSid": record.call_sid,
        "status": record.status,
        "direction": record.direction,
        "from": record.from_number,
        "to": record.to_number,
        "route": record.route,
        "connectTo": record.connect_to,
        "parentCallSid": record.parent_call_sid,
        "startedAt": record.started_at,
        "answeredAt": record.answered_at,
        "endedAt": record.ended_at,
        "durationSeconds": _number(record.duration_seconds),
        "answeredBy": record.answered_by,
        "recording": _recording_view(record),
        "transcriptStatus": record.transcript_status,
        "transcript": [
            {
                "track": segment.track,
                "speaker": segment.speaker,
                "text": segment.text,
                "start": float(segment.start),
                "end": float(segment.end),
            }
            for segment in ordered
        ],
        "summaryStatus": record.summary_status,
        "summary": None if record.summary is None else _plain(record.summary),
    }
