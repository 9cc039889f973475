"""What each webhook means for the call: decide, write the call record, answer.

Handlers in `app` parse and call exactly one function here; this module never sees an HTTP event
and never touches boto3 or Twilio's SDK directly (only the ports in `Services`), so unit tests run
it against in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from functions.webhooks import twiml
from functions.webhooks.cdr import advance
from functions.webhooks.destinations import check_destinations
from functions.webhooks.inputs import CreateCallRequest, RecordingCallback, StatusCallback, VoiceRequest
from functions.webhooks.settings import DEFAULT_UNAVAILABLE, DEFAULT_VOICEMAIL_THANKS, WebhookSettings
from functions.webhooks.twilio_calls import CallsApi, OutboundCall
from shared import call_view, clock
from shared.call_view import CallView
from shared.costs import record_cost
from shared.dal.ports import SegmentPageReader, WebhookCallWrites
from shared.dal.records import RECORDING_COMPLETED, CallParties, CallUpsert, RecordingUpdate
from shared.errors import ConfigError, MalformedRequestError
from shared.listen import is_under
from shared.observability import logger
from shared.routing import AgentRoute, ForwardRoute, ListenRoute, OutboundRoute, Route
from shared.status import CallStatus
from shared.status_changes import StatusChange
from shared.transcript_pages import TranscriptPage

OUTBOUND_API = "outbound-api"
ROUTE_OUTBOUND = "outbound"
DIAL_CONNECTED = frozenset({"completed", "answered"})


@dataclass(frozen=True)
class Services:
    """The ports one request may use; built once per process by `dependencies.build_services`."""

    settings: WebhookSettings
    store: WebhookCallWrites
    calls_api: Callable[[], CallsApi]  # lazy: only POST /calls pays for Twilio's REST client
    segments: SegmentPageReader


def _route_name(route: Route) -> str:
    """The call record's `route`: the route's kind (forward, voicemail, agent, listen)."""
    return route.kind


def _stream_parameters(
    request: VoiceRequest, route_name: str, connect_to: str | None, route: Route | OutboundRoute
) -> dict[str, str | None]:
    """What the streamer reads from `start.customParameters` (it also gets callSid from Twilio).

    `language` and `model` (when the route names them) configure the call's Deepgram connections;
    like every parameter, they are covered by the stream token (`twiml.sign_streams`)."""
    return {
        "callSid": request.call_sid,
        "direction": request.direction,
        "from": request.from_number,
        "to": request.to_number,
        "route": route_name,
        "connectTo": connect_to,
        "language": route.transcription_language,
        "model": route.model,
    }


def answer_voice(request: VoiceRequest, services: Services, callbacks: twiml.CallbackUrls) -> str:
    """TwiML for a call: the first request of a call, or the action of our own <Dial>/<Record>."""
    settings = services.settings
    if request.recording_url is not None and request.dial_call_status is None:
        logger.info("voicemail recorded", extra={"recording_url": request.recording_url})
        return twiml.say_and_hang_up(DEFAULT_VOICEMAIL_THANKS)
    if request.dial_call_status is not None:
        return _after_dial(request, services, callbacks)

    if request.direction == OUTBOUND_API:
        return _answer_outbound(request, services, callbacks)

    route = settings.call_routes.route_for(request.to_number)
    if isinstance(route, ListenRoute):
        return _answer_listen(request, services, callbacks, route)
    route_name = _route_name(route)
    connect_to = route.forward_to if isinstance(route, ForwardRoute) else None
    _record_call(request, services, route_name=route_name, route=route, connect_to=connect_to)
    parameters = _stream_parameters(request, route_name, connect_to, route)
    logger.info(
        "answering call", extra={"route": route_name, "direction": request.direction, "record": route.record}
    )
    if isinstance(route, ForwardRoute):
        return twiml.forward(
            stream_url=settings.stream_url,
            parameters=parameters,
            notice=settings.recording_notice,
            number=route.forward_to,
            callbacks=callbacks,
            record=route.record,
            timeout_seconds=settings.dial_timeout_seconds,
        )
    if isinstance(route, AgentRoute):
        agent = route.agent
        return twiml.agent(
            stream_url=settings.stream_url,
            parameters={
                **parameters,
                "greeting": agent.greeting,
                "voice": agent.voice,
                "transferTo": agent.transfer_to,
                "notice": settings.recording_notice,
            },
            callbacks=callbacks if route.record else None,
        )
    return _voicemail(services, callbacks, route, stream_url=settings.stream_url, parameters=parameters)


def _answer_listen(
    request: VoiceRequest, services: Services, callbacks: twiml.CallbackUrls, route: ListenRoute
) -> str:
    """Stream (and record) the call, then hand it to the team's TwiML URL.

    A call that comes back here (a Studio flow that redirects to us twice, say) already streams and
    records: it is handed back without a second stream or recording, and its record is left as it is.
    """
    target = route.listen
    if is_under(target.twiml_url, callbacks.base):
        # settings catch this when WEBHOOK_BASE_URL is set; without it only the request tells
        raise ConfigError(f"a listen route hands calls back to this API ({target.twiml_url})")
    existing = services.store.get(request.call_sid)
    if existing is not None and existing.route == route.kind:
        logger.info("listen call came back; handing it over again without a second stream")
        return twiml.hand_back(twiml_url=target.twiml_url, method=target.method)
    _record_call(request, services, route_name=route.kind, route=route, connect_to=None)
    logger.info(
        "answering call",
        extra={"route": route.kind, "direction": request.direction, "record": route.record},
    )
    settings = services.settings
    return twiml.listen(
        stream_url=settings.stream_url,
        parameters=_stream_parameters(request, route.kind, None, route),
        notice=settings.recording_notice,
        twiml_url=target.twiml_url,
        method=target.method,
        callbacks=callbacks if route.record else None,
    )


def _voicemail(
    services: Services,
    callbacks: twiml.CallbackUrls,
    route: Route,
    *,
    stream_url: str | None,
    parameters: dict[str, str | None],
) -> str:
    settings = services.settings
    return twiml.voicemail(
        stream_url=stream_url,
        parameters=parameters,
        notice=settings.recording_notice if stream_url is not None else None,
        greeting=settings.voicemail_greeting,
        callbacks=callbacks,
        max_seconds=settings.voicemail_max_seconds,
        record=route.record,
        thanks=DEFAULT_VOICEMAIL_THANKS,
    )


def _answer_outbound(request: VoiceRequest, services: Services, callbacks: twiml.CallbackUrls) -> str:
    """The answered leg of a call POST /calls placed: stream it, then dial the party stored then."""
    settings = services.settings
    existing = services.store.get(request.call_sid)
    connect_to = existing.connect_to if existing is not None else None
    route = settings.call_routes.outbound
    _record_call(request, services, route_name=ROUTE_OUTBOUND, route=route, connect_to=None)
    parameters = _stream_parameters(request, ROUTE_OUTBOUND, connect_to, route)
    if connect_to is None:
        logger.warning("outbound call has no party to connect; hanging up")
        return twiml.say_and_hang_up(
            DEFAULT_UNAVAILABLE, stream_url=settings.stream_url, parameters=parameters
        )
    return twiml.forward(
        stream_url=settings.stream_url,
        parameters=parameters,
        notice=settings.recording_notice,
        number=connect_to,
        callbacks=callbacks,
        record=False,  # the REST call itself records (dual channel) from answer
        caller_id=request.from_number,
        timeout_seconds=settings.dial_timeout_seconds,
    )


def _after_dial(request: VoiceRequest, services: Services, callbacks: twiml.CallbackUrls) -> str:
    """Our <Dial> ended: hang up after a conversation, else take a message (stream already on)."""
    if request.dial_call_status in DIAL_CONNECTED or request.direction == OUTBOUND_API:
        return twiml.hang_up()
    logger.info("forward target unavailable; voicemail", extra={"dial_call_status": request.dial_call_status})
    route = services.settings.call_routes.route_for(request.to_number)  # the parent call's: our number
    return _voicemail(services, callbacks, route, stream_url=None, parameters={})


def _record_call(
    request: VoiceRequest,
    services: Services,
    *,
    route_name: str,
    route: Route | OutboundRoute,
    connect_to: str | None,
) -> None:
    at = request.event_time()
    services.store.upsert_call(
        CallUpsert(
            call_sid=request.call_sid,
            parties=request.parties(),
            started_at=at,
            route=route_name,
            connect_to=connect_to,
            language=route.transcription_language,
            stt_model=route.model,
            recording_expected=route.record,
        )
    )
    advance(services.store, StatusChange(call_sid=request.call_sid, status=request.call_status, at=at))


def apply_status(callback: StatusCallback, services: Services) -> bool:
    """Advance the call (never backwards; the outbox announces `Call Completed` once the terminal
    status lands). True if it advanced."""
    change = StatusChange(
        call_sid=callback.call_sid,
        status=callback.call_status,
        at=callback.event_time(),
        duration_seconds=callback.call_duration,
        answered_by=callback.answered_by,
        sip_response_code=callback.sip_response_code,
        parties=callback.parties(),
    )
    advanced = advance(services.store, change)
    if callback.parent_call_sid is not None:
        # a <Dial>ed party's leg: its parent lists it, so the call's view can show what it cost
        services.store.add_leg(callback.parent_call_sid, callback.call_sid)
    if callback.call_status.is_terminal:
        update_cost(callback.call_sid, services)  # the leg's billed minutes are known now
    logger.info(
        "status callback",
        extra={
            "status": callback.call_status.value,
            "advanced": advanced,
            "sequence": callback.sequence_number,
        },
    )
    return advanced


def apply_recording(callback: RecordingCallback, services: Services) -> bool:
    """Store the recording's report (the outbox announces `Recording Completed` once a completed
    recording lands on the call); a completed one's minutes go into the call's cost."""
    stored = services.store.update_recording(
        RecordingUpdate(
            call_sid=callback.call_sid,
            sid=callback.recording_sid,
            status=callback.recording_status,
            url=callback.recording_url,
            duration_seconds=callback.recording_duration,
            channels=callback.recording_channels,
            source=callback.recording_source,
            track=callback.recording_track,
            started_at=callback.recording_start_time,
            error_code=callback.error_code,
        )
    )
    if callback.recording_status == RECORDING_COMPLETED:
        update_cost(callback.call_sid, services)  # its minutes, even if it is never reconciled
    logger.info("recording callback", extra={"recording_status": callback.recording_status, "stored": stored})
    return stored


def update_cost(call_sid: str, services: Services) -> None:
    """Recompute the call's cost after this tier's write (shared.costs: never raises; a failure is
    logged, and a later writer recomputes it)."""
    record_cost(services.store, call_sid, services.settings.costs.call_prices, on_error=logger.warning)


def start_outbound_call(request: CreateCallRequest, services: Services, callbacks: twiml.CallbackUrls) -> str:
    """Ask Twilio to ring `to`; its answered leg fetches TwiML that dials `connectTo`. The call SID."""
    settings = services.settings
    from_number = request.from_number or settings.twilio_from_number
    if from_number is None:
        raise MalformedRequestError('"from" is required (no TWILIO_FROM_NUMBER is configured)')
    # both numbers are dialled at our cost: refused before Twilio is asked or anything is written
    check_destinations(settings.dial_prefixes(), to=request.to, connectTo=request.connect_to)
    route = settings.call_routes.outbound
    created = services.calls_api().create_call(
        OutboundCall(
            to=request.to,
            from_number=from_number,
            twiml_url=callbacks.voice,
            status_callback=callbacks.status,
            recording_status_callback=callbacks.recording,
            record=route.record,
        )
    )
    logger.append_keys(call_sid=created.sid)
    now = clock.now_iso()
    services.store.upsert_call(
        CallUpsert(
            call_sid=created.sid,
            parties=CallParties(
                account_sid=settings.twilio_account_sid,
                direction=OUTBOUND_API,
                from_number=from_number,
                to_number=request.to,
            ),
            started_at=now,
            route=ROUTE_OUTBOUND,
            connect_to=request.connect_to,
            language=route.transcription_language,
            stt_model=route.model,
            recording_expected=route.record,
        )
    )
    status = CallStatus(created.status) if created.status in set(CallStatus) else CallStatus.QUEUED
    advance(services.store, StatusChange(call_sid=created.sid, status=status, at=now))
    logger.info("outbound call created", extra={"to": request.to, "connect_to": request.connect_to})
    return created.sid


def describe_call(call_sid: str, services: Services, page: TranscriptPage | None = None) -> CallView:
    """The call with one page of its transcript (the first by default) and the cursor to the next."""
    return call_view.describe_call(call_sid, services.store, services.segments, page)
