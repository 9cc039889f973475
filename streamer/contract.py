"""What the rest of the product relies on the streamer to expose: its paths, its service name and the
names of its metrics.

infra builds the target group's health check, the STREAM_URL, the autoscaling policy, the alarms and
the dashboard from these, so a renamed metric or path changes both sides at once instead of leaving
an alarm watching nothing. This module imports nothing (infra imports it at synth without the
streamer's runtime: websockets, Deepgram, uvloop); keep it that way.
"""

from __future__ import annotations

from typing import Final

# Twilio Media Streams connect here (the contract's WebSocket path).
MEDIA_PATH: Final = "/media"
# 200 while the task accepts calls: the ALB's health check and the drain signal.
HEALTH_PATH: Final = "/healthz"
# POWERTOOLS_SERVICE_NAME, and so the `service` dimension of every streamer metric.
SERVICE_NAME: Final = "callscribe-streamer"

# Metrics (namespace shared.telemetry.METRICS_NAMESPACE, one dimension `service`). ActiveCalls is a
# per-task gauge (autoscaling tracks its average); the rest count per flush interval.
ACTIVE_CALLS: Final = "ActiveCalls"
FRAMES_IN: Final = "FramesIn"
FRAMES_DROPPED: Final = "FramesDropped"
DEEPGRAM_RECONNECTS: Final = "DeepgramReconnects"
SEGMENTS_WRITTEN: Final = "SegmentsWritten"
WRITE_RETRIES: Final = "WriteRetries"
SEGMENT_STORE_LATENCY: Final = "SegmentStoreLatency"  # milliseconds, a distribution
BAD_MESSAGES: Final = "BadMessages"
DEEPGRAM_FAILURES: Final = "DeepgramFailures"
DUPLICATE_RESULTS: Final = "DuplicateResults"
SEGMENT_WRITE_FAILURES: Final = "SegmentWriteFailures"
STREAMS_REFUSED: Final = "StreamsRefused"  # a `start` refused: malformed, not a call SID, bad token,
# or its call's stream claimed already (running or ended)
STREAM_TIMEOUTS: Final = "StreamTimeouts"  # no `start` in time, or no media for a while
STREAMS_RATE_LIMITED: Final = "StreamsRateLimited"  # closed for sending far above Twilio's rate
STREAM_CLAIM_FAILURES: Final = "StreamClaimFailures"  # the call record unreachable for a stream's claim
AGENT_TURNS: Final = "AgentTurns"
AGENT_BARGE_INS: Final = "AgentBargeIns"
AGENT_TOOL_CALLS: Final = "AgentToolCalls"
AGENT_TOOL_FAILURES: Final = "AgentToolFailures"
AGENT_MODEL_ERRORS: Final = "AgentModelErrors"
AGENT_FIRST_AUDIO: Final = "AgentFirstAudioLatency"  # caller's turn end -> first agent audio byte sent
# the live feed (streamer/live_feed.py): events AppSync accepted, refused or unreachable, and dropped
# because the publisher's queue was full (the table still holds every segment)
FEED_EVENTS_PUBLISHED: Final = "FeedEventsPublished"
FEED_PUBLISH_FAILURES: Final = "FeedPublishFailures"
FEED_EVENTS_DROPPED: Final = "FeedEventsDropped"
