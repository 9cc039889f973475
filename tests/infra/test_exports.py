"""Analyst exports: a private bucket, a daily export workflow, Glue tables and Athena queries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.exports import SAVED_QUERIES
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def _exports_bucket(synth: Synth) -> dict[str, Any]:
    (bucket,) = [
        b
        for b in synth.resources("AWS::S3::Bucket").values()
        if any(
            r.get("Prefix") == "exports/"
            for r in b["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
        )
    ]
    return bucket


def test_bucket_is_encrypted_private_logged_and_expires_exports(synth: Synth) -> None:
    bucket = _exports_bucket(synth)
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "LoggingConfiguration" in props
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["exports"]["ExpirationInDays"] == 365
    assert rules["athena-results"]["ExpirationInDays"] == 30
    assert bucket["DeletionPolicy"] == "Retain"


def test_every_bucket_denies_plain_http(synth: Synth) -> None:
    buckets = set(synth.resources("AWS::S3::Bucket"))
    denied = set()
    for policy in synth.resources("AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                denied.add(policy["Properties"]["Bucket"]["Ref"])
    assert denied == buckets


def test_daily_workflow_exports_both_tables_and_registers_partitions(synth: Synth) -> None:
    machine = synth.one("AWS::StepFunctions::StateMachine")
    definition = json.dumps(machine["DefinitionString"])
    assert definition.count("aws-sdk:dynamodb:exportTableToPointInTime") == 2
    assert definition.count("aws-sdk:dynamodb:describeExport") == 2
    assert definition.count("aws-sdk:glue:createPartition") == 2
    assert "Glue.AlreadyExistsException" in definition
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    machine_id = next(iter(synth.resources("AWS::StepFunctions::StateMachine")))
    (schedule,) = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if any(t["Arn"] == {"Ref": machine_id} for t in r["Properties"].get("Targets", []))
    ]
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"


def test_glue_tables_read_dynamodb_json_partitioned_by_day(synth: Synth) -> None:
    assert len(synth.resources("AWS::Glue::Database")) == 1
    tables = {
        t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
        for t in synth.resources("AWS::Glue::Table").values()
    }
    assert set(tables) == {"calls", "transcripts"}
    for table in tables.values():
        assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
        descriptor = table["StorageDescriptor"]
        assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        (column,) = descriptor["Columns"]
        assert column["Name"] == "item"
    calls_item = tables["calls"]["StorageDescriptor"]["Columns"][0]["Type"]
    for attribute in (
        "call_sid:struct<s:string>",
        "duration_seconds:struct<n:string>",
        "transcript_status:struct<s:string>",
        "topics:struct<l:array<struct<s:string>>>",
    ):
        assert attribute in calls_item


def test_athena_workgroup_and_saved_queries(synth: Synth) -> None:
    workgroup = synth.one("AWS::Athena::WorkGroup")["WorkGroupConfiguration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True
    assert workgroup["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    names = {q["Properties"]["Name"] for q in synth.resources("AWS::Athena::NamedQuery").values()}
    assert names == {f"callscribe: {name}" for name in SAVED_QUERIES}
    assert {
        "callscribe: calls-per-day-and-status",
        "callscribe: average-duration",
        "callscribe: top-topics",
        "callscribe: outcomes",
        "callscribe: failed-transcripts",
    } <= names


def test_saved_queries_read_only_columns_the_glue_table_declares(synth: Synth) -> None:
    """Each item.<attr> a query names must exist in the calls or transcripts item type."""
    import re

    tables = {
        t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
        for t in synth.resources("AWS::Glue::Table").values()
    }
    declared = " ".join(t["StorageDescriptor"]["Columns"][0]["Type"] for t in tables.values())
    for _, sql in SAVED_QUERIES.values():
        for attribute in re.findall(r"item\.(\w+)\.", sql):
            assert f"{attribute}:struct<" in declared, attribute
