"""Analyst exports: a private bucket, a daily export workflow, Glue tables and Athena queries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.analytics.queries import SAVED_QUERIES
from shared.analytics.schema import SCHEMA_VERSION, TABLES
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
    assert (rules["analytics"]["Prefix"], rules["analytics"]["ExpirationInDays"]) == ("analytics/", 365)
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
    # two raw partitions, then one per flat table
    assert definition.count("aws-sdk:glue:createPartition") == 2 + len(TABLES)
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


def _glue_tables(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
        for t in synth.resources("AWS::Glue::Table").values()
    }


def test_raw_glue_tables_read_dynamodb_json_partitioned_by_day(synth: Synth) -> None:
    assert len(synth.resources("AWS::Glue::Database")) == 1
    tables = _glue_tables(synth)
    assert set(tables) == {"calls", "transcripts", *TABLES}
    for name in ("calls", "transcripts"):
        table = tables[name]
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
        "usage:struct<m:struct<requests:struct<n:string>",  # exported before, missing from the type
        "redaction_counts:struct<m:map<string,struct<n:string>>>",
    ):
        assert attribute in calls_item


def test_flat_tables_are_typed_parquet_partitioned_by_day_under_the_schema_version(synth: Synth) -> None:
    tables = _glue_tables(synth)
    for name, flat in TABLES.items():
        table = tables[name]
        assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
        assert table["Parameters"] == {
            "classification": "parquet",
            "callscribe_schema_version": str(SCHEMA_VERSION),
        }
        descriptor = table["StorageDescriptor"]
        assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
        assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
            (c.name, c.type) for c in flat.columns
        ]
        assert f"/analytics/v{SCHEMA_VERSION}/{name}/" in json.dumps(descriptor["Location"])
    types = {c["Name"]: c["Type"] for c in tables["call_facts"]["StorageDescriptor"]["Columns"]}
    assert types["started_at"] == "timestamp"
    assert types["duration_seconds"] == "bigint"
    assert types["answered"] == "boolean"
    assert types["topics"] == "array<string>"
    assert types["cost_total_usd"] == "double"
    assert "from_number" not in types
    assert "caller_name" not in types


def test_workflow_derives_each_flat_table_with_an_unload_into_a_folder_per_run(synth: Synth) -> None:
    machine = synth.one("AWS::StepFunctions::StateMachine")
    definition = json.dumps(machine["DefinitionString"])
    assert definition.count("aws-sdk:athena:startQueryExecution") == len(TABLES)
    assert definition.count("aws-sdk:athena:getQueryExecution") == len(TABLES)
    assert definition.count("UNLOAD (SELECT") == len(TABLES)
    assert definition.count("PARQUET") == len(TABLES)
    assert "$$.Execution.Name" in definition


def test_workflow_role_reads_exports_and_writes_only_analytics_and_results(synth: Synth) -> None:
    statements = [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if "Workflow" in json.dumps(policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a.startswith("s3:") for a in actions):
            assert statement["Resource"] != "*", statement
        assert not any(a in ("glue:CreateTable", "glue:DeleteTable", "glue:DeleteDatabase") for a in actions)
    writes = json.dumps([s for s in statements if "s3:PutObject" in s["Action"]])
    assert f"/analytics/v{SCHEMA_VERSION}/*" in writes
    assert "/athena-results/workflow/*" in writes


def test_athena_workgroups_and_saved_queries(synth: Synth) -> None:
    workgroups = {
        w["Properties"]["Name"]: w["Properties"] for w in synth.resources("AWS::Athena::WorkGroup").values()
    }
    analysts = workgroups["Callscribe-analysts"]["WorkGroupConfiguration"]
    assert analysts["EnforceWorkGroupConfiguration"] is True
    assert analysts["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert analysts["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    derive = workgroups["Callscribe-exports"]["WorkGroupConfiguration"]
    assert derive["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    queries = {
        q["Properties"]["Name"]: q["Properties"] for q in synth.resources("AWS::Athena::NamedQuery").values()
    }
    assert set(queries) == {f"callscribe: {saved.name}" for saved in SAVED_QUERIES}
    for saved in SAVED_QUERIES:
        assert queries[f"callscribe: {saved.name}"]["QueryString"] == saved.sql
