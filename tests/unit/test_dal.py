"""The data layer's pure parts: records made plain, the one conditional-update rule, the retry loop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import UpdateError

from shared.dal.records import Call, Recording, Segment, number, plain
from shared.dal.retry import with_retries
from shared.dal.updates import conditional_update, error_code, missing_map
from shared.errors import StoreError

SID = "CA" + "7" * 32


def test_numbers_read_back_as_json_writes_them() -> None:
    assert [number(v) for v in (32.0, 32, Decimal("32"), 0.5, Decimal("0.25"), None)] == [
        32,
        32,
        32,
        0.5,
        0.25,
        None,
    ]
    assert isinstance(number(32.0), int)


def test_plain_makes_maps_lists_and_numbers_json_native() -> None:
    class MapLike:
        def as_dict(self) -> dict[str, Any]:
            return {"n": Decimal("2"), "items": ({"cost": 0.0},), "flag": True}

    assert plain({"outer": MapLike()}) == {"outer": {"n": 2, "items": [{"cost": 0}], "flag": True}}
    assert plain(True) is True


def test_call_from_item_types_every_attribute_and_ignores_unknown_ones() -> None:
    call = Call.from_item(
        {
            "call_sid": SID,
            "status_rank": Decimal("4"),
            "duration_seconds": 49.0,
            "recording": {"sid": "RE1", "status": "completed", "channels": 2.0, "duration_seconds": 37},
            "summary": {"estimated_cost_usd": 0.0},
            "status_history": {"ringing": "t0"},
            "sentiment_score": "a newer writer's attribute",
            "to_zip": None,
        }
    )
    assert (call.status_rank, call.duration_seconds, call.summary) == (4, 49, {"estimated_cost_usd": 0})
    assert call.recording == Recording(sid="RE1", status="completed", channels=2, duration_seconds=37)
    assert call.status_history == {"ringing": "t0"}
    assert (call.to_zip, call.transcript_status) == (None, None)


def test_segment_from_item_has_float_times() -> None:
    segment = Segment.from_item(
        {
            "call_sid": SID,
            "segment_key": "k",
            "track": "inbound",
            "speaker": "caller",
            "text": "hi",
            "start": 0,
            "end": Decimal("1.5"),
        }
    )
    assert (segment.start, segment.end) == (0.0, 1.5)
    assert isinstance(segment.start, float)


class _Item:
    """Stands in for a pynamodb model instance: `update` raises what DynamoDB would answer."""

    def __init__(self, code: str | None = None, message: str = "") -> None:
        self.code, self.message, self.calls = code, message, 0

    def update(self, actions: list[Any], condition: Any) -> None:
        self.calls += 1
        if self.code is not None:
            cause = ClientError({"Error": {"Code": self.code, "Message": self.message}}, "UpdateItem")
            raise UpdateError(f"Failed to update item: {cause}", cause)


def test_a_refused_condition_is_false_and_anything_else_a_store_error() -> None:
    assert conditional_update(_Item(), [], "cond", "w")
    assert not conditional_update(_Item("ConditionalCheckFailedException"), [], "cond", "w")
    with pytest.raises(StoreError, match=r"status update of CA.* failed: .*Throttl"):
        conditional_update(_Item("ThrottlingException", "Throttled"), [], "cond", f"status update of {SID}")
    with pytest.raises(StoreError):  # no condition was given, so it cannot be ours that failed
        conditional_update(_Item("ConditionalCheckFailedException"), [], None, "w")


def test_an_error_without_an_answer_from_dynamodb_is_a_store_error_too() -> None:
    """pynamodb's own `cause_response_code` raises AttributeError on a cause whose `response` is
    None (a server that answered nothing DynamoDB-shaped): a writer thread must get a StoreError."""

    class Unanswered(_Item):
        def update(self, actions: list[Any], condition: Any) -> None:
            cause = ClientError({"Error": {"Code": "InternalFailure"}}, "UpdateItem")
            cause.response = None  # type: ignore[assignment]
            raise UpdateError("Failed to update item", cause)

    with pytest.raises(StoreError):
        conditional_update(Unanswered(), [], "cond", "w")
    assert error_code(UpdateError("no cause")) is None


def test_a_missing_map_is_recognised_from_dynamodb_s_message() -> None:
    item = _Item(
        "ValidationException", "The document path provided in the update expression is invalid for update"
    )
    with pytest.raises(StoreError) as caught:
        conditional_update(item, [], None, "w")
    assert missing_map(caught.value)
    assert not missing_map(StoreError("other"))


def test_retries_back_off_then_raise_the_last_error() -> None:
    attempts: list[int] = []
    sleeps: list[float] = []

    def failing() -> None:
        attempts.append(len(attempts) + 1)
        raise StoreError(f"attempt {len(attempts)}")

    retried: list[int] = []
    with pytest.raises(StoreError, match="attempt 4"):
        with_retries(
            failing,
            attempts=4,
            backoff_base=0.1,
            on_retry=lambda n, exc: retried.append(n),
            sleep=sleeps.append,
        )
    assert attempts == [1, 2, 3, 4]
    assert retried == [1, 2, 3]
    assert all(0 <= slept <= 0.1 * 2**n for n, slept in zip((1, 2, 3), sleeps, strict=True))


def test_retries_stop_at_the_first_success_and_never_retry_other_errors() -> None:
    results = iter([OSError("reset"), "ok"])

    def flaky() -> str:
        value = next(results)
        if isinstance(value, Exception):
            raise value
        return value

    assert with_retries(flaky, attempts=3, backoff_base=0, sleep=lambda s: None) == "ok"
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise TypeError("a bug, not an outage")

    with pytest.raises(TypeError):
        with_retries(broken, attempts=3, backoff_base=0, sleep=lambda s: None)
    assert calls == [1]
