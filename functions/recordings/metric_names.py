"""The recordings Lambda's metric names and service dimension, shared with infra's alarms and dashboard.

The one owner of these names: the Lambda emits them (Powertools Metrics, namespace
`shared.telemetry.METRICS_NAMESPACE`, dimension `service` = `SERVICE_NAME`) and infra graphs and
alarms on them, so a rename changes both sides at once. Imports nothing (infra reads it at synth
without the recordings runtime); keep it that way.
"""

from __future__ import annotations

from typing import Final

# POWERTOOLS_SERVICE_NAME of the recordings Lambda (set by infra), so the `service` dimension.
SERVICE_NAME: Final = "callscribe-recordings"

# Seconds from the call's end to its reconciliation stored (one value per reconciled recording).
RECONCILE_LAG_SECONDS: Final = "ReconcileLagSeconds"
# Seconds of speech added from the recording (a reconciliation's `filledSeconds`).
FILLED_SECONDS: Final = "FilledSeconds"
# The reconciliation's `liveCoverage`, 0..1 (unit None): how much of the recording live had heard.
LIVE_COVERAGE: Final = "LiveCoverage"
# A recording that could not be downloaded, stored or transcribed (the invocation then raises).
RECORDING_FAILURES: Final = "RecordingFailures"
