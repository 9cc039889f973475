"""What a call cost: a pure function of its record and a price table, and the one way tiers store it.

A record is one Twilio leg and its cost is that leg's (a conversation sums a call and its legs). A
part is None when the call has none of it (or, for voice, while the leg has not ended); `total_usd`
sums the parts known; `billed` (what Twilio billed) is carried over as read, never recomputed.
Must keep: every writer stores through `record_cost`, conditional on the `CostBasis` it read and
retried from a fresh read when overtaken, so whatever order writers run in, the stored cost is the
final record's. docs/costs.md has each part, its price and why the writes converge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared import clock
from shared.dal.ports import CostWrites
from shared.dal.records import Call, CostBasis
from shared.errors import StoreError
from shared.settings import EnvGroup
from shared.status import CallStatus
from shared.validation import describe_errors, json_object

# The date the default prices were read from the vendors' public pages (docs/costs.md lists them).
PRICES_AS_OF = "2026-11-01"
CUSTOM_SUFFIX = "+custom"  # `as_of` of a table that overrides prices without naming its own date
USD_DECIMALS = 6  # a millionth of a dollar: well below any one part's smallest step
MINUTE_DECIMALS = 4
RECORD_ATTEMPTS = 4  # reads and conditional writes before leaving the cost to the next writer
UNBILLED_STATUSES = frozenset(
    {CallStatus.BUSY.value, CallStatus.NO_ANSWER.value, CallStatus.FAILED.value, CallStatus.CANCELED.value}
)
INBOUND = "inbound"
OUTBOUND_PREFIX = "outbound"  # outbound-api (POST /calls), outbound-dial (a <Dial>'s leg)


class Prices(BaseModel):
    """The price table, USD (list prices, US numbers, pay as you go). Override any subset with env
    `CALL_PRICES` (a JSON object) or CDK context `prices`; set `as_of` with them, so a stored cost
    says which table it used (without it, `as_of` reads `2026-11-01+custom`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: str = PRICES_AS_OF
    twilio_inbound_per_minute: float = Field(default=0.0085, ge=0)  # a call to a local number
    twilio_outbound_per_minute: float = Field(default=0.014, ge=0)  # a call we place or dial
    twilio_recording_per_minute: float = Field(default=0.0025, ge=0)
    deepgram_live_per_minute: float = Field(default=0.0077, ge=0)  # Nova-3 streaming, per track
    deepgram_prerecorded_per_minute: float = Field(default=0.0043, ge=0)  # Nova-3 batch, per channel
    deepgram_tts_per_1k_characters: float = Field(default=0.030, ge=0)  # Aura-2

    @classmethod
    def parse(cls, value: Any) -> Prices:
        """Prices from a JSON object (text or mapping) of overrides; an unknown key is refused by name."""
        if isinstance(value, Prices):
            return value
        value = json_object(value, "a JSON object of price names to numbers")
        unknown = sorted(set(value) - set(cls.model_fields))
        if unknown:
            raise ValueError(
                f"unknown price{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(cls.model_fields)}"
            )
        overrides = dict(value)
        if overrides and "as_of" not in overrides:
            # other prices than the dated table's: a stored cost must not claim that table's date
            overrides["as_of"] = f"{PRICES_AS_OF}{CUSTOM_SUFFIX}"
        try:
            return cls.model_validate(overrides)
        except ValidationError as exc:
            raise ValueError(describe_errors(exc)) from exc


class CostSettings(EnvGroup):
    """The price table of every tier that writes a cost: env `CALL_PRICES`, defaults when unset."""

    call_prices: Prices = Field(default_factory=Prices)

    @field_validator("call_prices", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Prices:
        return Prices.parse(value)


def _billed_minutes(seconds: float) -> int:
    """Twilio bills each leg (and recording) per started minute: 61 s is 2 minutes, 0 s is none."""
    return math.ceil(seconds / 60) if seconds > 0 else 0


def _usd(value: float) -> float:
    return round(value, USD_DECIMALS)


def cost_of(basis: CostBasis, prices: Prices) -> dict[str, Any]:
    """The CostAttribute fields (without `estimated_at`) for a call read as `basis`; absent parts left out."""
    parts: dict[str, Any] = {}

    voice_rate = None
    if basis.direction == INBOUND:
        voice_rate = prices.twilio_inbound_per_minute
    elif basis.direction is not None and basis.direction.startswith(OUTBOUND_PREFIX):
        voice_rate = prices.twilio_outbound_per_minute
    voice_minutes = None
    if basis.status in UNBILLED_STATUSES:
        voice_minutes = 0
    elif basis.status == CallStatus.COMPLETED.value and basis.duration_seconds is not None:
        voice_minutes = _billed_minutes(float(basis.duration_seconds))
    if voice_rate is not None and voice_minutes is not None:
        parts["voice_minutes"] = voice_minutes
        parts["twilio_voice_usd"] = _usd(voice_minutes * voice_rate)

    recording_seconds = basis.recording_duration_seconds
    if basis.recording_status == "completed" and recording_seconds is not None:
        minutes = _billed_minutes(float(recording_seconds))
        parts["recording_minutes"] = minutes
        parts["twilio_recording_usd"] = _usd(minutes * prices.twilio_recording_per_minute)
        if basis.recording_transcribed:
            channel_minutes = float(recording_seconds) / 60 * float(basis.recording_channels or 1)
            parts["prerecorded_minutes"] = round(channel_minutes, MINUTE_DECIMALS)
            parts["deepgram_prerecorded_usd"] = _usd(channel_minutes * prices.deepgram_prerecorded_per_minute)

    if basis.live_audio_seconds is not None:
        track_minutes = float(basis.live_audio_seconds) / 60
        parts["live_track_minutes"] = round(track_minutes, MINUTE_DECIMALS)
        parts["deepgram_live_usd"] = _usd(track_minutes * prices.deepgram_live_per_minute)

    if basis.summary_cost_usd is not None:
        parts["claude_usd"] = _usd(float(basis.summary_cost_usd))

    if basis.tts_characters is not None:
        parts["tts_usd"] = _usd(basis.tts_characters / 1000 * prices.deepgram_tts_per_1k_characters)

    total = sum(value for name, value in parts.items() if name.endswith("_usd"))
    cost = {"total_usd": _usd(total), **parts, "prices_as_of": prices.as_of}
    billed = basis.billed()
    if billed is not None:
        cost["billed"] = billed  # Twilio's own figure beside the estimate, carried as it was read
    return cost


def call_cost(
    call: Call,
    prices: Prices,
    estimated_at: str | None = None,
    *,
    billed: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The cost map of a stored call (`CostAttribute`'s fields), stamped `estimated_at` when given;
    with `billed`, Twilio's bill as just read instead of the one stored."""
    basis = CostBasis.of(call)
    cost = cost_of(basis if billed is None else basis.with_billed(billed), prices)
    if estimated_at is not None:
        cost["estimated_at"] = estimated_at
    return cost


def twilio_billed(
    call_price: str | None,
    price_unit: str | None,
    recording_prices: Sequence[tuple[str | None, str | None]] | None,
    read_at: str,
) -> dict[str, Any] | None:
    """`cost.billed` from the prices Twilio's REST API reports (docs/costs.md, "Billed by Twilio").

    Twilio reports a charge as a negative `price` ("-0.01700"), in `price_unit`; stored positive, so it
    reads like the estimate. `recording_prices`: (price, unit) of each of the call's recordings Twilio
    bills, None when the call has none to bill (its route records nothing, or it is a leg, whose
    `<Dial>` recording is its parent's). A part is absent until Twilio has priced it, and `total` until
    every part is known (a recording in another unit than the call's counts as unknown). None until
    the call itself is priced.
    """
    voice = _charge(call_price)
    if voice is None:
        return None
    billed: dict[str, Any] = {"twilio_voice": voice, "read_at": read_at}
    if price_unit:
        billed["price_unit"] = price_unit
    total: float | None = voice
    if recording_prices:
        charges = [_charge(price) if unit in (None, price_unit) else None for price, unit in recording_prices]
        if any(charge is None for charge in charges):
            total = None
        else:
            recording = _usd(sum(charge for charge in charges if charge is not None))
            billed["twilio_recording"] = recording
            total = voice + recording
    if total is not None:
        billed["total"] = _usd(total)
    return billed


def _charge(price: str | None) -> float | None:
    """Twilio's `price` as the amount charged (its negation); None when absent or not a number."""
    if price is None:
        return None
    try:
        value = -Decimal(price)
    except (InvalidOperation, ValueError):
        return None
    return _usd(float(value)) if value.is_finite() else None


def same_bill(stored: Mapping[str, Any] | None, read: Mapping[str, Any]) -> bool:
    """True when the stored `cost.billed` says what was just read (the time it was read aside)."""
    if stored is None:
        return False

    def amounts(bill: Mapping[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in bill.items() if name != "read_at"}

    return amounts(stored) == amounts(read)


def same_cost(stored: Mapping[str, Any] | None, computed: Mapping[str, Any]) -> bool:
    """True when the stored cost says what `computed` says (its estimation time aside)."""
    if stored is None:
        return False

    def key(cost: Mapping[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in cost.items() if name != "estimated_at" and value is not None}

    return key(stored) == key(computed)


def record_cost(
    calls: CostWrites,
    call_sid: str,
    prices: Prices,
    *,
    billed: Mapping[str, Any] | None = None,
    now: Callable[[], str] = clock.now_iso,
    attempts: int = RECORD_ATTEMPTS,
    on_error: Callable[[str], object] | None = None,
) -> dict[str, Any] | None:
    """Bring the call's stored cost up to date with its record; the cost now stored, or None.

    Read, compute, and store only if the record still holds what was read (`save_cost`'s basis
    condition); a refusal means another writer changed an input meanwhile, so read again. Nothing is
    written when the stored cost already says the same (a repeated event changes nothing), nor for a
    call with no record. `billed`: Twilio's bill as the sweeper just read it, stored with the estimate
    in the same conditional write (without it, the stored bill is carried over as read). A table
    failure is reported to `on_error` and answered None, never raised: the cost is an estimate, every
    later writer recomputes it, and the write that called this has already been stored.
    """
    try:
        for _ in range(attempts):
            call = calls.get(call_sid)
            if call is None:
                return None
            cost = call_cost(call, prices, estimated_at=now(), billed=billed)
            if same_cost(call.cost, cost):
                return call.cost
            if calls.save_cost(call_sid, cost, CostBasis.of(call)):
                return cost
    except StoreError as exc:
        if on_error is not None:
            on_error(f"cost of {call_sid} not stored: {exc}")
        return None
    if on_error is not None:
        on_error(f"cost of {call_sid} not stored: its record kept changing ({attempts} attempts)")
    return None
