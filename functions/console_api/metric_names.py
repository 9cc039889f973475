"""The people's read API's metric names: the one place an emit site takes them from.

Namespace `shared.telemetry.METRICS_NAMESPACE`, one dimension `service` (the Lambda's
POWERTOOLS_SERVICE_NAME, `callscribe-console-api`, set by infra). Imports nothing.
"""

from __future__ import annotations

from typing import Final

# One per request answered, by route.
CALLS_LISTED: Final = "CallsListed"
CALL_VIEWED: Final = "CallViewed"
RECORDING_LINK_ISSUED: Final = "RecordingLinkIssued"  # every one is also logged with who and which call

# One per request refused or failed, by what `errors.py` answered.
ACCESS_DENIED: Final = "AccessDenied"  # 403: signed in, but not in the group the route needs
MALFORMED_REQUEST: Final = "MalformedRequest"  # 400
CALL_NOT_FOUND: Final = "CallNotFound"  # 404: no such call
RECORDING_NOT_FOUND: Final = "RecordingNotFound"  # 404: the call has no stored recording (yet)
ROUTE_NOT_FOUND: Final = "RouteNotFound"  # 404: no such route
DEPENDENCY_FAILURE: Final = "DependencyFailure"  # 503: DynamoDB failed
MISCONFIGURED: Final = "Misconfigured"  # 500: a setting is missing or wrong
UNEXPECTED_ERROR: Final = "UnexpectedError"  # 500: a bug
