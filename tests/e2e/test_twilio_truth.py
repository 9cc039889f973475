"""A call whose `completed` status callback met a table failure ends `completed` after a sweep,
through the local stack: Twilio does not retry a callback we answered 503, so the sweeper reads the
call from Twilio's REST API (the stand-in, which the simulated phone keeps as Twilio keeps its calls)
and writes what Twilio says through the webhooks' own rules.

Its own stack, because it makes the stack's DynamoDB fail (moto's `update_item`, for that one write
of that one call: the terminal status), and sweeps every call its tables hold. The short call is
forwarded (a dialled leg, a dual recording), so the rest of the pipeline runs as usual around it.
`Call Completed` for the recovered status is the outbox's to announce (from the record's transition),
not the sweeper's: that event is checked where the outbox is. The same read gives Twilio's bill,
which `GET /calls/{callSid}` shows beside the estimate.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import DynamoDBBackend

from callscribe_local.aws_local import LocalNames
from callscribe_local.phone import SimulatedPhone, bundled_conversation
from callscribe_local.stack import LocalStack, StackOptions

pytestmark = pytest.mark.e2e

SPEED = 4.0
CLIP_SECONDS = 4.0


class TableFailed(JsonRESTError):
    """What DynamoDB answers when it fails a request (HTTP 500, retried by the SDK, then given up)."""

    code = 500

    def __init__(self) -> None:
        super().__init__("InternalServerError", "Internal server error (injected by the test)")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"e2e-t-calls-{suffix}",
        transcripts_table=f"e2e-t-transcripts-{suffix}",
        idempotency_table=f"e2e-t-idempotency-{suffix}",
        event_bus_name=f"e2e-t-bus-{suffix}",
    )
    with LocalStack(StackOptions(names=names, deepgram_api_key=None, anthropic_api_key=None)) as running:
        yield running


@pytest.fixture
def terminal_status_fails(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """While `failing` is set, the terminal status write of `call_sid` fails in the calls table, as a
    throttled or failing table fails it; every other write goes through."""
    state: dict[str, Any] = {"call_sid": None, "failing": threading.Event(), "refused": 0}
    original = DynamoDBBackend.update_item
    signature = inspect.signature(original)
    calls_table = stack.options.names.calls_table

    def update_item(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs).arguments
        key = bound["key"].get("call_sid", {}).get("S")
        terminal = "status_rank" in bound["expression_attribute_names"].values() and {"N": "4"} in (
            bound["expression_attribute_values"].values()
        )
        if (
            state["failing"].is_set()
            and bound["table_name"] == calls_table
            and key == state["call_sid"]
            and terminal
        ):
            state["refused"] += 1
            raise TableFailed()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", update_item)
    return state


def test_a_completed_callback_answered_503_ends_completed_with_its_duration_after_a_sweep(
    stack: LocalStack, terminal_status_fails: dict[str, Any]
) -> None:
    assert stack.urls is not None
    call_sid = "CA" + uuid.uuid4().hex
    terminal_status_fails["call_sid"] = call_sid
    terminal_status_fails["failing"].set()
    phone = SimulatedPhone(
        stack.urls.api, stack.auth_token, stack.account_sid, speed=SPEED, twilio_api_url=stack.urls.twilio
    )
    result = asyncio.run(phone.call(bundled_conversation().clip(CLIP_SECONDS), call_sid=call_sid))
    terminal_status_fails["failing"].clear()

    # Twilio's side: the call completed; our webhook answered its completed callback 503 (Twilio
    # does not retry that), and every other callback 2xx.
    assert ("status completed", 503) in result.callbacks
    assert terminal_status_fails["refused"] >= 1
    assert all(status < 300 for what, status in result.callbacks if what != "status completed")
    lost = stack.get_call_json(call_sid)
    assert lost is not None
    assert (lost["status"], lost["durationSeconds"], lost["endedAt"]) == ("in-progress", None, None)

    report = stack.sweep()

    assert report["failed"] == []
    assert report["statusesFromTwilio"] == 1
    record = stack.get_call_json(call_sid)
    assert record is not None
    assert record["status"] == "completed"
    assert record["durationSeconds"] == result.duration_seconds
    assert record["endedAt"] is not None
    assert record["endedAt"] >= record["answeredAt"]
    cost = record["cost"]
    assert cost["voiceMinutes"] == 1  # priced as the webhooks price a terminal status
    # and Twilio's bill beside the estimate, read with the same request (the stand-in prices at list
    # price, per started minute: the call's one minute inbound, its recording's one minute)
    assert cost["billed"]["twilioVoice"] == 0.0085
    assert cost["billed"]["twilioRecording"] == 0.0025
    assert cost["billed"]["total"] == 0.011
    assert cost["billed"]["priceUnit"] == "USD"
    assert cost["billed"]["total"] == round(cost["twilioVoiceUsd"] + cost["twilioRecordingUsd"], 6)
    assert report["pricesFromTwilio"] >= 1  # the call's (and its dialled leg's, priced on its own)
