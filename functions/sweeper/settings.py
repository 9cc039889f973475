"""Settings of the sweeper Lambda, read from the environment when its service is built.

Required: the resource names (the tables and the bus) and the Twilio account (`TWILIO_ACCOUNT_SID`,
`TWILIO_AUTH_TOKEN`, or `TWILIO_SECRET_ARN`), whose REST API the sweeper reads when a call's
callbacks were lost.
`SWEEP_AFTER_SECONDS` is the contract's patience (tests set 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, ValidationInfo, field_validator

from shared.costs import CostSettings
from shared.settings import TWILIO_SECRET_SOURCES, SecretSource, TableSettings, TwilioSettings


class SweeperSettings(TableSettings, TwilioSettings):
    secret_sources: ClassVar[Mapping[str, SecretSource]] = TWILIO_SECRET_SOURCES

    event_bus_name: str  # its re-drives are published directly (everything else is the outbox's)

    # How long after a call ended (or after a re-drive) the sweeper waits before it looks.
    sweep_after_seconds: int = Field(default=600, ge=0, le=7 * 24 * 3600)
    # A stream whose heartbeat is older than this is dead, and its transcript the sweeper's to finish.
    # Keep it well above the streamer's STREAM_HEARTBEAT_SECONDS (30) plus a heartbeat's write
    # retries (docs/recordings.md, "The sweeper"); 0 treats every stream as dead.
    stream_heartbeat_stale_seconds: int = Field(default=300, ge=0, le=24 * 3600)
    # After a re-drive, the call is looked at again this much later (plus the patience above),
    # doubling each attempt up to the maximum, so work in flight is never re-driven on top of itself.
    sweep_backoff_seconds: int = Field(default=900, ge=1, le=24 * 3600)
    sweep_max_backoff_seconds: int = Field(default=6 * 3600, ge=1, le=7 * 24 * 3600)
    # Re-drives (or waits) per call before it is parked with `sweep_gave_up_at` and an alarm.
    sweep_max_attempts: int = Field(default=5, ge=1, le=20)
    # Due calls handled per run, at most (the rest are next run's; `SweepBacklog` says so).
    sweep_max_calls: int = Field(default=1000, ge=1, le=10_000)
    # A call with no terminal status is asked about (Twilio's REST API) this long after it started,
    # plus the patience above: by then a normal call has ended and its callbacks have long arrived,
    # so nearly every ask finds a callback that was lost, and a long call costs one ask per backoff.
    sweep_twilio_after_seconds: int = Field(default=3600, ge=0, le=24 * 3600)
    # ... and is swept as it is (its transcript finished, its events re-driven) this long after it
    # started, whatever Twilio said or could not say: Twilio ends a call at its time limit (4 h by
    # default, 24 h at most), so a call still live then is not one.
    sweep_unended_after_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600)
    # Reads of Twilio per call that left it open (still live), and requests per run; a 429 from
    # Twilio ends the run's reads. Twilio's REST API limits concurrent requests per account: the
    # sweeper makes one at a time.
    sweep_twilio_max_asks: int = Field(default=12, ge=0, le=100)
    sweep_twilio_max_requests: int = Field(default=300, ge=0, le=10_000)
    # How long after an answered call ended the sweeper keeps asking Twilio for its bill (the price
    # appears once the call is final, often minutes later, sometimes hours); 0: never ask. Until then
    # the call stays in the sweeper's index, asked again with the backoff.
    sweep_price_window_seconds: int = Field(default=24 * 3600, ge=0, le=7 * 24 * 3600)
    costs: CostSettings = Field(default_factory=CostSettings)  # CALL_PRICES: a settled call's cost is checked

    @field_validator("sweep_max_backoff_seconds")
    @classmethod
    def _max_at_least_base(cls, value: int, info: ValidationInfo) -> int:
        base = info.data.get("sweep_backoff_seconds")
        if base is not None and value < base:
            raise ValueError(f"must be at least SWEEP_BACKOFF_SECONDS ({base})")
        return value

    @field_validator("sweep_unended_after_seconds")
    @classmethod
    def _unended_after_the_ask(cls, value: int, info: ValidationInfo) -> int:
        ask = info.data.get("sweep_twilio_after_seconds")
        if ask is not None and value < ask:
            raise ValueError(f"must be at least SWEEP_TWILIO_AFTER_SECONDS ({ask})")
        return value
