"""The call feed Lambda's metric names: the one place an emit site takes them from.

Namespace `shared.telemetry.METRICS_NAMESPACE`, one dimension `service` (POWERTOOLS_SERVICE_NAME,
`callscribe-call-feed`, set by infra). Imports nothing.
"""

from __future__ import annotations

from typing import Final

SERVICE_NAME: Final = "callscribe-call-feed"  # the `service` dimension (infra sets it, alarms read it)
CALL_UPDATES: Final = "CallUpdates"  # records of the stream that changed what the feed shows
UNREADABLE_RECORDS: Final = "UnreadableRecords"  # records skipped: not readable as a call record
FEED_EVENTS_PUBLISHED: Final = "FeedEventsPublished"  # events AppSync Events accepted
FEED_PUBLISH_FAILURES: Final = "FeedPublishFailures"  # events dropped: their publish failed
FEED_EVENTS_DROPPED: Final = "FeedEventsDropped"  # events dropped: the publisher's queue was full
