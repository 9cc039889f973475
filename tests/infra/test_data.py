"""The tables mirror shared/dal/tables.py and are safe to run production on."""

from __future__ import annotations

from typing import Any

import pytest

from shared.bootstrap import IDEMPOTENCY_KEY, IDEMPOTENCY_TTL
from shared.dal.tables import CALLS_BY_DAY_INDEX, CALLS_TO_SWEEP_INDEX, CallRecord
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def _tables(synth: Synth) -> dict[str, dict[str, Any]]:
    """Tables by their hash key (the construct ids are CDK's business)."""
    return {
        next(k["AttributeName"] for k in t["Properties"]["KeySchema"] if k["KeyType"] == "HASH")
        + "/"
        + str(len(t["Properties"]["KeySchema"])): t
        for t in synth.resources("AWS::DynamoDB::Table").values()
    }


def test_three_tables_keyed_like_the_models(synth: Synth) -> None:
    tables = _tables(synth)
    assert set(tables) == {"call_sid/1", "call_sid/2", f"{IDEMPOTENCY_KEY}/1"}
    assert tables["call_sid/2"]["Properties"]["KeySchema"] == [
        {"AttributeName": "call_sid", "KeyType": "HASH"},
        {"AttributeName": "segment_key", "KeyType": "RANGE"},
    ]


def test_calls_table_has_exactly_its_two_indexes(synth: Synth) -> None:
    calls = _tables(synth)["call_sid/1"]["Properties"]
    names = [index["IndexName"] for index in calls["GlobalSecondaryIndexes"]]
    assert sorted(names) == sorted([CALLS_BY_DAY_INDEX, CALLS_TO_SWEEP_INDEX])


def test_calls_to_sweep_index_is_sparse_and_keys_only(synth: Synth) -> None:
    calls = _tables(synth)["call_sid/1"]["Properties"]
    indexes = {index["IndexName"]: index for index in calls["GlobalSecondaryIndexes"]}
    index = indexes[CALLS_TO_SWEEP_INDEX]
    assert index["KeySchema"] == [
        {"AttributeName": "sweep_shard", "KeyType": "HASH"},
        {"AttributeName": "sweep_after", "KeyType": "RANGE"},
    ]
    # keys only: an update of any other attribute of a marked call costs no index write
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    for name in ("sweep_shard", "sweep_after"):
        assert {"AttributeName": name, "AttributeType": "S"} in calls["AttributeDefinitions"]


def test_calls_by_day_index(synth: Synth) -> None:
    calls = _tables(synth)["call_sid/1"]["Properties"]
    indexes = {index["IndexName"]: index for index in calls["GlobalSecondaryIndexes"]}
    index = indexes[CALLS_BY_DAY_INDEX]
    assert index["IndexName"] == CALLS_BY_DAY_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "call_date", "KeyType": "HASH"},
        {"AttributeName": "started_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert {"AttributeName": "call_date", "AttributeType": "S"} in calls["AttributeDefinitions"]


@pytest.mark.parametrize("table", ["call_sid/1", "call_sid/2", f"{IDEMPOTENCY_KEY}/1"])
def test_every_table_is_on_demand_recoverable_encrypted_and_retained(synth: Synth, table: str) -> None:
    resource = _tables(synth)[table]
    props = resource["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"


def test_only_the_idempotency_table_expires_items(synth: Synth) -> None:
    tables = _tables(synth)
    assert tables[f"{IDEMPOTENCY_KEY}/1"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": IDEMPOTENCY_TTL,
        "Enabled": True,
    }
    assert "TimeToLiveSpecification" not in tables["call_sid/1"]["Properties"]
    assert "TimeToLiveSpecification" not in tables["call_sid/2"]["Properties"]


def test_only_the_calls_table_streams_both_images_as_its_model_declares(synth: Synth) -> None:
    """The call feed reads old and new images of every call write (functions/call_feed)."""
    tables = _tables(synth)
    calls = tables["call_sid/1"]["Properties"]
    assert calls["StreamSpecification"] == {"StreamViewType": CallRecord.Meta.stream_view_type}
    assert CallRecord.Meta.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert all("StreamSpecification" not in t["Properties"] for k, t in tables.items() if k != "call_sid/1")
