"""Lambda entry point: `handler(event, context)` for the EventBridge scheduled event (every 5 minutes).

The event says only that it is time; the run reads the due calls itself. `handler` builds the
service from the environment on the first invocation and keeps it for the container's life;
`create_handler` binds the same code to a service built elsewhere (the local stack, tests). A run
that could not sweep every due call raises after sweeping the others (the Lambda's error alarm);
there is nothing to retry within the run: the next scheduled run picks up what is still due.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.sweeper.service import SweeperService, SweepPolicy
from functions.sweeper.settings import SweeperSettings
from functions.sweeper.twilio_check import TwilioCheck, TwilioPolicy
from functions.sweeper.twilio_rest import TwilioRestReader
from shared import aws
from shared.dal.calls.sweep import DynamoSweeperCalls
from shared.dal.segments import DynamoSegments
from shared.events import EventBridgePublisher
from shared.observability import LambdaHandler, lambda_entry, logger


def build_service(config: SweeperSettings) -> SweeperService:
    calls = DynamoSweeperCalls(config.calls_table)
    prices = config.costs.call_prices
    reader = TwilioRestReader(
        config.twilio_account_sid, config.twilio_auth_token.get_secret_value(), config.twilio_api_base_url
    )
    return SweeperService(
        SweepPolicy.of(config),
        calls=calls,
        segments=DynamoSegments(config.transcripts_table),
        publisher=EventBridgePublisher(aws.events(), config.event_bus_name),
        prices=prices,
        twilio=TwilioCheck(TwilioPolicy.of(config), calls, reader, prices=prices),
    )


def create_handler(service: Callable[[], SweeperService]) -> LambdaHandler:
    """The Lambda entry point's code bound to `service()` (asked on each run: cache it)."""

    @lambda_entry()
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # X-Ray: "## handler"
        return _handle(event, context, service)

    return handler


def _handle(
    event: dict[str, Any], context: LambdaContext, service: Callable[[], SweeperService]
) -> dict[str, Any]:
    logger.info("sweep scheduled", extra={"scheduled_at": event.get("time"), "event_id": event.get("id")})
    report = service().sweep(lambda: context.get_remaining_time_in_millis() / 1000)
    return report.as_dict()


@cache
def service() -> SweeperService:
    """The container's service, from its environment on the first run."""
    return build_service(SweeperSettings.from_env())


handler = create_handler(service)
