"""Analyst exports: a private bucket, a daily export workflow, Glue tables and Athena queries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonata
import pytest

from shared.analytics.queries import SAVED_QUERIES
from shared.analytics.schema import SCHEMA_VERSION, TABLES
from tests.infra.conftest import FULL_CONTEXT, Synth

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
    assert (rules["exports"]["Prefix"], rules["exports"]["ExpirationInDays"]) == ("exports/", 14)
    assert "Transitions" not in rules["exports"]  # IA's 30-day minimum would cost more than it saves
    assert (rules["analytics"]["Prefix"], rules["analytics"]["ExpirationInDays"]) == ("analytics/", 400)
    assert rules["analytics"]["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]
    assert rules["athena-results"]["ExpirationInDays"] == 30
    assert bucket["DeletionPolicy"] == "Retain"


def test_by_default_raw_exports_are_kept_a_week_and_snapshots_35_days(default_synth: Synth) -> None:
    rules = {
        r["Id"]: r for r in _exports_bucket(default_synth)["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    assert (rules["exports"]["ExpirationInDays"], rules["analytics"]["ExpirationInDays"]) == (7, 35)
    assert "Transitions" not in rules["exports"]
    assert "Transitions" not in rules["analytics"]


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
    statements = _workflow_statements(synth)
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a.startswith("s3:") for a in actions):
            assert statement["Resource"] != "*", statement
        assert not any(a in ("glue:DeleteTable", "glue:DeleteDatabase") for a in actions)
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


# ---- the `_current` tables and the expiry of old days ------------------------------------------


def _definition(synth: Synth) -> dict[str, Any]:
    """The state machine's definition as JSON, every CloudFormation token a placeholder string."""
    raw = synth.one("AWS::StepFunctions::StateMachine")["DefinitionString"]
    parts = raw["Fn::Join"][1] if isinstance(raw, dict) else [raw]
    definition: dict[str, Any] = json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))
    return definition


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, nested ones (Parallel branches, Map processors) included, by name."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for inner in [*state.get("Branches", []), *filter(None, [state.get("ItemProcessor")])]:
            found.update(_states(inner))
    return found


def test_the_current_tables_move_only_after_every_flat_table_is_derived(synth: Synth) -> None:
    definition = _definition(synth)
    top = definition["States"]
    assert top["DeriveTables"]["Next"] == "PointCurrentTables"
    assert top["PointCurrentTables"]["Next"] == "ExpireOldDays"
    assert top["ExpireOldDays"]["Next"] == "Exported"
    assert "Catch" not in top["DeriveTables"]  # a failed derivation ends the run before any swap
    states = _states(definition)
    derive_folder = states[f"Folder {next(iter(TABLES))}"]["Parameters"]["folder.$"]
    for flat in TABLES.values():
        update = states[f"Point {flat.current}"]
        assert update["Resource"] == "arn:TOKEN:states:::aws-sdk:glue:updateTable"
        table = update["Parameters"]["TableInput"]
        assert table["Name"] == flat.current
        assert "PartitionKeys" not in table  # one run's folder: each record once
        assert update["Parameters"]["SkipArchive"] is True
        descriptor = table["StorageDescriptor"]
        assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
            (c.name, c.type) for c in flat.columns
        ]
        # the very folder the day's partition of the flat table points at
        assert descriptor["Location.$"] == derive_folder.replace(f"/{next(iter(TABLES))}/", f"/{flat.name}/")
        assert table["Parameters"]["callscribe_run_started.$"] == "$.started"
        create = states[f"Create {flat.current}"]
        assert create["Parameters"]["TableInput"] == table
        get = states[f"Get {flat.current}"]
        assert [c["Next"] for c in get["Catch"]] == [f"Create {flat.current}"]
        choice = states[get["Next"]]
        (newer,) = choice["Choices"]
        assert newer == {
            "Variable": "$.current.started",
            "TimestampGreaterThanPath": "$.started",
            "Next": f"{flat.current} is newer",
        }
        assert choice["Default"] == f"Point {flat.current}"


def _evaluate(expression: str, start: str) -> Any:
    assert expression.startswith("{%")
    assert expression.endswith("%}")
    compiled = jsonata.Jsonata(expression[2:-2])
    compiled.assign("states", {"context": {"Execution": {"StartTime": start}}, "input": {}})
    return compiled.evaluate(None)


@pytest.mark.parametrize(
    "start", ["2026-03-02T03:00:12.345Z", "2027-01-01T00:00:00Z", "2028-02-29T23:59:59.999Z"]
)
def test_the_run_state_computes_the_day_and_the_expired_days_per_table(synth: Synth, start: str) -> None:
    day = _states(_definition(synth))["Day"]
    assert day["QueryLanguage"] == "JSONata"
    outputs = day["Output"]
    moment = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
    assert _evaluate(outputs["dt"], start) == moment.strftime("%Y-%m-%d")
    assert _evaluate(outputs["started"], start) == start
    retention = {"calls": 14, "transcripts": 14, **dict.fromkeys(TABLES, 400)}
    assert FULL_CONTEXT["exportRetentionDays"] == 14
    assert FULL_CONTEXT["analyticsRetentionDays"] == 400
    expire = {item["table"]: item["expression"] for item in outputs["expire"]}
    assert set(expire) == set(retention)
    for table, days in retention.items():
        # the run's own day is the first of the `days` kept
        oldest_kept = (moment - timedelta(days=days - 1)).strftime("%Y-%m-%d")
        assert _evaluate(expire[table], start) == f"dt < '{oldest_kept}'", table


def test_expired_days_are_deleted_page_by_page_until_none_is_left(synth: Synth) -> None:
    states = _states(_definition(synth))
    expire = states["ExpireOldDays"]
    assert expire["ItemsPath"] == "$.expire"
    find = states["Find expired days"]
    assert find["Resource"] == "arn:TOKEN:states:::aws-sdk:glue:getPartitions"
    assert find["Parameters"]["Expression.$"] == "$.expression"
    assert find["Parameters"]["TableName.$"] == "$.table"
    left = states[find["Next"]]
    (more,) = left["Choices"]
    assert more["Variable"] == "$.found.partitions[0]"
    assert more["IsPresent"] is True
    delete_each = states[more["Next"]]
    assert delete_each["ItemsPath"] == "$.found.partitions"
    assert delete_each["Next"] == "Find expired days"  # again, until a page comes back empty
    delete = states["Delete expired day"]
    assert delete["Resource"] == "arn:TOKEN:states:::aws-sdk:glue:deletePartition"
    assert delete["Parameters"]["PartitionValues.$"] == "$.values"


def _workflow_statements(synth: Synth) -> list[dict[str, Any]]:
    """Every statement of the workflow role's policies: CDK moves what its inline policy cannot hold
    into managed "overflow" policies attached to the same role."""
    policies = {**synth.resources("AWS::IAM::Policy"), **synth.resources("AWS::IAM::ManagedPolicy")}
    return [
        statement
        for policy in policies.values()
        if "AnalystsWorkflowRole" in json.dumps(policy["Properties"].get("Roles", []))
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def _table_names(statement: dict[str, Any]) -> set[str]:
    """The Glue table names a statement's resources end with."""
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    names = set()
    for resource in resources:
        text = json.dumps(resource)
        if ":table/" in text:
            names.add(text.rsplit("/", 1)[1].strip('"]}'))
    return names


def test_the_workflow_writes_only_the_current_tables_and_deletes_only_partitions(synth: Synth) -> None:
    statements = _workflow_statements(synth)
    current = {flat.current for flat in TABLES.values()}
    for statement in statements:
        actions = _actions(statement)
        assert not {"glue:DeleteTable", "glue:DeleteDatabase", "glue:BatchDeleteTable"} & set(actions)
        if {"glue:CreateTable", "glue:UpdateTable"} & set(actions):
            assert _table_names(statement) <= current, statement
        if "glue:DeletePartition" in actions:
            assert _table_names(statement) == {"calls", "transcripts", *TABLES}, statement
