"""The sweeper's step that makes a due call's record true to Twilio before the call is swept.

Twilio does not retry a callback we answered 5xx, so a record can miss its final status or its
recording for good. `TwilioCheck.look` asks Twilio's REST API when the record may have missed one
(no terminal status; an answered call with no completed recording; no complete bill) and writes the
answer through the callbacks' own rules and writes. What a change must keep: it only writes the
record (announcing is the outbox's); a failed ask changes nothing but the marker; asks are bounded
per call (`max_asks`) and per run (`max_requests`), and a 429 or refused credentials end the run's
asks. When it asks and why: docs/recordings.md, "When a callback was lost".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from functions.sweeper.settings import SweeperSettings
from functions.sweeper.twilio_rest import TwilioCall, TwilioReader, TwilioReadError, TwilioRecording
from functions.sweeper.twilio_view import RECORDING_FINAL, missing_recording, status_changes
from functions.sweeper.twilio_view import bill as twilio_bill
from shared import clock
from shared.costs import Prices, record_cost, same_bill
from shared.dal.ports import SweeperCalls
from shared.dal.records import Call, SweepDeferral
from shared.observability import logger
from shared.status import TERMINAL_RANK, CallStatus
from shared.status_changes import status_advance

T = TypeVar("T")
LookOutcome = Literal["waiting", "skipped"]


@dataclass(frozen=True)
class TwilioPolicy:
    """When and how often the sweeper asks Twilio (functions/sweeper/settings.py has the reasons)."""

    after_seconds: int = 3600
    unended_after_seconds: int = 24 * 3600
    price_window_seconds: int = 24 * 3600
    max_asks: int = 12
    max_requests: int = 300
    backoff_seconds: int = 900
    max_backoff_seconds: int = 6 * 3600

    @classmethod
    def of(cls, settings: SweeperSettings) -> TwilioPolicy:
        """From the sweeper's settings (the backoff is the re-drives' own)."""
        return cls(
            after_seconds=settings.sweep_twilio_after_seconds,
            unended_after_seconds=settings.sweep_unended_after_seconds,
            price_window_seconds=settings.sweep_price_window_seconds,
            max_asks=settings.sweep_twilio_max_asks,
            max_requests=settings.sweep_twilio_max_requests,
            backoff_seconds=settings.sweep_backoff_seconds,
            max_backoff_seconds=settings.sweep_max_backoff_seconds,
        )

    def backoff(self, asks: int) -> timedelta:
        """How long after its `asks`-th ask (1, 2, …) a call still open is asked again."""
        return timedelta(seconds=min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (asks - 1)))


@dataclass
class TwilioTally:
    """What one run asked Twilio, and what Twilio's answers changed (the run's report and metrics)."""

    requests: int = 0
    failures: int = 0
    statuses: int = 0  # calls whose status Twilio's answer moved forward
    recordings: int = 0  # recordings stored from Twilio's answer
    prices: int = 0  # bills stored complete (`cost.billed.total`)
    stopped: str | None = None  # why the run's asks ended early


@dataclass(frozen=True)
class Look:
    """The record to sweep (re-read when Twilio's answer changed it); `outcome` set: the call is done
    for this run (deferred, or its marker moved under us). `price_pending`: Twilio's bill is still to
    be read (the call is not settled yet: `defer_for_price`); `asked`: this look read Twilio."""

    call: Call
    outcome: LookOutcome | None = None
    price_pending: bool = False
    asked: bool = False


class TwilioCheck:
    def __init__(
        self,
        policy: TwilioPolicy,
        calls: SweeperCalls,
        reader: TwilioReader | None,
        *,
        prices: Prices | None = None,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self._policy = policy
        self._calls = calls
        self._reader = reader  # None: Twilio is never asked (calls with no terminal status still wait)
        self._prices = prices or Prices()
        self._now = now
        self._tally = TwilioTally()
        self._left = policy.max_requests

    def start_run(self) -> TwilioTally:
        """A new run's budget; the tally its looks will fill."""
        self._tally = TwilioTally()
        self._left = self._policy.max_requests
        return self._tally

    def look(self, call: Call) -> Look:
        """Bring a due call's record in line with Twilio where it may have missed a callback, and
        read Twilio's bill for it once Twilio has priced it."""
        if call.status_rank != TERMINAL_RANK:
            return self._unended(call)
        return self._ended(call)

    def defer_for_price(self, call: Call, look: Look) -> LookOutcome:
        """A settled call whose price Twilio has not given yet: asked again after a backoff (never
        past the price window); a call not asked this run is left for the next run, untouched."""
        if not look.asked:
            return "waiting"
        asks, now = (call.twilio_asks or 0) + 1, self._now()
        window = _ended_at(call, now) + timedelta(seconds=self._policy.price_window_seconds)
        return self._defer(call, now + self._policy.backoff(asks), window, asks).outcome or "waiting"

    # ---- a call with no terminal status ---------------------------------------------------------

    def _unended(self, call: Call) -> Look:
        policy, now = self._policy, self._now()
        started = _started(call, now)
        floor = started + timedelta(seconds=policy.unended_after_seconds)
        if now >= floor:
            return Look(call)  # swept as it is, whatever Twilio said or could not say
        asks, reader = call.twilio_asks or 0, self._reader
        if reader is None or asks >= policy.max_asks:
            return self._defer(call, floor, floor)
        if now < started + timedelta(seconds=policy.after_seconds):
            return self._defer(call, started + timedelta(seconds=policy.after_seconds), floor)
        answer = self._request(call.call_sid, "call", lambda: reader.fetch_call(call.call_sid))
        if answer is None:
            return Look(call, "waiting")  # not asked this run: the next run asks
        if isinstance(answer, TwilioReadError):
            return self._defer(call, now + policy.backoff(asks + 1), floor, asks + 1)
        self._apply_status(call, answer, now)
        if not _terminal(answer):
            return self._defer(call, now + policy.backoff(asks + 1), floor, asks + 1)
        fresh = self._calls.get(call.call_sid)
        if fresh is None or fresh.status_rank != TERMINAL_RANK:
            return Look(call, "skipped")
        return self._ended(fresh, answer)

    def _apply_status(self, call: Call, twilio: TwilioCall, now: datetime) -> None:
        changes = status_changes(call, twilio, now)
        advanced = False
        for change in changes:
            advanced = self._calls.advance_status(status_advance(change)) or advanced
        if changes and twilio.parent_call_sid is not None:
            self._calls.add_leg(twilio.parent_call_sid, call.call_sid)  # as the leg's callback would
        if advanced:
            self._tally.statuses += 1
            logger.info(
                "call status from Twilio's REST API (its callback was lost)",
                extra={"call_sid": call.call_sid, "status": twilio.status, "was": call.status},
            )
            self._update_cost(call.call_sid)

    # ---- an ended call: a recording the record lacks, Twilio's bill -------------------------------

    def _ended(self, call: Call, fetched: TwilioCall | None = None) -> Look:
        """Ask for what an ended call may still lack (reusing `fetched`, the call as just read)."""
        now, reader = self._now(), self._reader
        recording, price = expects_recording(call), self._wants_price(call, now)
        if reader is None or not (recording or price):
            return Look(call)
        answer: TwilioCall | TwilioReadError | None = fetched
        if price and answer is None:
            answer = self._request(call.call_sid, "call", lambda: reader.fetch_call(call.call_sid))
        recordings: tuple[TwilioRecording, ...] | TwilioReadError | None = None
        if recording_billed(call):
            recordings = self._request(
                call.call_sid, "recordings", lambda: reader.call_recordings(call.call_sid)
            )
        asked = fetched is not None or answer is not None or recordings is not None
        listed = recordings if isinstance(recordings, tuple) else None
        written = recording and listed is not None and self._store_recording(call, listed)
        bill: dict[str, object] | None = None
        if price and isinstance(answer, TwilioCall) and (listed is not None or not recording_billed(call)):
            bill = twilio_bill(call, answer, listed, clock.iso(now))
            if bill is not None and not same_bill((call.cost or {}).get("billed"), bill):
                written = self._store_bill(call, bill) or written
        fresh = (self._calls.get(call.call_sid) or call) if written else call
        known = (bill or (call.cost or {}).get("billed") or {}).get("total") is not None
        return Look(fresh, price_pending=price and not known, asked=asked)

    def _wants_price(self, call: Call, now: datetime) -> bool:
        """Twilio's bill is worth asking for: an answered call that ended within the price window,
        whose bill is not complete yet, with asks left (Twilio bills unanswered calls nothing)."""
        policy = self._policy
        if self._reader is None or policy.price_window_seconds <= 0:
            return False
        if call.status != CallStatus.COMPLETED.value:
            return False
        if ((call.cost or {}).get("billed") or {}).get("total") is not None:
            return False
        if (call.twilio_asks or 0) >= policy.max_asks or call.ended_at is None:
            return False
        return now < _ended_at(call, now) + timedelta(seconds=policy.price_window_seconds)

    def _store_recording(self, call: Call, recordings: tuple[TwilioRecording, ...]) -> bool:
        update = missing_recording(call, recordings)
        if update is None or not self._calls.update_recording(update):
            return False
        self._tally.recordings += 1
        logger.info(
            "recording from Twilio's REST API (its callback was lost)",
            extra={"call_sid": call.call_sid, "recording_sid": update.sid, "recording_status": update.status},
        )
        self._update_cost(call.call_sid)
        return True

    def _store_bill(self, call: Call, bill: Mapping[str, object]) -> bool:
        """Twilio's bill into `cost.billed`, in the cost's own conditional write (`CostBasis`)."""
        stored = record_cost(self._calls, call.call_sid, self._prices, billed=bill, on_error=logger.warning)
        if stored is None:
            return False
        if bill.get("total") is not None:
            self._tally.prices += 1
        logger.info("Twilio's bill read", extra={"call_sid": call.call_sid, "billed": dict(bill)})
        return True

    # ---- helpers --------------------------------------------------------------------------------

    def _request(self, call_sid: str, what: str, read: Callable[[], T]) -> T | TwilioReadError | None:
        """One request within the run's budget: its answer, the error (counted), or None (not made)."""
        tally = self._tally
        if tally.stopped is not None:
            return None
        if self._left <= 0:
            tally.stopped = f"the run's {self._policy.max_requests} requests are spent"
            return None
        self._left -= 1
        tally.requests += 1
        try:
            return read()
        except TwilioReadError as exc:
            tally.failures += 1
            if exc.stops_run:
                tally.stopped = f"Twilio answered {exc.http_status}"
            logger.warning(
                "reading Twilio failed; asked again later",
                extra={"call_sid": call_sid, "what": what, "http_status": exc.http_status, "error": str(exc)},
            )
            return exc

    def _defer(self, call: Call, later: datetime, floor: datetime, asks: int | None = None) -> Look:
        """Look at the call again at `later` (never past `floor`); `asks` counts an ask that left it open."""
        deferral = SweepDeferral(
            call_sid=call.call_sid,
            expected_after=call.sweep_after or "",
            next_after=clock.iso(min(later, floor)),
            twilio_asks=asks,
        )
        return Look(call, "waiting" if self._calls.defer_sweep(deferral) else "skipped")

    def _update_cost(self, call_sid: str) -> None:
        """Recompute the cost after the write, as the webhooks do (never raises: shared.costs)."""
        record_cost(self._calls, call_sid, self._prices, on_error=logger.warning)


def recording_billed(call: Call) -> bool:
    """Twilio may hold (and bill) recordings under this call: its route records, and it is not a leg
    (Twilio lists a `<Dial>` recording under the parent call)."""
    return call.recording_expected is True and call.parent_call_sid is None


def expects_recording(call: Call) -> bool:
    """An answered call whose route records, holding no final recording report (a leg's recording is
    its parent's: Twilio lists a `<Dial>` recording under the parent call)."""
    recording = call.recording
    return (
        call.status == CallStatus.COMPLETED.value
        and recording_billed(call)
        and (recording is None or recording.status not in RECORDING_FINAL)
    )


def _ended_at(call: Call, now: datetime) -> datetime:
    try:
        return clock.parse_iso(call.ended_at) if call.ended_at else now
    except ValueError:
        return now


def _terminal(twilio: TwilioCall) -> bool:
    try:
        return CallStatus(twilio.status or "").is_terminal
    except ValueError:
        return False


def _started(call: Call, now: datetime) -> datetime:
    """When the call started as the record knows it (its first status, else its marker)."""
    for value in (call.started_at, call.sweep_after):
        if value:
            try:
                return clock.parse_iso(value)
            except ValueError:
                continue
    return now
