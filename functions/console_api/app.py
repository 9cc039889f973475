"""The people's read API Lambda: `handler(event, context)` for API Gateway REST (v1) proxy events.

Behind a Cognito user pool authoriser (401 without a valid token is the gateway's); here every route
first reads the person from the authoriser's claims and needs the viewers group (403 otherwise), and
the recording route the supervisors group too. Routes are thin: parse, call one function in
`logic`, answer JSON with `Cache-Control: no-store`. Nothing reads configuration at import.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.console_api import dependencies, errors, logic
from functions.console_api.access import Person
from functions.console_api.inputs import list_query
from functions.console_api.logic import Services
from shared import clock
from shared.errors import MalformedRequestError
from shared.observability import LambdaHandler, lambda_entry, tracer
from shared.sids import is_call_sid
from shared.transcript_pages import TranscriptPage

# the API's resource paths (infra builds them; the local API Gateway matches them)
RESOURCES = ("/calls", "/calls/{callSid}", "/calls/{callSid}/recording")
SERVICES_CONTEXT_KEY = "services"
PERSON_CONTEXT_KEY = "person"

app = APIGatewayRestResolver()
errors.register(app)


def create_app(services_provider: Callable[[], Services]) -> LambdaHandler:
    """A request handler whose routes use `services_provider()`'s wiring (see functions/webhooks)."""

    def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        app.context[SERVICES_CONTEXT_KEY] = services_provider
        result: dict[str, Any] = app.resolve(event, context)
        return result

    return resolve


def services() -> Services:
    provider: Callable[[], Services] = app.context[SERVICES_CONTEXT_KEY]
    return provider()


def viewers_only(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every route: the signed-in person must be a viewer (a refusal is logged with who asked)."""
    person = Person.from_claims(app.current_event.request_context.authorizer.claims)
    app.context[PERSON_CONTEXT_KEY] = person
    person.require_viewer()
    return next_middleware(app)


app.use(middlewares=[viewers_only])


def _call_sid(value: str) -> str:
    if not is_call_sid(value):
        raise MalformedRequestError("callSid must be CA followed by 32 hex digits")
    return value


@app.get("/calls")
@tracer.capture_method
def list_calls() -> Response[str]:
    settings = services().settings
    query = list_query(app.current_event.query_string_parameters, clock.now(), settings.live_window_hours)
    return errors.answer(HTTPStatus.OK, logic.list_calls(query, services()))


@app.get("/calls/<callSid>")
@tracer.capture_method
def get_call(callSid: str) -> Response[str]:
    call_sid = _call_sid(callSid)
    page = TranscriptPage.from_query(call_sid, app.current_event.query_string_parameters)
    return errors.answer(HTTPStatus.OK, logic.describe_call(call_sid, page, services()).as_json())


@app.get("/calls/<callSid>/recording")
@tracer.capture_method
def get_recording(callSid: str) -> Response[str]:
    call_sid = _call_sid(callSid)
    person: Person = app.context[PERSON_CONTEXT_KEY]
    link = logic.recording_link(call_sid, person, services(), clock.now())
    return errors.answer(HTTPStatus.OK, link.as_json())


def create_handler(services_provider: Callable[[], Services]) -> LambdaHandler:
    """The Lambda entry point over `services_provider()`: the resolver inside Powertools' logger
    context (cleared per request), tracer and metrics, as `handler` runs in AWS. The local stack
    runs one over its own wiring."""
    resolve = create_app(services_provider)

    @lambda_entry(correlation_paths.API_GATEWAY_REST)
    def entry(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return resolve(event, context)

    return entry


handler = create_handler(dependencies.services)
