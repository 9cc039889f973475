"""The recordings Lambda's metric names and dimensions, shared with infra's dashboard.

The one owner of these names: the Lambda emits them (Powertools Metrics, namespace
`shared.telemetry.METRICS_NAMESPACE`, dimension `service` = `SERVICE_NAME`) and infra graphs them, so
a rename changes both sides at once; tests/infra/test_metrics_emitted.py runs the Lambda and checks
that what the synthesised dashboard reads is emitted. Imports nothing (infra reads it at synth
without the recordings runtime); keep it that way.
"""

from __future__ import annotations

from typing import Final

# POWERTOOLS_SERVICE_NAME of the recordings Lambda (set by infra), so the `service` dimension.
SERVICE_NAME: Final = "callscribe-recordings"
# The second dimension of the per-reason copy of RECORDING_FAILURES (values: docs/recordings.md).
REASON_DIMENSION: Final = "reason"

# Per stored reconciliation (not for a re-run that changed nothing), the dashboard's recordings row:
# seconds from the call's `ended_at` to the reconciliation stored (none while `ended_at` is unknown);
RECONCILE_LAG_SECONDS: Final = "ReconcileLagSeconds"
# seconds of speech added from the recording (the reconciliation's `filledSeconds`);
FILLED_SECONDS: Final = "FilledSeconds"
# the reconciliation's `liveCoverage`, 0..1 (unit None): how much of the recording live had heard.
LIVE_COVERAGE: Final = "LiveCoverage"
# A recording that could not be reconciled (the invocation then raises): once with `service` alone
# (the dashboard's total) and once with `service` and `reason` (which failure).
RECORDING_FAILURES: Final = "RecordingFailures"

EVENTS_RECEIVED: Final = "RecordingEventsReceived"  # every invocation
RECORDING_BYTES: Final = "RecordingBytes"  # the WAV's size, once downloaded or read from our copy
RECONCILED: Final = "RecordingsReconciled"  # every run that reached reconciliation (stored or not)
RECONCILED_EARLY: Final = "RecordingsReconciledEarly"  # ...while live was still in progress
SKIPPED: Final = "RecordingsSkipped"  # not the call's recording (a later one replaced it)
TWILIO_DELETE_FAILURES: Final = "TwilioRecordingDeleteFailures"  # Twilio's copy not deleted
COST_WRITE_FAILURES: Final = "CostWriteFailures"  # the call's cost not recomputed (a later writer does)
