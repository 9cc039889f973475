"""The summaries Lambda's metric names: the one place an emit site takes them from.

Namespace `shared.telemetry.METRICS_NAMESPACE`, one dimension `service` (the Lambda's
POWERTOOLS_SERVICE_NAME, `callscribe-summaries`, set by infra). No alarm or dashboard widget reads
these today (the Lambda's errors and the dead-letter queue do); one that starts to must take the name
from here, and tests/infra/test_metrics_emitted.py then checks the Lambda emits it. Imports nothing.
"""

from __future__ import annotations

from typing import Final

EVENTS_RECEIVED: Final = "SummaryEventsReceived"  # every invocation
CREATED: Final = "SummariesCreated"  # a first summary stored
REWRITTEN: Final = "SummariesRewritten"  # rewritten after a reconciliation added words
WITHOUT_SPEECH: Final = "SummariesWithoutSpeech"  # stored without a model call: nothing was said
WRITE_CONFLICTS: Final = "SummaryWriteConflicts"  # another writer stored this summary first
COST_WRITE_FAILURES: Final = "CostWriteFailures"  # the call's cost not recomputed (a later writer does)

# The model: requests and tokens per summary (map-reduce summaries make several requests).
MODEL_REQUESTS: Final = "SummaryModelRequests"
INPUT_TOKENS: Final = "SummaryInputTokens"
OUTPUT_TOKENS: Final = "SummaryOutputTokens"
MODEL_REJECTIONS: Final = "SummaryModelRejections"  # the model refused the request (a 4xx): raised
FAILURES: Final = "SummaryFailures"  # any other summary failure: raised, so EventBridge retries

EVALUATION_ANSWERS: Final = "EvaluationAnswers"  # answers stored
EVALUATION_ANSWERS_REFUSED: Final = "EvaluationAnswersRefused"  # outside their question's type or bounds
