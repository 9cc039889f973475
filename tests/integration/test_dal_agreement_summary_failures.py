"""`FakeSummaryFailures` and `DynamoSummaryFailures` agree (as tests/integration/test_dal_agreement.py
does for the other ports): the same scenarios on the fake and on moto, the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from callscribe_local.aws_local import LocalAws
from shared.dal.calls import DynamoCalls
from shared.dal.records import CallParties, CallUpsert
from shared.dal.summary_failures import DynamoSummaryFailures
from tests.support.fake_call_store import FakeCallStore
from tests.support.fake_summary_failures import FakeSummaryFailures

pytestmark = pytest.mark.integration

NOW = "2026-12-07T09:31:00.000Z"


@dataclass
class Tables:
    calls: Any  # FakeCallStore | DynamoCalls
    failures: Any  # FakeSummaryFailures | DynamoSummaryFailures


@pytest.fixture(params=["fake", "dynamo"])
def tables(request: pytest.FixtureRequest) -> Iterator[Tables]:
    if request.param == "fake":
        store = FakeCallStore(now=NOW)
        yield Tables(store, FakeSummaryFailures(store))
    else:
        stack: LocalAws = request.getfixturevalue("local_stack")
        yield Tables(
            DynamoCalls(stack.names.calls_table, now=lambda: NOW),
            DynamoSummaryFailures(stack.names.calls_table, now=lambda: NOW),
        )


def summary_status(tables: Tables, call_sid: str) -> str | None:
    call = tables.calls.get(call_sid)
    assert call is not None
    return call.summary_status  # type: ignore[no-any-return]


def test_the_failure_mark_never_lands_on_a_summary_and_a_summary_replaces_it(
    tables: Tables, call_sid: str
) -> None:
    tables.calls.upsert_call(CallUpsert(call_sid, CallParties(direction="inbound"), NOW))
    assert tables.failures.summary_failed(call_sid)
    assert tables.failures.summary_failed(call_sid)  # a repeat lands the same value
    assert summary_status(tables, call_sid) == "failed"

    assert tables.calls.save_summary(call_sid, {"summary": "Moved to Friday."}, NOW)
    assert summary_status(tables, call_sid) == "completed"
    assert not tables.failures.summary_failed(call_sid)  # a late failure cannot contradict it
    call = tables.calls.get(call_sid)
    assert (call.summary_status, call.summary) == ("completed", {"summary": "Moved to Friday."})
