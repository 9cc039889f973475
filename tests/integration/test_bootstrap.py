"""shared.bootstrap against moto in server mode: idempotent, and the keys the models expect."""

from __future__ import annotations

import subprocess
import sys
import uuid

import boto3
import pytest

from callscribe_local.aws_local import LocalAws
from shared.dal.keys import segment_key
from shared.dal.tables import CALLS_BY_DAY_INDEX, CALLS_TO_SWEEP_INDEX, calls_model, segments_model
from shared.events import EventBridgePublisher, TranscriptCompleted

pytestmark = pytest.mark.integration


def test_bootstrap_is_idempotent_from_the_command_line(local_stack: LocalAws) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.bootstrap"], capture_output=True, text=True, check=True
    )
    assert "table test-calls: exists" in result.stdout
    assert "event bus test-bus: exists" in result.stdout
    assert "bucket test-recordings: exists" in result.stdout


def test_the_recordings_bucket_is_private_and_encrypted(local_stack: LocalAws) -> None:
    s3 = boto3.client("s3")
    assert local_stack.names.recordings_bucket == "test-recordings"
    s3.head_bucket(Bucket="test-recordings")
    block = s3.get_public_access_block(Bucket="test-recordings")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    (rule,) = s3.get_bucket_encryption(Bucket="test-recordings")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_no_bucket_without_recordings_bucket(local_stack: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.bootstrap import BootstrapSettings, bootstrap

    monkeypatch.delenv("RECORDINGS_BUCKET")
    report = bootstrap(BootstrapSettings.from_env())
    assert not [line for line in report if line.startswith("bucket ")]


def test_bootstrap_refuses_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from shared.bootstrap import main

    assert main([]) == 2


def test_tables_have_the_model_keys_and_indexes(local_stack: LocalAws) -> None:
    client = boto3.client("dynamodb")
    calls = client.describe_table(TableName="test-calls")["Table"]
    assert calls["KeySchema"] == [{"AttributeName": "call_sid", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: i for i in calls["GlobalSecondaryIndexes"]}
    assert set(indexes) == {CALLS_BY_DAY_INDEX, CALLS_TO_SWEEP_INDEX}
    assert indexes[CALLS_TO_SWEEP_INDEX]["KeySchema"] == [
        {"AttributeName": "sweep_shard", "KeyType": "HASH"},
        {"AttributeName": "sweep_after", "KeyType": "RANGE"},
    ]
    assert indexes[CALLS_TO_SWEEP_INDEX]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    segments = client.describe_table(TableName="test-transcripts")["Table"]
    assert {k["AttributeName"] for k in segments["KeySchema"]} == {"call_sid", "segment_key"}
    ttl = client.describe_time_to_live(TableName="test-idempotency")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiration"
    # the outbox reads every write of the calls table, both images (and nothing of the others)
    assert calls["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert calls["LatestStreamArn"].startswith(calls["TableArn"] + "/stream/")
    assert "StreamSpecification" not in segments


def test_a_calls_table_made_before_the_outbox_gets_its_stream(
    local_stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.bootstrap import BootstrapSettings, bootstrap

    client = boto3.client("dynamodb")
    name = f"old-calls-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "call_sid", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "call_sid", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("CALLS_TABLE", name)
    assert f"table {name}: stream (NEW_AND_OLD_IMAGES) enabled" in bootstrap(BootstrapSettings.from_env())
    spec = client.describe_table(TableName=name)["Table"]["StreamSpecification"]
    assert spec == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert not [line for line in bootstrap(BootstrapSettings.from_env()) if "stream" in line]  # once


def test_segments_sort_by_audio_time_then_track(local_stack: LocalAws, call_sid: str) -> None:
    model = segments_model("test-transcripts")
    for start, track in [(12.5, "outbound"), (2.0, "inbound"), (12.5, "inbound"), (100.25, "inbound")]:
        model(
            call_sid,
            segment_key(start, track),
            track=track,
            speaker="caller",
            text="hi",
            start=start,
            end=start + 1,
        ).save()
    got = [(s.start, s.track) for s in model.query(call_sid)]
    assert got == [(2.0, "inbound"), (12.5, "inbound"), (12.5, "outbound"), (100.25, "inbound")]


def test_calls_by_day_index_queries_the_bound_table(local_stack: LocalAws, call_sid: str) -> None:
    model = calls_model("test-calls")
    model(call_sid, call_date="2026-11-22", started_at="2026-11-22T10:00:00.000Z").save()
    assert call_sid in [c.call_sid for c in model.calls_by_day.query("2026-11-22")]


def test_publisher_puts_events_on_the_bus(local_stack: LocalAws, bus_tap, call_sid: str) -> None:  # type: ignore[no-untyped-def]
    from shared import aws

    publisher = EventBridgePublisher(aws.events(), "test-bus")
    publisher.publish(TranscriptCompleted(callSid=call_sid, segmentCount=3))
    [event] = bus_tap.events_for(call_sid, wait_seconds=5)
    assert event["detail-type"] == "Transcript Completed"
    assert event["source"] == "callscribe"
    assert event["detail"] == {"callSid": call_sid, "segmentCount": 3, "transcriptStatus": "completed"}
