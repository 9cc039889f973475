"""Domain errors mapped to the people's API's answers, in one place. No answer carries a stack trace.

401 never comes from here: API Gateway's Cognito authoriser answers it before the Lambda runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from functions.console_api import metric_names
from functions.console_api.access import AccessDeniedError, Person
from functions.console_api.logic import RecordingNotFoundError
from shared.errors import CallNotFoundError, ConfigError, MalformedRequestError, StoreError
from shared.observability import logger, metrics

NO_STORE = {"Cache-Control": "no-store"}  # people's data: never kept by a browser or CloudFront


def answer(status: int, body: Any) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=NO_STORE,
    )


def register(app: APIGatewayRestResolver) -> None:
    def on(exc_class: type[Exception], status: int, metric: str, message: Callable[[Exception], str]) -> None:
        def handle(exc: Exception) -> Response[str]:
            metrics.add_metric(name=metric, unit="Count", value=1)
            person = app.context.get("person")
            who = person.log_keys() if isinstance(person, Person) else {}
            if status >= 500:
                logger.exception("request failed", extra={"path": app.current_event.path, **who})
            elif status in (HTTPStatus.FORBIDDEN, HTTPStatus.BAD_REQUEST):
                reason = {"reason": str(exc), "path": app.current_event.path, **who}
                logger.warning("request refused", extra=reason)
            return answer(status, {"message": message(exc)})

        app.exception_handler(exc_class)(handle)

    on(AccessDeniedError, HTTPStatus.FORBIDDEN, metric_names.ACCESS_DENIED, str)
    on(MalformedRequestError, HTTPStatus.BAD_REQUEST, metric_names.MALFORMED_REQUEST, str)
    on(CallNotFoundError, HTTPStatus.NOT_FOUND, metric_names.CALL_NOT_FOUND, lambda _: "call not found")
    on(
        RecordingNotFoundError,
        HTTPStatus.NOT_FOUND,
        metric_names.RECORDING_NOT_FOUND,
        lambda _: "no recording",
    )
    on(NotFoundError, HTTPStatus.NOT_FOUND, metric_names.ROUTE_NOT_FOUND, lambda _: "not found")
    on(
        StoreError,
        HTTPStatus.SERVICE_UNAVAILABLE,
        metric_names.DEPENDENCY_FAILURE,
        lambda _: "temporarily unavailable",
    )
    on(
        ConfigError,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        metric_names.MISCONFIGURED,
        lambda _: "service misconfigured",
    )
    on(Exception, HTTPStatus.INTERNAL_SERVER_ERROR, metric_names.UNEXPECTED_ERROR, lambda _: "internal error")
