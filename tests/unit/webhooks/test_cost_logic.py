"""The webhooks' share of the cost per call: a terminal status prices the leg (the only writer of a
dialled or unanswered leg), a completed recording adds its minutes, with the configured prices."""

from __future__ import annotations

import json
from collections.abc import Callable

from functions.webhooks import logic
from functions.webhooks.inputs import RecordingCallback, StatusCallback
from functions.webhooks.logic import Services
from shared.costs import PRICES_AS_OF
from tests.support.twilio_forms import recording_params, status_params

SID = "CA" + "c" * 32
PARENT = "CA" + "d" * 32


def _cost(services: Services, call_sid: str = SID) -> dict[str, object] | None:
    call = services.store.get(call_sid)
    assert call is not None
    return call.cost


def test_an_answered_inbound_call_is_priced_at_its_terminal_status(
    make_services: Callable[..., Services],
) -> None:
    services = make_services()
    logic.apply_status(StatusCallback.from_form(status_params(SID, "in-progress", 2)), services)
    assert _cost(services) is None  # not ended: nothing billed yet
    logic.apply_status(StatusCallback.from_form(status_params(SID, "completed", 3, duration=125)), services)
    cost = _cost(services)
    assert cost is not None
    assert (cost["voice_minutes"], cost["twilio_voice_usd"], cost["total_usd"]) == (3, 0.0255, 0.0255)
    assert cost["prices_as_of"] == PRICES_AS_OF

    logic.apply_recording(RecordingCallback.from_form(recording_params(SID, "completed")), services)
    cost = _cost(services)
    assert cost is not None
    assert (cost["recording_minutes"], cost["twilio_recording_usd"]) == (1, 0.0025)  # 37 s
    assert cost["total_usd"] == 0.028


def test_a_dialled_leg_is_priced_as_an_outbound_leg_of_its_own(
    make_services: Callable[..., Services],
) -> None:
    services = make_services()
    form = status_params(SID, "completed", 4, duration=61, Direction="outbound-dial", ParentCallSid=PARENT)
    logic.apply_status(StatusCallback.from_form(form), services)
    cost = _cost(services)
    assert cost is not None
    assert cost.pop("estimated_at")
    assert cost == {
        "total_usd": 0.028,  # 2 started minutes x 0.014
        "voice_minutes": 2,
        "twilio_voice_usd": 0.028,
        "prices_as_of": PRICES_AS_OF,
    }
    call = services.store.get(SID)
    assert call is not None
    assert call.parent_call_sid == PARENT  # its own record, under the call that dialled it


def test_an_unanswered_call_costs_nothing(make_services: Callable[..., Services]) -> None:
    services = make_services()
    form = status_params(SID, "no-answer", 3, duration=0, Direction="outbound-api")
    logic.apply_status(StatusCallback.from_form(form), services)
    cost = _cost(services)
    assert cost is not None
    assert (cost["voice_minutes"], cost["total_usd"]) == (0, 0)


def test_configured_prices_are_used(make_services: Callable[..., Services]) -> None:
    services = make_services(
        CALL_PRICES=json.dumps({"twilio_inbound_per_minute": 0.02, "as_of": "2027-01-01"})
    )
    logic.apply_status(StatusCallback.from_form(status_params(SID, "completed", 3, duration=30)), services)
    cost = _cost(services)
    assert cost is not None
    assert (cost["twilio_voice_usd"], cost["prices_as_of"]) == (0.02, "2027-01-01")
