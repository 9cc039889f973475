"""Domain errors mapped to HTTP answers, in one place. No answer ever carries a stack trace.

5xx answers on Twilio routes are deliberate when a write failed: nothing was half done that a
retry cannot finish (every write is idempotent), so a retry (or Twilio's next callback, or the
sweeper) completes the work. A write that landed is announced by the outbox whatever is answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError

from functions.webhooks import metric_names
from functions.webhooks.destinations import DestinationNotAllowedError
from functions.webhooks.twilio_calls import TwilioApiError
from shared.errors import (
    CallNotFoundError,
    CallscribeError,
    ConfigError,
    InvalidSignatureError,
    MalformedRequestError,
    StoreError,
)
from shared.observability import logger, metrics


class InvalidInputError(MalformedRequestError):
    """Well-formed JSON that breaks the API's rules (e.g. a number not in E.164): 422."""


class ForeignAccountError(CallscribeError):
    """A correctly signed Twilio request about another account's call: 403, nothing written.

    403 rather than 400: the body is well formed and authentic, it is just not ours to act on (a
    subaccount or another product sharing the token must not create call records here).
    """

    def __init__(self, account_sid: str) -> None:
        super().__init__(f"request is for Twilio account {account_sid}")
        self.account_sid = account_sid


def _json(status: int, message: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": message}),
    )


def _on(
    app: APIGatewayRestResolver, exc_class: type[Exception], handler: Callable[[Any], Response[str]]
) -> None:
    app.exception_handler(exc_class)(handler)


def register(app: APIGatewayRestResolver) -> None:
    def _forbidden(exc: InvalidSignatureError) -> Response[str]:
        logger.warning("rejected request: invalid Twilio signature", extra={"path": app.current_event.path})
        metrics.add_metric(name=metric_names.INVALID_SIGNATURE, unit="Count", value=1)
        return _json(HTTPStatus.FORBIDDEN, "invalid Twilio signature")

    def _foreign_account(exc: ForeignAccountError) -> Response[str]:
        logger.warning(
            "rejected request: another Twilio account",
            extra={"account_sid": exc.account_sid, "path": app.current_event.path},
        )
        metrics.add_metric(name=metric_names.FOREIGN_ACCOUNT, unit="Count", value=1)
        return _json(HTTPStatus.FORBIDDEN, "request is for another Twilio account")

    def _destination_refused(exc: DestinationNotAllowedError) -> Response[str]:
        logger.warning("outbound call refused: destination not allowed", extra={"field": exc.field})
        metrics.add_metric(name=metric_names.OUTBOUND_DESTINATION_REFUSED, unit="Count", value=1)
        return _json(HTTPStatus.FORBIDDEN, str(exc))

    def _unprocessable(exc: InvalidInputError) -> Response[str]:
        metrics.add_metric(name=metric_names.INVALID_INPUT, unit="Count", value=1)
        return _json(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))

    def _bad_request(exc: MalformedRequestError) -> Response[str]:
        logger.warning("malformed request", extra={"reason": str(exc), "path": app.current_event.path})
        metrics.add_metric(name=metric_names.MALFORMED_REQUEST, unit="Count", value=1)
        return _json(HTTPStatus.BAD_REQUEST, str(exc))

    def _call_not_found(exc: CallNotFoundError) -> Response[str]:
        metrics.add_metric(name=metric_names.CALL_NOT_FOUND, unit="Count", value=1)
        return _json(HTTPStatus.NOT_FOUND, "call not found")

    def _route_not_found(exc: NotFoundError) -> Response[str]:
        metrics.add_metric(name=metric_names.ROUTE_NOT_FOUND, unit="Count", value=1)
        return _json(HTTPStatus.NOT_FOUND, "not found")

    def _service_error(exc: ServiceError) -> Response[str]:
        return _json(exc.status_code, str(exc.msg))

    def _twilio_error(exc: TwilioApiError) -> Response[str]:
        logger.warning(
            "Twilio API error",
            extra={"twilio_status": exc.twilio_status, "twilio_code": exc.code, "reason": str(exc)},
        )
        metrics.add_metric(name=metric_names.TWILIO_API_ERROR, unit="Count", value=1)
        return _json(exc.http_status, str(exc))

    def _unavailable(exc: Exception) -> Response[str]:
        logger.exception("dependency failed; asking the sender to retry")
        metrics.add_metric(name=metric_names.DEPENDENCY_FAILURE, unit="Count", value=1)
        return _json(HTTPStatus.SERVICE_UNAVAILABLE, "temporarily unavailable, retry")

    def _misconfigured(exc: ConfigError) -> Response[str]:
        logger.error("misconfigured", extra={"reason": str(exc)})
        metrics.add_metric(name=metric_names.MISCONFIGURED, unit="Count", value=1)
        return _json(HTTPStatus.INTERNAL_SERVER_ERROR, "service misconfigured")

    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unexpected error")
        metrics.add_metric(name=metric_names.UNEXPECTED_ERROR, unit="Count", value=1)
        return _json(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

    _on(app, InvalidSignatureError, _forbidden)
    _on(app, ForeignAccountError, _foreign_account)
    _on(app, DestinationNotAllowedError, _destination_refused)
    _on(app, InvalidInputError, _unprocessable)
    _on(app, MalformedRequestError, _bad_request)
    _on(app, CallNotFoundError, _call_not_found)
    _on(app, NotFoundError, _route_not_found)
    _on(app, ServiceError, _service_error)
    _on(app, TwilioApiError, _twilio_error)
    _on(app, StoreError, _unavailable)
    _on(app, ConfigError, _misconfigured)
    _on(app, Exception, _unexpected)
