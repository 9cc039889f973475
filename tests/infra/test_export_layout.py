"""The Glue tables match what DynamoDB actually exports: a record written by the product's own
models is exported (moto, server mode) and every attribute's DynamoDB type letter is checked
against the Glue column type the analysts' queries read.

moto reproduces the export's file layout (`<prefix>/AWSDynamoDB/<id>/data/*.gz`, one
`{"Item": …}` per line) but not real export ids, so the id-to-folder step of the workflow is
covered by the template test instead.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest

from callscribe_local.aws_local import LocalAws
from functions.summaries.summary import (
    ActionItem,
    CallSummary,
    Outcome,
    Owner,
    RedactionReport,
    Sentiment,
    StoredSummary,
    TokenUsage,
)
from shared import aws
from shared.analytics.raw_schema import SUMMARY, item_type
from shared.dal.keys import segment_key
from shared.dal.tables import CallRecord, RecordingAttribute, TranscriptSegment, calls_model, segments_model

pytestmark = pytest.mark.infra

BUCKET = "callscribe-test-exports"


def _stored_summary() -> dict[str, Any]:
    summary = CallSummary(
        summary="A caller asked about a bill and was helped.",
        topics=["billing", "refund"],
        caller_intent="Understand a charge.",
        outcome=Outcome.RESOLVED,
        sentiment=Sentiment.POSITIVE,
        action_items=[ActionItem(owner=Owner.AGENT, description="Send the refund confirmation.")],
        follow_up_needed=True,
        language="en",
    )
    stored = StoredSummary(
        **summary.model_dump(),
        model="claude-haiku-5-5",
        prompt_version="v1",
        usage=TokenUsage(requests=1, input_tokens=900, output_tokens=200),
        estimated_cost_usd=0.0002,
        redaction=RedactionReport(enabled=True),
        chunks=1,
        segment_count=2,
        created_at="2026-11-22T03:00:05Z",
    )
    return stored.to_attribute()


def _export(table_name: str, prefix: str) -> list[dict[str, Any]]:
    """Export the table with the same call the workflow makes; return the exported items."""
    dynamodb, s3 = aws.dynamodb(), aws.session().create_client("s3")
    table_arn = dynamodb.describe_table(TableName=table_name)["Table"]["TableArn"]
    dynamodb.update_continuous_backups(
        TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    export_arn = dynamodb.export_table_to_point_in_time(
        TableArn=table_arn, S3Bucket=BUCKET, S3Prefix=prefix, ExportFormat="DYNAMODB_JSON"
    )["ExportDescription"]["ExportArn"]
    # Exports are asynchronous (in AWS, and in moto's worker thread): read the files only once the
    # export says it is done, as the workflow does. A big table (other tests' calls) takes longer.
    deadline = time.monotonic() + 30
    while (status := dynamodb.describe_export(ExportArn=export_arn)["ExportDescription"]["ExportStatus"]) == (
        "IN_PROGRESS"
    ):
        assert time.monotonic() < deadline, "the export did not finish within 30 s"
        time.sleep(0.05)
    assert status == "COMPLETED", status
    items: list[dict[str, Any]] = []
    for entry in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/AWSDynamoDB/")["Contents"]:
        key = entry["Key"]
        assert key.split("/")[-2] == "data"
        body = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        items.extend(json.loads(line)["Item"] for line in body.decode().splitlines() if line)
    return items


def _assert_declared(item: dict[str, Any], declared: str) -> None:
    for name, typed in item.items():
        (letter,) = typed
        assert f"{name}:struct<{letter.lower()}:" in declared, (name, letter)


@pytest.fixture(scope="module")
def bucket(local_stack: LocalAws) -> str:
    s3 = aws.session().create_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return BUCKET


def test_call_record_export_matches_the_glue_calls_table(
    bucket: str, local_stack: LocalAws, call_sid: str
) -> None:
    model = calls_model(local_stack.names.calls_table)
    record = model(
        call_sid,
        direction="inbound",
        from_number="+15550100",
        to_number="+15550199",
        status="completed",
        status_rank=4,
        status_history={"ringing": "2026-11-22T03:00:00Z", "completed": "2026-11-22T03:01:00Z"},
        started_at="2026-11-22T03:00:00Z",
        ended_at="2026-11-22T03:01:00Z",
        duration_seconds=60,
        call_date="2026-11-22",
        transcript_status="completed",
        segment_count=2,
        stream_started_at="2026-11-22T03:00:00.250Z",
        transcript_source="live+recording",
        live_coverage=0.925,
        gaps=[{"track": "inbound", "start": 20.0, "end": 40.5}],
        filled_seconds=12.5,
        alignment={"offset_seconds": 3.37, "method": "words", "matches": 120},
        summary=_stored_summary(),
        summary_status="completed",
    )
    record.recording = RecordingAttribute(  # type: ignore[no-untyped-call]
        sid="RE1", url="https://example.com/r", duration_seconds=55
    )
    record.save()

    items = [
        i
        for i in _export(local_stack.names.calls_table, f"exports/calls/dt={call_sid}")
        if i["call_sid"]["S"] == call_sid
    ]
    (item,) = items
    declared = item_type(CallRecord)
    _assert_declared(item, declared)
    _assert_declared(item["recording"]["M"], declared)
    assert "gaps:struct<l:array<struct<m:struct<" in declared  # a list of typed maps, not of strings
    _assert_declared(item["gaps"]["L"][0]["M"], declared)
    _assert_declared(item["alignment"]["M"], declared)
    summary_fields = {k: v for k, v in item["summary"]["M"].items() if f"{k}:" in SUMMARY}
    assert {"topics", "outcome", "sentiment", "follow_up_needed", "action_items"} <= set(summary_fields)
    _assert_declared(summary_fields, SUMMARY)


def test_segment_export_matches_the_glue_transcripts_table(
    bucket: str, local_stack: LocalAws, call_sid: str
) -> None:
    model = segments_model(local_stack.names.transcripts_table)
    model(
        call_sid,
        segment_key(1.25, "inbound"),
        track="inbound",
        speaker="caller",
        text="I have a question about my bill.",
        start=1.25,
        end=3.5,
        confidence=0.97,
        language="en",
        origin="recording",
    ).save()
    items = [
        i
        for i in _export(local_stack.names.transcripts_table, f"exports/transcripts/dt={call_sid}")
        if i["call_sid"]["S"] == call_sid
    ]
    (item,) = items
    _assert_declared(item, item_type(TranscriptSegment))
