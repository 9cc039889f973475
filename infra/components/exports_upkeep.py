"""The export workflow's last steps: point each `<table>_current` Glue table at the run just derived,
then delete the Glue partitions of days whose files the bucket's lifecycle has expired.

What a change must keep: `<table>_current` is swapped (Glue UpdateTable) only after all three flat
tables of the run are derived, and never back to an older run; the workflow, not CloudFormation,
owns these tables (a stack update would reset their location); the days are computed once, at the
workflow's start, by a JSONata state, whose expressions tests/infra/test_exports.py evaluates.
Why: docs/analytics.md, "Why `_current` tables and not views"; docs/infra.md, "Analysts' exports".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from shared.analytics.schema import SCHEMA_VERSION, FlatTable

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
# Transient Glue errors worth a retry; anything else fails the run (AnalystExportFailed).
_GLUE_TRANSIENT = [
    "Glue.ConcurrentModificationException",
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
]
_START = "$states.context.Execution.StartTime"
DAY_FORMAT = "[Y0001]-[M01]-[D01]"


def day_expression() -> str:
    """JSONata: the run's partition, the UTC day it started (YYYY-MM-DD)."""
    return f"{{% $substring({_START}, 0, 10) %}}"


def expired_expression(retention_days: int) -> str:
    """JSONata: the Glue partition expression of the days past `retention_days`, counting the run's
    own day as the first: with 7, a run on the 8th keeps the 2nd to the 8th and selects `dt < '…02'`."""
    keep_from = f"$fromMillis($toMillis({_START}) - {retention_days - 1} * 86400000, '{DAY_FORMAT}')"
    return f'{{% "dt < \'" & {keep_from} & "\'" %}}'


def run_state(scope: Construct, retention_days: Mapping[str, int]) -> sfn.Pass:
    """The workflow's first state: `dt`, `started` and `expire` ([{table, expression}]) for the rest."""
    return sfn.Pass.jsonata(
        scope,
        "Day",
        comment="The export's partition (the UTC day the execution started) and the days past retention",
        outputs={
            "dt": day_expression(),
            "started": f"{{% {_START} %}}",
            "expire": [
                {"table": table, "expression": expired_expression(days)}
                for table, days in retention_days.items()
            ],
        },
    )


class CurrentTables:
    """Builds the states that point `<table>_current` at this run's folder of `<table>`."""

    def __init__(
        self,
        scope: Construct,
        *,
        database_name: str,
        bucket_name: str,
        analytics_prefix: str,
        tables: Sequence[FlatTable],
    ) -> None:
        self.scope = scope
        self.database_name = database_name
        self.bucket_name = bucket_name
        self.analytics_prefix = analytics_prefix
        stack = cdk.Stack.of(scope)
        # one resource list for every branch: identical statements are merged, keeping the role's
        # policy small
        self.arns = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=database_name),
            *(
                stack.format_arn(
                    service="glue", resource="table", resource_name=f"{database_name}/{t.current}"
                )
                for t in tables
            ),
        ]

    def branch(self, flat: FlatTable) -> sfn.IChainable:
        """Get the table (create it on the first run), then update it unless a newer run has."""
        scope, current, arns = self.scope, flat.current, self.arns
        get = tasks.CallAwsService(
            scope,
            f"Get {current}",
            service="glue",
            action="getTable",
            parameters={"DatabaseName": self.database_name, "Name": current},
            iam_resources=arns,
            iam_action="glue:GetTable",
            result_selector={"started": sfn.JsonPath.string_at("$.Table.Parameters.callscribe_run_started")},
            result_path="$.current",
        )
        create = tasks.CallAwsService(
            scope,
            f"Create {current}",
            comment="The first run creates the table",
            service="glue",
            action="createTable",
            parameters={"DatabaseName": self.database_name, "TableInput": self._table_input(flat)},
            iam_resources=arns,
            iam_action="glue:CreateTable",
            result_path=sfn.JsonPath.DISCARD,
        )
        update = tasks.CallAwsService(
            scope,
            f"Point {current}",
            comment="Atomic: a query planned before it reads the previous run's files, which stay",
            service="glue",
            action="updateTable",
            parameters={
                "DatabaseName": self.database_name,
                "TableInput": self._table_input(flat),
                "SkipArchive": True,  # no table version per day
            },
            iam_resources=arns,
            iam_action="glue:UpdateTable",
            result_path=sfn.JsonPath.DISCARD,
        )
        for task in (get, create, update):
            task.add_retry(errors=_GLUE_TRANSIENT, interval=cdk.Duration.seconds(2), max_attempts=4)
        newer = sfn.Pass(scope, f"{current} is newer", comment="A run started later already pointed it")
        get.add_catch(create, errors=["Glue.EntityNotFoundException"], result_path=sfn.JsonPath.DISCARD)
        # two first runs at once: the one that lost the creation goes round again
        create.add_catch(get, errors=["Glue.AlreadyExistsException"], result_path=sfn.JsonPath.DISCARD)
        choose = sfn.Choice(scope, f"{current} older than this run?")
        choose.when(sfn.Condition.timestamp_greater_than_json_path("$.current.started", "$.started"), newer)
        choose.otherwise(update)
        return get.next(choose)

    def _table_input(self, flat: FlatTable) -> dict[str, object]:
        folder = sfn.JsonPath.format(
            f"s3://{self.bucket_name}/{self.analytics_prefix}/{flat.name}/dt={{}}/{{}}/",
            sfn.JsonPath.string_at("$.dt"),
            sfn.JsonPath.string_at("$$.Execution.Name"),
        )
        return {
            "Name": flat.current,
            "Description": f"{flat.description}. The newest complete export only: each record once",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "classification": "parquet",
                "callscribe_schema_version": str(SCHEMA_VERSION),
                "callscribe_snapshot_day": sfn.JsonPath.string_at("$.dt"),
                "callscribe_run_started": sfn.JsonPath.string_at("$.started"),
                "callscribe_run": sfn.JsonPath.string_at("$$.Execution.Name"),
            },
            "StorageDescriptor": {
                "Location": folder,
                "InputFormat": PARQUET_INPUT,
                "OutputFormat": PARQUET_OUTPUT,
                "Columns": [
                    {"Name": c.name, "Type": c.type, **({"Comment": c.comment} if c.comment else {})}
                    for c in flat.columns
                ],
                "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
            },
        }


def expire_partitions(scope: Construct, *, database_name: str, tables: Sequence[str]) -> sfn.Map:
    """For each `$.expire` item ({table, expression}): delete the Glue partitions the expression
    selects, a page at a time, until none is left. Their files are already gone (lifecycle)."""
    stack = cdk.Stack.of(scope)
    arns = [
        stack.format_arn(service="glue", resource="catalog"),
        stack.format_arn(service="glue", resource="database", resource_name=database_name),
        *(
            stack.format_arn(service="glue", resource="table", resource_name=f"{database_name}/{table}")
            for table in tables
        ),
    ]
    expire = sfn.Map(
        scope,
        "ExpireOldDays",
        comment="Drop the Glue partitions of days past each table's retention",
        items_path="$.expire",
        max_concurrency=1,
        result_path=sfn.JsonPath.DISCARD,
    )
    find = tasks.CallAwsService(
        scope,
        "Find expired days",
        service="glue",
        action="getPartitions",
        parameters={
            "DatabaseName": database_name,
            "TableName": sfn.JsonPath.string_at("$.table"),
            "Expression": sfn.JsonPath.string_at("$.expression"),
            "ExcludeColumnSchema": True,
            "MaxResults": 25,
        },
        iam_resources=arns,
        iam_action="glue:GetPartitions",
        result_selector={"partitions": sfn.JsonPath.list_at("$.Partitions")},
        result_path="$.found",
    )
    delete_each = sfn.Map(
        scope,
        "Delete expired days",
        items_path="$.found.partitions",
        max_concurrency=5,
        item_selector={
            "table": sfn.JsonPath.string_at("$.table"),
            "values": sfn.JsonPath.list_at("$$.Map.Item.Value.Values"),
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    delete = tasks.CallAwsService(
        scope,
        "Delete expired day",
        service="glue",
        action="deletePartition",
        parameters={
            "DatabaseName": database_name,
            "TableName": sfn.JsonPath.string_at("$.table"),
            "PartitionValues": sfn.JsonPath.list_at("$.values"),
        },
        iam_resources=arns,
        iam_action="glue:DeletePartition",
        result_path=sfn.JsonPath.DISCARD,
    )
    gone = sfn.Pass(scope, "Already deleted", comment="Another run deleted it first")
    delete.add_catch(gone, errors=["Glue.EntityNotFoundException"], result_path=sfn.JsonPath.DISCARD)
    for task in (find, delete):
        task.add_retry(errors=_GLUE_TRANSIENT, interval=cdk.Duration.seconds(2), max_attempts=4)
    delete_each.item_processor(delete)
    any_left = sfn.Choice(scope, "Expired days left?")
    any_left.when(sfn.Condition.is_present("$.found.partitions[0]"), delete_each.next(find))
    any_left.otherwise(sfn.Pass(scope, "No expired day left"))
    expire.item_processor(find.next(any_left))
    return expire
