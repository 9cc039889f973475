"""Settings of the sweeper Lambda, read from the environment when its service is built.

Only the resource names are required; `SWEEP_AFTER_SECONDS` is the contract's patience (tests set 0).
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from shared.costs import CostSettings
from shared.settings import EnvSettings


class SweeperSettings(EnvSettings):
    calls_table: str
    transcripts_table: str
    event_bus_name: str

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
    costs: CostSettings = Field(default_factory=CostSettings)  # CALL_PRICES: a settled call's cost is checked

    @field_validator("sweep_max_backoff_seconds")
    @classmethod
    def _max_at_least_base(cls, value: int, info: ValidationInfo) -> int:
        base = info.data.get("sweep_backoff_seconds")
        if base is not None and value < base:
            raise ValueError(f"must be at least SWEEP_BACKOFF_SECONDS ({base})")
        return value
