"""POST /calls, recording and status logic against fakes: what is asked of Twilio and stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from functions.webhooks import logic
from functions.webhooks.destinations import DestinationNotAllowedError, country_calling_code
from functions.webhooks.inputs import CreateCallRequest, RecordingCallback, StatusCallback
from functions.webhooks.logic import Services
from functions.webhooks.twiml import CallbackUrls
from shared.dal.keys import recording_segment_key, segment_key
from shared.dal.records import RECORDING, Gap, ReconciliationUpdate, Segment
from shared.errors import CallNotFoundError, ConfigError, MalformedRequestError
from tests.support.fake_calls.recordings import FakeRecordingCalls
from tests.support.fake_outbox import announced
from tests.support.twilio_forms import recording_params, status_params
from tests.unit.webhooks.conftest import BASE, FakeCallsApi

SID = "CA" + "4" * 32


def test_outbound_call_is_created_with_callbacks_and_recorded(
    make_services: Callable[..., Services], callbacks: CallbackUrls, calls_api: FakeCallsApi
) -> None:
    services = make_services(TWILIO_FROM_NUMBER="+14155550999")
    request = CreateCallRequest.model_validate({"to": "+14155550100", "connectTo": "+14155550111"})
    sid = logic.start_outbound_call(request, services, callbacks)
    assert sid == calls_api.sid
    [call] = calls_api.created
    assert call.to == "+14155550100"
    assert call.from_number == "+14155550999"
    assert call.twiml_url == f"{BASE}/twilio/voice"
    assert call.status_callback == f"{BASE}/twilio/status"
    assert call.recording_status_callback == f"{BASE}/twilio/recording"
    assert call.record
    item = services.store.items[sid]  # type: ignore[attr-defined]
    assert item["direction"] == "outbound-api"
    assert item["connect_to"] == "+14155550111"
    assert item["route"] == "outbound"
    assert item["status"] == "queued"


def test_outbound_call_needs_a_from_number(
    make_services: Callable[..., Services], callbacks: CallbackUrls, calls_api: FakeCallsApi
) -> None:
    request = CreateCallRequest.model_validate({"to": "+14155550100", "connectTo": "+14155550111"})
    with pytest.raises(MalformedRequestError, match="from"):
        logic.start_outbound_call(request, make_services(), callbacks)
    assert calls_api.created == []


def test_explicit_from_wins(
    make_services: Callable[..., Services], callbacks: CallbackUrls, calls_api: FakeCallsApi
) -> None:
    request = CreateCallRequest.model_validate(
        {"to": "+14155550100", "connectTo": "+14155550111", "from": "+14155550888"}
    )
    logic.start_outbound_call(request, make_services(TWILIO_FROM_NUMBER="+14155550999"), callbacks)
    assert calls_api.created[0].from_number == "+14155550888"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+14155550100", "+1"),
        ("+79161234567", "+7"),
        ("+442071838750", "+44"),
        ("+201001234567", "+20"),
        ("+35312345678", "+353"),
        ("+2348012345678", "+234"),
        ("+88213000001", "+882"),
    ],
)
def test_country_calling_codes(number: str, code: str) -> None:
    assert country_calling_code(number) == code


def test_by_default_only_the_countries_of_the_configured_numbers_are_dialled(
    make_services: Callable[..., Services], callbacks: CallbackUrls, calls_api: FakeCallsApi
) -> None:
    routes = {"+442071838750": {"forwardTo": "+14155550111"}, "*": {"agent": {"transferTo": "+33142685300"}}}
    services = make_services(TWILIO_FROM_NUMBER="+14155550999", CALL_ROUTES=json.dumps(routes))
    assert services.settings.dial_prefixes() == ("+1", "+33", "+44")
    for to in ("+19005550100", "+442071838751", "+33612345678"):
        request = CreateCallRequest.model_validate({"to": to, "connectTo": "+14155550111"})
        logic.start_outbound_call(request, services, callbacks)
    writes = services.store.writes  # type: ignore[attr-defined]
    refused = (("+2348012345678", "+14155550111", "to"), ("+14155550100", "+8821300001", "connectTo"))
    for to, connect_to, field in refused:
        request = CreateCallRequest.model_validate({"to": to, "connectTo": connect_to})
        with pytest.raises(DestinationNotAllowedError, match=f'"{field}" is not a destination'):
            logic.start_outbound_call(request, services, callbacks)
    assert len(calls_api.created) == 3  # nothing called
    assert services.store.writes == writes  # type: ignore[attr-defined]  # nothing written


def test_with_no_configured_number_and_no_setting_nothing_is_dialled(
    make_services: Callable[..., Services], callbacks: CallbackUrls, calls_api: FakeCallsApi
) -> None:
    services = make_services(CALL_ROUTES="")
    request = CreateCallRequest.model_validate(
        {"to": "+14155550100", "connectTo": "+14155550111", "from": "+14155550888"}
    )
    with pytest.raises(DestinationNotAllowedError, match="allowed prefixes: none"):
        logic.start_outbound_call(request, services, callbacks)
    assert calls_api.created == []


@pytest.mark.parametrize(
    ("setting", "allowed"), [("+", ("+",)), (" +1415 ,+44", ("+1415", "+44")), ("", ("+1",))]
)
def test_the_setting_replaces_the_default(
    make_services: Callable[..., Services], setting: str, allowed: tuple[str, ...]
) -> None:
    services = make_services(TWILIO_FROM_NUMBER="+14155550999", OUTBOUND_ALLOWED_PREFIXES=setting)
    assert services.settings.dial_prefixes() == allowed


@pytest.mark.parametrize("setting", ["44", "+0", "+1-415", "+1234567890123456"])
def test_a_prefix_that_is_not_e164_is_a_configuration_error(
    make_services: Callable[..., Services], setting: str
) -> None:
    with pytest.raises(ConfigError, match="OUTBOUND_ALLOWED_PREFIXES"):
        make_services(OUTBOUND_ALLOWED_PREFIXES=setting)


def test_in_progress_recording_never_overwrites_completed(make_services: Callable[..., Services]) -> None:
    services = make_services()
    assert logic.apply_recording(RecordingCallback.from_form(recording_params(SID, "completed")), services)
    assert not logic.apply_recording(
        RecordingCallback.from_form(recording_params(SID, "in-progress")), services
    )
    assert logic.apply_recording(
        RecordingCallback.from_form(recording_params(SID, "completed")), services
    )  # retry
    recording = services.store.items[SID]["recording"]  # type: ignore[attr-defined]
    assert recording["status"] == "completed"
    assert recording["duration_seconds"] == 37


def test_status_then_view(make_services: Callable[..., Services]) -> None:
    services = make_services()
    logic.apply_status(StatusCallback.from_form(status_params(SID, "completed", 3, duration=42)), services)
    view = logic.describe_call(SID, services).as_json()
    assert view["status"] == "completed"
    assert view["durationSeconds"] == 42
    assert view["transcript"] == []
    assert view["transcriptNextCursor"] is None
    assert view["recording"] is None
    assert view["summary"] is None
    assert [e.status for e in announced(services.store.table)] == ["completed"]  # type: ignore[attr-defined]


def test_unknown_call(make_services: Callable[..., Services]) -> None:
    with pytest.raises(CallNotFoundError):
        logic.describe_call(SID, make_services())


def test_view_has_the_contract_keys_in_order_with_plain_numbers(
    make_services: Callable[..., Services],
) -> None:
    services = make_services()
    logic.apply_status(StatusCallback.from_form(status_params(SID, "completed", 3, duration=42)), services)
    logic.apply_recording(RecordingCallback.from_form(recording_params(SID, "completed")), services)
    view = logic.describe_call(SID, services).as_json()
    assert list(view) == [
        "callSid", "status", "direction", "from", "to", "route", "connectTo", "parentCallSid", "startedAt",
        "answeredAt", "endedAt", "durationSeconds", "answeredBy", "recording", "recordingExpected", "cost",
        "legs", "conversationCostUsd", "transcriptStatus", "transcriptSource", "transcriptVersion",
        "reconciledTranscriptStatus",
        "liveCoverage", "gaps", "transcript",
        "transcriptNextCursor", "summaryStatus",
        "summary", "evaluations", "evaluationsVersion",
    ]  # fmt: skip
    assert list(view["recording"]) == ["sid", "url", "status", "durationSeconds", "channels"]
    assert (view["recording"]["durationSeconds"], view["recording"]["channels"]) == (37, 2)


LEG = "CA" + "5" * 32


def _leg_status(status: str, sequence: int, **extra: str) -> StatusCallback:
    """A status callback of the forward's dialled leg, as `<Number statusCallback>` makes Twilio send."""
    return StatusCallback.from_form(
        status_params(
            LEG,
            status,
            sequence,
            ParentCallSid=SID,
            Direction="outbound-dial",
            To="+14155550199",
            Called="+14155550199",
            **extra,
        )
    )


def test_a_dialled_leg_is_its_own_record_listed_and_priced_on_its_parent(
    make_services: Callable[..., Services],
) -> None:
    services = make_services()
    logic.apply_status(StatusCallback.from_form(status_params(SID, "in-progress", 2)), services)
    for sequence, status in enumerate(("initiated", "ringing", "in-progress")):
        logic.apply_status(_leg_status(status, sequence), services)
    logic.apply_status(_leg_status("ringing", 1), services)  # a retry changes nothing
    view = logic.describe_call(SID, services).as_json()
    assert [leg["callSid"] for leg in view["legs"]] == [LEG]
    assert view["legs"][0]["cost"] is None  # the leg has not ended: not priced yet
    assert view["conversationCostUsd"] is None

    logic.apply_status(_leg_status("completed", 3, CallDuration="61"), services)
    logic.apply_status(StatusCallback.from_form(status_params(SID, "completed", 3, duration=65)), services)
    view = logic.describe_call(SID, services).as_json()
    (leg,) = view["legs"]
    assert (leg["direction"], leg["to"], leg["status"], leg["durationSeconds"]) == (
        "outbound-dial", "+14155550199", "completed", 61,
    )  # fmt: skip
    prices = services.settings.costs.call_prices
    assert leg["cost"]["voiceMinutes"] == 2  # Twilio bills the started minute
    assert leg["cost"]["totalUsd"] == pytest.approx(2 * prices.twilio_outbound_per_minute)
    assert view["cost"]["totalUsd"] == pytest.approx(2 * prices.twilio_inbound_per_minute)
    assert view["conversationCostUsd"] == pytest.approx(leg["cost"]["totalUsd"] + view["cost"]["totalUsd"])
    assert logic.describe_call(LEG, services).as_json()["parentCallSid"] == SID


def test_the_view_shows_twilios_bill_beside_the_estimate(make_services: Callable[..., Services]) -> None:
    services = make_services()
    logic.apply_status(StatusCallback.from_form(status_params(SID, "completed", 3, duration=65)), services)
    assert logic.describe_call(SID, services).as_json()["cost"]["billed"] is None  # not read yet
    read = "2026-11-22T10:40:00.000Z"
    billed = {"twilio_voice": 0.017, "total": 0.017, "price_unit": "USD", "read_at": read}
    services.store.items[SID]["cost"]["billed"] = billed  # type: ignore[attr-defined]
    cost = logic.describe_call(SID, services).as_json()["cost"]
    assert cost["billed"] == {
        "twilioVoice": 0.017,
        "twilioRecording": None,
        "total": 0.017,
        "priceUnit": "USD",
        "readAt": read,
    }
    assert cost["totalUsd"] == cost["twilioVoiceUsd"]  # the estimate is unchanged beside it


def test_a_leg_callback_never_creates_its_parent(make_services: Callable[..., Services]) -> None:
    services = make_services()
    logic.apply_status(_leg_status("completed", 3, CallDuration="5"), services)
    assert SID not in services.store.items  # type: ignore[attr-defined]
    assert logic.describe_call(LEG, services).as_json()["status"] == "completed"


def test_view_reports_the_reconciliation_and_each_segments_source(
    make_services: Callable[..., Services],
) -> None:
    services = make_services()
    logic.apply_status(StatusCallback.from_form(status_params(SID, "completed", 3, duration=42)), services)
    live = Segment(
        call_sid=SID,
        segment_key=segment_key(1.0, "inbound"),
        track="inbound",
        speaker="caller",
        text="Hello.",
        start=1.0,
        end=1.6,
        source="deepgram:nova-3",
    )
    filled = replace(
        live, segment_key=recording_segment_key(2.0, "inbound"), text="Can you hear me?", start=2.0, end=3.1
    )
    services.segments.write_segments([live])  # type: ignore[attr-defined]

    before = logic.describe_call(SID, services).as_json()
    assert (before["transcriptSource"], before["liveCoverage"], before["gaps"]) == (None, None, None)
    assert [line["source"] for line in before["transcript"]] == ["live"]

    services.segments.write_recording_segments([replace(filled, origin=RECORDING)])  # type: ignore[attr-defined]
    FakeRecordingCalls(services.store.table).save_reconciliation(  # type: ignore[attr-defined]
        ReconciliationUpdate(
            call_sid=SID,
            transcript_source="live+recording",
            segment_count=3,
            live_coverage=0.4,
            gaps=(Gap("inbound", 2.0, 3.1),),
            filled_seconds=1.1,
            transcript_version="0123456789abcdef",
            alignment_offset=0.0,
            alignment_method="words",
            alignment_matches=9,
            transcript_status="completed",
        )
    )
    after = logic.describe_call(SID, services).as_json()
    assert (after["transcriptSource"], after["liveCoverage"]) == ("live+recording", 0.4)
    assert after["gaps"] == [{"track": "inbound", "start": 2.0, "end": 3.1}]
    assert [(line["text"], line["source"]) for line in after["transcript"]] == [
        ("Hello.", "live"),
        ("Can you hear me?", "recording"),
    ]
    assert list(after["transcript"][0]) == ["track", "speaker", "text", "start", "end", "source", "segmentId"]
    assert [line["segmentId"] for line in after["transcript"]] == [live.segment_key, filled.segment_key]
