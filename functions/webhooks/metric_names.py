"""The webhooks Lambda's metric names: the one place an emit site takes them from.

Namespace `shared.telemetry.METRICS_NAMESPACE`, one dimension `service` (the Lambda's
POWERTOOLS_SERVICE_NAME, `callscribe-webhooks`, set by infra). No alarm or dashboard widget reads
these today (the API's 4xx/5xx and the Lambda's errors do); one that starts to must take the name
from here, and tests/infra/test_metrics_emitted.py then checks the Lambda emits it. Imports nothing.
"""

from __future__ import annotations

from typing import Final

# One per request answered, by route.
VOICE_WEBHOOK: Final = "VoiceWebhook"
STATUS_CALLBACK: Final = "StatusCallback"
RECORDING_CALLBACK: Final = "RecordingCallback"
OUTBOUND_CALL_CREATED: Final = "OutboundCallCreated"
CALL_VIEWED: Final = "CallViewed"

# One per request refused or failed, by what `errors.py` answered.
INVALID_SIGNATURE: Final = "InvalidSignature"  # 403: missing or wrong X-Twilio-Signature
FOREIGN_ACCOUNT: Final = "ForeignAccount"  # 403: signed, but another Twilio account's call
# 403 on POST /calls: `to` or `connectTo` starts with no OUTBOUND_ALLOWED_PREFIXES prefix
OUTBOUND_DESTINATION_REFUSED: Final = "OutboundDestinationRefused"
INVALID_INPUT: Final = "InvalidInput"  # 422
MALFORMED_REQUEST: Final = "MalformedRequest"  # 400
CALL_NOT_FOUND: Final = "CallNotFound"  # 404 on GET /calls/{callSid}
ROUTE_NOT_FOUND: Final = "RouteNotFound"  # 404: no such route
TWILIO_API_ERROR: Final = "TwilioApiError"  # POST /calls: Twilio's REST API refused or failed
DEPENDENCY_FAILURE: Final = "DependencyFailure"  # 503: DynamoDB failed
MISCONFIGURED: Final = "Misconfigured"  # 500: a setting is missing or wrong
UNEXPECTED_ERROR: Final = "UnexpectedError"  # 500: a bug
