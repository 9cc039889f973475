"""The webhooks Lambda: `handler(event, context)` for API Gateway REST (v1) proxy events.

Routes are thin: parse into a typed model, call one function in `logic`, answer. The Twilio
signature check, then the account check (`AccountSid` must be ours), are middleware on every
`/twilio/*` route (403, nothing written); domain errors are mapped to answers in `errors`. Nothing
here reads configuration at import time, and Twilio's REST client is imported only by POST /calls,
so a cold start stays small. The garbage collector is off while the module imports and what the
import built is frozen at its end (docs/benchmarks.md, "Cold start": a full collection during init
scans ~50,000 long-lived objects and frees next to nothing).
"""

# ruff: noqa: E402 - the collector is switched off before the imports it would otherwise scan
from __future__ import annotations

import gc

gc.disable()

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.webhooks import dependencies, errors, logic, metric_names, twiml
from functions.webhooks.errors import ForeignAccountError, InvalidInputError
from functions.webhooks.inputs import CreateCallRequest, RecordingCallback, StatusCallback, VoiceRequest
from functions.webhooks.logic import Services
from functions.webhooks.twiml import CallbackUrls
from functions.webhooks.urls import public_base_url
from shared.errors import InvalidSignatureError, MalformedRequestError
from shared.observability import LambdaHandler, lambda_entry, logger, metrics, tracer
from shared.sids import is_call_sid
from shared.signatures import SIGNATURE_HEADER, FormParams, verify_api_gateway_event
from shared.transcript_pages import TranscriptPage
from shared.validation import describe_errors

TWIML = "text/xml"
FORM_CONTEXT_KEY = "twilio_form"
SERVICES_CONTEXT_KEY = "services"

app = APIGatewayRestResolver()
errors.register(app)


def create_app(services_provider: Callable[[], Services]) -> LambdaHandler:
    """A request handler whose routes use `services_provider()`'s wiring (no Powertools decorators:
    `create_handler` adds them; benchmarks time the resolver alone with this).

    The provider is called inside the request, so a configuration error is answered 500 like any
    other. Routes are registered once on the module's resolver (Powertools keeps per-request state on
    it, and Lambda runs one request per instance at a time).
    """

    def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        app.context[SERVICES_CONTEXT_KEY] = services_provider
        result: dict[str, Any] = app.resolve(event, context)
        return result

    return resolve


def create_handler(services_provider: Callable[[], Services]) -> LambdaHandler:
    """The Lambda entry point's code bound to `services_provider()`'s wiring.

    `handler` is this bound to the process's wiring (`dependencies.services`, built from the
    environment on first use); the local stack and tests bind their own settings and adapters the
    same way, so no environment variable is set and nothing global is swapped or reset.
    """
    resolve = create_app(services_provider)

    @lambda_entry(correlation_paths.API_GATEWAY_REST)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # X-Ray: "## handler"
        return resolve(event, context)

    return handler


def services() -> Services:
    """This request's wiring: the provider its handler was created with (the context is per request)."""
    provider: Callable[[], Services] = app.context[SERVICES_CONTEXT_KEY]
    return provider()


def twilio_signature(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Parse the form body and verify X-Twilio-Signature over it before any route code runs.

    An unsigned request is refused before its body is even parsed: whatever it carries, it is 403.
    """
    event = app.current_event
    if not event.headers.get(SIGNATURE_HEADER):
        raise InvalidSignatureError("X-Twilio-Signature is missing")
    form = FormParams.parse(event.body, is_base64=bool(event.is_base64_encoded))
    settings = services().settings
    # Both tokens during a rotation: once the secondary is promoted Twilio signs with it, possibly
    # before this container has read the new primary (docs/deploy.md, "Rotating the auth token").
    if not verify_api_gateway_event(event.raw_event, form, settings.auth_tokens(), settings.webhook_base_url):
        raise InvalidSignatureError("X-Twilio-Signature does not verify")
    if "CallSid" in form:
        logger.append_keys(call_sid=form["CallSid"])
    app.context[FORM_CONTEXT_KEY] = form
    return next_middleware(app)


def own_account(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Refuse a signed request about another Twilio account's call before anything is written.

    The signature only proves Twilio sent it with a token we hold; a subaccount, or another product
    sharing the token, would otherwise create call records here. Runs after `twilio_signature`.
    """
    account_sid = _form().get("AccountSid")
    if not account_sid:
        raise MalformedRequestError("AccountSid is missing")  # Twilio sends it on every call webhook
    if account_sid != services().settings.twilio_account_sid:
        raise ForeignAccountError(account_sid)
    return next_middleware(app)


def _form() -> FormParams:
    form: FormParams = app.context[FORM_CONTEXT_KEY]
    return form


def _callbacks() -> CallbackUrls:
    return CallbackUrls.under(
        public_base_url(app.current_event.raw_event, services().settings.webhook_base_url)
    )


def _empty(status: int = HTTPStatus.NO_CONTENT) -> Response[str]:
    return Response(status_code=status, content_type=TWIML, body="")


@app.post("/twilio/voice", middlewares=[twilio_signature, own_account])
@tracer.capture_method
def voice() -> Response[str]:
    request = VoiceRequest.from_form(_form())
    body = logic.answer_voice(request, services(), _callbacks())
    # Here, not in each route's builder: every stream this call's TwiML starts carries the token.
    body = twiml.sign_streams(
        body, call_sid=request.call_sid, auth_token=services().settings.twilio_auth_token.get_secret_value()
    )
    metrics.add_metric(name=metric_names.VOICE_WEBHOOK, unit="Count", value=1)
    return Response(status_code=HTTPStatus.OK, content_type=TWIML, body=body)


@app.post("/twilio/status", middlewares=[twilio_signature, own_account])
@tracer.capture_method
def status() -> Response[str]:
    callback = StatusCallback.from_form(_form())
    logic.apply_status(callback, services())
    metrics.add_metric(name=metric_names.STATUS_CALLBACK, unit="Count", value=1)
    return _empty()


@app.post("/twilio/recording", middlewares=[twilio_signature, own_account])
@tracer.capture_method
def recording() -> Response[str]:
    callback = RecordingCallback.from_form(_form())
    logic.apply_recording(callback, services())
    metrics.add_metric(name=metric_names.RECORDING_CALLBACK, unit="Count", value=1)
    return _empty()


@app.post("/calls")
@tracer.capture_method
def create_call() -> Response[str]:
    event = app.current_event
    try:
        payload = json.loads(event.decoded_body or "")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: deeply nested brackets pass no ValueError; they are as malformed as any.
        raise MalformedRequestError("body must be a JSON object") from exc
    if not isinstance(payload, dict):
        raise MalformedRequestError("body must be a JSON object")
    try:
        request = CreateCallRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInputError(describe_errors(exc)) from exc
    call_sid = logic.start_outbound_call(request, services(), _callbacks())
    metrics.add_metric(name=metric_names.OUTBOUND_CALL_CREATED, unit="Count", value=1)
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"callSid": call_sid}),
    )


@app.get("/calls/<callSid>")
@tracer.capture_method
def get_call(callSid: str) -> Response[str]:
    if not is_call_sid(callSid):
        raise MalformedRequestError("callSid must be CA followed by 32 hex digits")
    logger.append_keys(call_sid=callSid)
    page = TranscriptPage.from_query(callSid, app.current_event.query_string_parameters)
    view = logic.describe_call(callSid, services(), page)
    metrics.add_metric(name=metric_names.CALL_VIEWED, unit="Count", value=1)
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(view.as_json()),
    )


handler = create_handler(dependencies.services)


# Init is over: everything it built lives as long as the container. Frozen, it is never scanned
# again by a collection (nor paid for by the first request); collection resumes for what requests make.
gc.freeze()
gc.enable()
