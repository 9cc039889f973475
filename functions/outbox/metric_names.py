"""The outbox Lambda's metric names and service dimension, shared with infra's alarms and dashboard.

Imports nothing (infra reads it at synth without the outbox's runtime). Namespace
`shared.telemetry.METRICS_NAMESPACE`, one dimension `service`.
"""

from __future__ import annotations

from typing import Final

# POWERTOOLS_SERVICE_NAME of the outbox Lambda (set by infra), so the `service` dimension.
SERVICE_NAME: Final = "callscribe-outbox"

RECORDS: Final = "OutboxRecords"  # stream records handled (each write of a call record)
CHANGES: Final = "OutboxChanges"  # transitions found in them (a write that changed nothing has none)
EVENTS_PUBLISHED: Final = "OutboxEventsPublished"  # messages the sinks sent: today the bus's events
RECORDS_FAILED: Final = "OutboxRecordsFailed"  # a sink failed: the record (and those after it) retried
RECORDS_PARKED: Final = "OutboxRecordsParked"  # unreadable or refused: sent to the dead-letter queue
