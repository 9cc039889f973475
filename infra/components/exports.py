"""Analyst exports: daily DynamoDB point-in-time exports to S3, flat Parquet tables derived from
them, catalogued in Glue, queried in Athena.

A Step Functions workflow (SDK integrations only) exports each table, registers the day's raw
partition, derives the flat tables (shared/analytics/schema.py) with Athena `UNLOAD`, then hands over
to the upkeep steps (exports_upkeep.py). What a change must keep: each run derives into a folder of
its own, so a re-run never mixes files of two runs and never needs a DELETE; exports read PITR
backups, never the live table. The workflow state by state: docs/infra.md, "Analysts' exports";
why Parquet and full snapshots: docs/analytics.md.
Long (~600 lines) because the workflow's two polling branches (export, derive) are spelled out
state by state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.components import exports_upkeep as upkeep
from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.nag import acknowledge, arn_wildcard
from infra.components.outputs import stack_output
from infra.components.storage import new_log_group, private_bucket
from shared.analytics.queries import SAVED_QUERIES
from shared.analytics.raw_schema import item_type
from shared.analytics.schema import SCHEMA_VERSION, TABLES, FlatTable
from shared.dal.tables import CallRecord, TranscriptSegment

EXPORTS_PREFIX = "exports"
RESULTS_PREFIX = "athena-results"
_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
# A malformed line (there should be none) is skipped rather than failing the analyst's query.
_SERDE_PARAMETERS = {"ignore.malformed.json": "true"}


@dataclass(frozen=True)
class ExportedTable:
    name: str  # Glue table name and S3 folder
    table: dynamodb.ITable
    item_type: str


# The raw Glue tables' names (the flat tables are derived from them: shared/analytics/schema.py).
CALLS = "calls"
TRANSCRIPTS = "transcripts"
ANALYTICS_PREFIX = f"analytics/v{SCHEMA_VERSION}"
WORKFLOW_RESULTS_PREFIX = f"{RESULTS_PREFIX}/workflow"
_PARQUET_SERDE = upkeep.PARQUET_SERDE
_PARQUET_INPUT = upkeep.PARQUET_INPUT
_PARQUET_OUTPUT = upkeep.PARQUET_OUTPUT
# S3 Standard-IA bills at least 30 days per object: moving objects there after 30 days pays off only
# when they stay a good while longer.
_IA_AFTER_DAYS = 30
_IA_WORTH_IT_DAYS = 90


class AnalystExports(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = private_bucket(
            self,
            "Bucket",
            access_logs=access_logs,
            access_logs_prefix="exports-bucket/",
            lifecycle_rules=[
                _expiring(f"{EXPORTS_PREFIX}/", "exports", config.export_retention_days),
                # the flat tables' daily snapshots; `_current` points at the newest run's files
                _expiring("analytics/", "analytics", config.analytics_retention_days),
                s3.LifecycleRule(
                    id="athena-results",
                    prefix=f"{RESULTS_PREFIX}/",
                    expiration=cdk.Duration.days(30),
                ),
                s3.LifecycleRule(
                    id="incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(7)
                ),
            ],
        )

        stack = cdk.Stack.of(self)
        self.database_name = f"{config.stack_name.lower().replace('-', '_')}_analytics"
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="callscribe: daily DynamoDB exports of calls and transcript segments",
            ),
        )
        exported = [
            ExportedTable(CALLS, tables.calls, item_type(CallRecord)),
            ExportedTable(TRANSCRIPTS, tables.transcripts, item_type(TranscriptSegment)),
        ]
        self.glue_tables: dict[str, glue.CfnTable] = {}
        for table in exported:
            glue_table = glue.CfnTable(
                self,
                f"{table.name.capitalize()}Table",
                catalog_id=stack.account,
                database_name=self.database_name,
                table_input=glue.CfnTable.TableInputProperty(
                    name=table.name,
                    description=f"DynamoDB JSON export of the {table.name} table; one partition per day",
                    table_type="EXTERNAL_TABLE",
                    parameters={"classification": "json", "compressionType": "gzip"},
                    partition_keys=[glue.CfnTable.ColumnProperty(name="dt", type="string")],
                    storage_descriptor=_table_descriptor(self._location(table.name), table.item_type),
                ),
            )
            glue_table.node.add_dependency(database)
            self.glue_tables[table.name] = glue_table

        self.flat_tables: dict[str, glue.CfnTable] = {}
        for flat in TABLES.values():
            glue_table = glue.CfnTable(
                self,
                f"Flat{flat.name.title().replace('_', '')}Table",
                catalog_id=stack.account,
                database_name=self.database_name,
                table_input=glue.CfnTable.TableInputProperty(
                    name=flat.name,
                    description=flat.description,
                    table_type="EXTERNAL_TABLE",
                    parameters={
                        "classification": "parquet",
                        "callscribe_schema_version": str(SCHEMA_VERSION),
                    },
                    partition_keys=[glue.CfnTable.ColumnProperty(name="dt", type="string")],
                    storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                        location=self._flat_location(flat.name),
                        input_format=_PARQUET_INPUT,
                        output_format=_PARQUET_OUTPUT,
                        columns=[
                            glue.CfnTable.ColumnProperty(name=c.name, type=c.type, comment=c.comment or None)
                            for c in flat.columns
                        ],
                        serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=_PARQUET_SERDE),
                    ),
                ),
            )
            glue_table.node.add_dependency(database)
            self.flat_tables[flat.name] = glue_table

        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{config.stack_name}-analysts",
            description="callscribe analysts: results encrypted in the exports bucket, 10 GB scan cap",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=10 * 1024**3,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3",
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{RESULTS_PREFIX}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3",
                    ),
                ),
            ),
        )
        # The workflow's own workgroup: no per-query scan cap (a big day's transcripts may pass the
        # analysts' 10 GB), results kept apart under athena-results/workflow/.
        self.derive_workgroup = athena.CfnWorkGroup(
            self,
            "DeriveWorkGroup",
            name=f"{config.stack_name}-exports",
            description="callscribe export workflow: derives the flat tables from each day's export",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3",
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{WORKFLOW_RESULTS_PREFIX}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3",
                    ),
                ),
            ),
        )
        self.named_queries = []
        for saved in SAVED_QUERIES:
            query = athena.CfnNamedQuery(
                self,
                f"Query-{saved.name}",
                name=f"callscribe: {saved.name}",
                description=saved.description,
                database=self.database_name,
                work_group=self.workgroup.name,
                query_string=saved.sql,
            )
            query.node.add_dependency(self.workgroup)
            query.node.add_dependency(database)
            self.named_queries.append(query)

        self.state_machine = self._export_workflow(config, exported)
        events.Rule(
            self,
            "Schedule",
            description="Daily export of the callscribe tables for analysts",
            schedule=events.Schedule.expression(config.export_schedule),
            targets=[targets.SfnStateMachine(self.state_machine)],
        )

        stack_output(scope, "ExportsBucket", self.bucket.bucket_name, "Raw exports and the analysts' Parquet")
        stack_output(scope, "AthenaWorkGroup", self.workgroup.name, "The analysts' Athena workgroup")
        stack_output(scope, "GlueDatabase", self.database_name, "The analysts' Glue database")
        stack_output(
            scope,
            "AnalystExportWorkflowArn",
            self.state_machine.state_machine_arn,
            "The daily export (aws stepfunctions start-execution runs it now)",
        )

    def _location(self, table_name: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{EXPORTS_PREFIX}/{table_name}/"

    def _flat_location(self, table_name: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{ANALYTICS_PREFIX}/{table_name}/"

    def _export_workflow(self, config: InfraConfig, exported: list[ExportedTable]) -> sfn.StateMachine:
        retention = {
            **{table.name: config.export_retention_days for table in exported},
            **{flat.name: config.analytics_retention_days for flat in TABLES.values()},
        }
        day = upkeep.run_state(self, retention)
        branches = sfn.Parallel(self, "ExportTables", result_path=sfn.JsonPath.DISCARD)
        for table in exported:
            branches.branch(self._export_branch(table))
        derived = sfn.Parallel(self, "DeriveTables", result_path=sfn.JsonPath.DISCARD)
        for flat in TABLES.values():
            derived.branch(self._derive_branch(flat))
        # only once every flat table of this run is derived: the three `_current` tables move together
        current = upkeep.CurrentTables(
            self,
            database_name=self.database_name,
            bucket_name=self.bucket.bucket_name,
            analytics_prefix=ANALYTICS_PREFIX,
            tables=list(TABLES.values()),
        )
        pointed = sfn.Parallel(self, "PointCurrentTables", result_path=sfn.JsonPath.DISCARD)
        for flat in TABLES.values():
            pointed.branch(current.branch(flat))
        expire = upkeep.expire_partitions(self, database_name=self.database_name, tables=list(retention))
        definition = (
            day.next(branches).next(derived).next(pointed).next(expire).next(sfn.Succeed(self, "Exported"))
        )

        log_group = new_log_group(self, "WorkflowLogs", config.log_retention)
        machine = sfn.StateMachine(
            self,
            "Workflow",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=cdk.Duration.hours(6),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self._grant_derivation(machine, exported)
        # DynamoDB writes the export with the caller's permissions.
        self.bucket.grant_put(machine, f"{EXPORTS_PREFIX}/*")
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:PutObjectAcl"],
                resources=[self.bucket.arn_for_objects(f"{EXPORTS_PREFIX}/*")],
            )
        )
        acknowledge(
            machine,
            (arn_wildcard(self.bucket, f"/{EXPORTS_PREFIX}/*"), "AwsSolutions-IAM5[Action::s3:Abort*]"),
            "DynamoDB writes export files under exports/ with the workflow's permissions; object keys "
            "hold export ids unknown until the export starts.",
        )
        acknowledge(
            machine,
            tuple(arn_wildcard(table.table, "/export/*") for table in exported),
            "DescribeExport on this table's exports: their ids are only known once each export starts.",
        )
        acknowledge(
            machine,
            ("AwsSolutions-IAM5[Resource::*]",),
            "X-Ray tracing and CloudWatch Logs delivery for Step Functions support no resource-level "
            "permissions.",
        )
        return machine

    def _export_branch(self, table: ExportedTable) -> sfn.IChainable:
        stack = cdk.Stack.of(self)
        prefix = sfn.JsonPath.format(f"{EXPORTS_PREFIX}/{table.name}/dt={{}}", sfn.JsonPath.string_at("$.dt"))
        start = tasks.CallAwsService(
            self,
            f"Export {table.name}",
            service="dynamodb",
            action="exportTableToPointInTime",
            parameters={
                "TableArn": table.table.table_arn,
                "S3Bucket": self.bucket.bucket_name,
                "S3BucketOwner": stack.account,
                "S3Prefix": prefix,
                "S3SseAlgorithm": "AES256",
                "ExportFormat": "DYNAMODB_JSON",
                # Same day, same token: a re-run within DynamoDB's 8 h window reuses the export.
                "ClientToken": sfn.JsonPath.format(f"{table.name}-{{}}", sfn.JsonPath.string_at("$.dt")),
            },
            iam_resources=[table.table.table_arn],
            result_selector={"arn": sfn.JsonPath.string_at("$.ExportDescription.ExportArn")},
            result_path="$.export",
        )
        wait = sfn.Wait(self, f"Wait {table.name}", time=sfn.WaitTime.duration(cdk.Duration.minutes(5)))
        describe = tasks.CallAwsService(
            self,
            f"Check {table.name}",
            service="dynamodb",
            action="describeExport",
            parameters={"ExportArn": sfn.JsonPath.string_at("$.export.arn")},
            iam_resources=[f"{table.table.table_arn}/export/*"],
            result_selector={
                "arn": sfn.JsonPath.string_at("$.ExportDescription.ExportArn"),
                "status": sfn.JsonPath.string_at("$.ExportDescription.ExportStatus"),
            },
            result_path="$.export",
        )
        data_location = sfn.JsonPath.format(
            f"s3://{self.bucket.bucket_name}/{EXPORTS_PREFIX}/{table.name}/dt={{}}/AWSDynamoDB/{{}}/data/",
            sfn.JsonPath.string_at("$.dt"),
            sfn.JsonPath.array_get_item(
                sfn.JsonPath.string_split(sfn.JsonPath.string_at("$.export.arn"), "/"), 3
            ),
        )
        register = self._register_partition(table.name, _partition_descriptor(data_location, table.item_type))
        failed = sfn.Fail(
            self,
            f"{table.name} export failed",
            error="ExportFailed",
            cause="DynamoDB reported the export FAILED; see DescribeExport for its reason",
        )
        done = sfn.Choice(self, f"{table.name} exported?")
        done.when(sfn.Condition.string_equals("$.export.status", "COMPLETED"), register)
        done.when(sfn.Condition.string_equals("$.export.status", "FAILED"), failed)
        done.otherwise(wait)
        return start.next(wait).next(describe).next(done)

    def _derive_branch(self, flat: FlatTable) -> sfn.IChainable:
        """UNLOAD the day's flat rows as Parquet into a folder of this run's own, then point the
        day's partition at it."""
        target = sfn.Pass(
            self,
            f"Folder {flat.name}",
            comment="One folder per run: UNLOAD needs an empty one, and a re-run must not mix files",
            parameters={
                "folder": sfn.JsonPath.format(
                    f"s3://{self.bucket.bucket_name}/{ANALYTICS_PREFIX}/{flat.name}/dt={{}}/{{}}/",
                    sfn.JsonPath.string_at("$.dt"),
                    sfn.JsonPath.string_at("$$.Execution.Name"),
                )
            },
            result_path="$.target",
        )
        workgroup_arn = cdk.Stack.of(self).format_arn(
            service="athena", resource="workgroup", resource_name=self.derive_workgroup.name
        )
        # Polled like the export rather than the `.sync` integration, whose generated policy reads
        # every bucket in the account and may create and drop any table in the database.
        unload = tasks.CallAwsService(
            self,
            f"Derive {flat.name}",
            service="athena",
            action="startQueryExecution",
            parameters={
                "QueryString": sfn.JsonPath.format(
                    f"UNLOAD ({flat.select_sql('{}')}) TO '{{}}' "
                    "WITH (format = 'PARQUET', compression = 'SNAPPY')",
                    sfn.JsonPath.string_at("$.dt"),
                    sfn.JsonPath.string_at("$.target.folder"),
                ),
                "QueryExecutionContext": {"Database": self.database_name},
                "WorkGroup": self.derive_workgroup.name,
            },
            iam_resources=[workgroup_arn],
            result_selector={"id": sfn.JsonPath.string_at("$.QueryExecutionId")},
            result_path="$.query",
        )
        wait = sfn.Wait(self, f"Wait {flat.name}", time=sfn.WaitTime.duration(cdk.Duration.seconds(20)))
        check = tasks.CallAwsService(
            self,
            f"Check {flat.name}",
            service="athena",
            action="getQueryExecution",
            parameters={"QueryExecutionId": sfn.JsonPath.string_at("$.query.id")},
            iam_resources=[workgroup_arn],
            result_selector={
                "id": sfn.JsonPath.string_at("$.QueryExecution.QueryExecutionId"),
                "state": sfn.JsonPath.string_at("$.QueryExecution.Status.State"),
            },
            result_path="$.query",
        )
        descriptor = {
            "Location": sfn.JsonPath.string_at("$.target.folder"),
            "InputFormat": _PARQUET_INPUT,
            "OutputFormat": _PARQUET_OUTPUT,
            "Columns": [{"Name": c.name, "Type": c.type} for c in flat.columns],
            "SerdeInfo": {"SerializationLibrary": _PARQUET_SERDE},
        }
        failed = sfn.Fail(
            self,
            f"{flat.name} derivation failed",
            error="DeriveFailed",
            cause="Athena's UNLOAD failed or was cancelled; see the query in the exports workgroup",
        )
        done = sfn.Choice(self, f"{flat.name} derived?")
        done.when(
            sfn.Condition.string_equals("$.query.state", "SUCCEEDED"),
            self._register_partition(flat.name, descriptor),
        )
        done.when(
            sfn.Condition.or_(
                sfn.Condition.string_equals("$.query.state", "FAILED"),
                sfn.Condition.string_equals("$.query.state", "CANCELLED"),
            ),
            failed,
        )
        done.otherwise(wait)
        return target.next(unload).next(wait).next(check).next(done)

    def _grant_derivation(self, machine: sfn.StateMachine, exported: list[ExportedTable]) -> None:
        """What Athena needs, with the workflow's credentials, to read the raw partitions and write
        the flat tables' Parquet and the query results: nothing beyond those tables and prefixes."""
        stack = cdk.Stack.of(self)
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartition", "glue:GetPartitions"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="database", resource_name=self.database_name),
                    *(
                        stack.format_arn(
                            service="glue", resource="table", resource_name=f"{self.database_name}/{t.name}"
                        )
                        for t in exported
                    ),
                ],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[self.bucket.bucket_arn]
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    self.bucket.arn_for_objects(f"{EXPORTS_PREFIX}/*"),
                    self.bucket.arn_for_objects(f"{WORKFLOW_RESULTS_PREFIX}/*"),
                ],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=[
                    self.bucket.arn_for_objects(f"{ANALYTICS_PREFIX}/*"),
                    self.bucket.arn_for_objects(f"{WORKFLOW_RESULTS_PREFIX}/*"),
                ],
            )
        )
        acknowledge(
            machine,
            (
                arn_wildcard(self.bucket, f"/{ANALYTICS_PREFIX}/*"),
                arn_wildcard(self.bucket, f"/{WORKFLOW_RESULTS_PREFIX}/*"),
            ),
            "Athena reads the day's export and writes the flat tables' Parquet and its results under "
            "these prefixes with the workflow's credentials; file names are Athena's own.",
        )

    def _register_partition(self, table_name: str, descriptor: Mapping[str, object]) -> sfn.TaskStateBase:
        """Add the day's partition of `table_name`; when a run of the same day already added it,
        point it at this run's data instead."""
        stack = cdk.Stack.of(self)
        glue_arns = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=self.database_name),
            stack.format_arn(
                service="glue", resource="table", resource_name=f"{self.database_name}/{table_name}"
            ),
        ]
        register = tasks.CallAwsService(
            self,
            f"Register {table_name}",
            service="glue",
            action="createPartition",
            parameters={
                "DatabaseName": self.database_name,
                "TableName": table_name,
                "PartitionInput": {
                    "Values": sfn.JsonPath.array(sfn.JsonPath.string_at("$.dt")),
                    "StorageDescriptor": descriptor,
                },
            },
            iam_resources=glue_arns,
            iam_action="glue:CreatePartition",
            result_path=sfn.JsonPath.DISCARD,
        )
        replace = tasks.CallAwsService(
            self,
            f"Replace {table_name}",
            comment="A re-run on the same day points the day's partition at the newer data",
            service="glue",
            action="updatePartition",
            parameters={
                "DatabaseName": self.database_name,
                "TableName": table_name,
                "PartitionValueList": sfn.JsonPath.array(sfn.JsonPath.string_at("$.dt")),
                "PartitionInput": {
                    "Values": sfn.JsonPath.array(sfn.JsonPath.string_at("$.dt")),
                    "StorageDescriptor": descriptor,
                },
            },
            iam_resources=glue_arns,
            iam_action="glue:UpdatePartition",
            result_path=sfn.JsonPath.DISCARD,
        )
        register.add_catch(replace, errors=["Glue.AlreadyExistsException"], result_path=sfn.JsonPath.DISCARD)
        return register


def _table_descriptor(location: str, item: str) -> glue.CfnTable.StorageDescriptorProperty:
    """The Glue table's descriptor (CloudFormation)."""
    return glue.CfnTable.StorageDescriptorProperty(
        location=location,
        input_format=_INPUT_FORMAT,
        output_format=_OUTPUT_FORMAT,
        compressed=True,
        columns=[glue.CfnTable.ColumnProperty(name="item", type=item)],
        serde_info=glue.CfnTable.SerdeInfoProperty(
            serialization_library=_JSON_SERDE, parameters=_SERDE_PARAMETERS
        ),
    )


def _partition_descriptor(location: str, item: str) -> dict[str, object]:
    """The same descriptor for a day's partition, in the Glue API's shape (Step Functions)."""
    return {
        "Location": location,
        "InputFormat": _INPUT_FORMAT,
        "OutputFormat": _OUTPUT_FORMAT,
        "Compressed": True,
        "Columns": [{"Name": "item", "Type": item}],
        "SerdeInfo": {"SerializationLibrary": _JSON_SERDE, "Parameters": _SERDE_PARAMETERS},
    }


def _expiring(prefix: str, rule_id: str, days: int) -> s3.LifecycleRule:
    """Expire `prefix` after `days`; through Infrequent Access on the way when kept long enough."""
    transitions = (
        [
            s3.Transition(
                storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                transition_after=cdk.Duration.days(_IA_AFTER_DAYS),
            )
        ]
        if days >= _IA_WORTH_IT_DAYS
        else []
    )
    return s3.LifecycleRule(
        id=rule_id, prefix=prefix, transitions=transitions, expiration=cdk.Duration.days(days)
    )
