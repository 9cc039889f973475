"""Fake of the sweeper's `TwilioReader`: Twilio's view of calls and recordings, scripted failures.

Unit tests hold calls here as Twilio would answer for them; `fail_next` makes the next reads raise
what the adapter raises for Twilio's errors (`TwilioReadError` with the HTTP status), and `asked`
records every read, so a test sees what was asked and in which order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from functions.sweeper.twilio_rest import TwilioCall, TwilioReadError, TwilioRecording


@dataclass
class FakeTwilio:
    calls: dict[str, TwilioCall] = field(default_factory=dict)
    recordings: dict[str, list[TwilioRecording]] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)  # (what, call SID)
    _failures: deque[int] = field(default_factory=deque)

    def fail_next(self, status: int, times: int = 1) -> None:
        self._failures.extend([status] * times)

    def fetch_call(self, call_sid: str) -> TwilioCall:
        self._read("call", call_sid)
        call = self.calls.get(call_sid)
        if call is None:
            raise TwilioReadError(f"no call {call_sid}", http_status=404, code=20404)
        return call

    def call_recordings(self, call_sid: str) -> tuple[TwilioRecording, ...]:
        self._read("recordings", call_sid)
        return tuple(self.recordings.get(call_sid, ()))

    def _read(self, what: str, call_sid: str) -> None:
        self.asked.append((what, call_sid))
        if self._failures:
            status = self._failures.popleft()
            raise TwilioReadError(f"Twilio answered {status}", http_status=status)
