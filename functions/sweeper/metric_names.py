"""The sweeper's metric names and service dimension, shared with infra's alarms and dashboard.

Imports nothing, so infra reads these at synth without the sweeper's runtime (as streamer/contract.py
does for the streamer). Namespace `shared.telemetry.METRICS_NAMESPACE`, one dimension `service`.
"""

from __future__ import annotations

from typing import Final

# POWERTOOLS_SERVICE_NAME, and so the `service` dimension of every metric below.
SERVICE_NAME: Final = "callscribe-sweeper"

CALLS_EXAMINED: Final = "SweepCallsExamined"  # due calls read this run
CALLS_SETTLED: Final = "SweepCallsSettled"  # nothing left to do: taken out of the index
CALLS_REDRIVEN: Final = "SweepCallsRedriven"  # calls with something finished or re-published
CALLS_WAITING: Final = "SweepCallsWaiting"  # nothing to re-drive yet (the recording is still at Twilio)
TRANSCRIPTS_FINISHED: Final = "SweepTranscriptsFinished"  # stream never finished: marked incomplete
TRANSCRIPT_EVENTS: Final = "SweepTranscriptCompletedRedriven"
RECORDING_EVENTS: Final = "SweepRecordingCompletedRedriven"
COSTS_REPAIRED: Final = "SweepCostsRepaired"  # a settled call's stored cost was not its final record's
SUMMARIES_FAILED: Final = "SweepSummariesMarkedFailed"  # transcript final, no summary came: marked failed
TWILIO_REQUESTS: Final = "SweepTwilioRequests"  # reads of Twilio's REST API this run
TWILIO_FAILURES: Final = "SweepTwilioFailures"  # reads Twilio refused or failed (429, 401, 5xx, timeouts)
STATUSES_FROM_TWILIO: Final = "SweepStatusesFromTwilio"  # a status callback was lost: Twilio's applied
RECORDINGS_FROM_TWILIO: Final = "SweepRecordingsFromTwilio"  # a recording callback was lost: likewise
PRICES_FROM_TWILIO: Final = "SweepPricesFromTwilio"  # Twilio's complete bill of a call stored (cost.billed)
GAVE_UP: Final = "SweepGaveUp"  # out of attempts: parked for an operator (alarm)
FAILURES: Final = "SweepFailures"  # a call's sweep failed this run (retried next run)
BACKLOG: Final = "SweepBacklog"  # 1 when a run stopped with due calls left (limit or time)
