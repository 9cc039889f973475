"""The people's read API's configuration, validated once per process (see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import EnvSettings


class ConsoleApiSettings(EnvSettings):
    """Where calls, transcripts and recordings are, and how long what it hands out lasts."""

    calls_table: str
    transcripts_table: str
    recordings_bucket: str
    # how long a recording link works: long enough to listen to a call, short enough that a link
    # copied out of the browser soon stops working
    recording_link_seconds: int = Field(default=600, ge=60, le=3600)
    # a call not terminal and started this long ago is on the live board no more (Twilio ends calls
    # after 4 hours unless told otherwise); bounds what `live=true` reads
    live_window_hours: float = Field(default=4.0, gt=0, le=48)
