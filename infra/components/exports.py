"""Analyst exports: daily DynamoDB point-in-time exports to S3, catalogued in Glue, queried in Athena.

A Step Functions workflow (SDK integrations only, no code to bundle) exports each table to
`exports/<table>/dt=<day>/`, waits for the export to finish, then registers that day's data folder
as a Glue partition. Exports read PITR backups, not the table, so they cost no read capacity and
never slow the live product. Full daily snapshots (not incremental exports) because analysts ask
"what did the calls look like on day X", which one partition answers without merging deltas.
docs/analytics.md tells analysts how to query.
"""

from __future__ import annotations

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

from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.glue_schema import item_type
from infra.components.nag import acknowledge, arn_wildcard
from infra.components.storage import new_log_group, private_bucket
from shared.dal.models import CallRecord, TranscriptSegment

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


# The Glue tables' names; the saved queries below use them literally.
CALLS = "calls"
TRANSCRIPTS = "transcripts"

# name -> (description, SQL). Every query reads the latest daily snapshot only (`dt = max(dt)`):
# each export holds every call, so older partitions are history, not more data. Call-level counts
# skip child legs (`parent_call_sid` set: the <Dial>ed party's leg has its own record, with no
# stream and so no transcript), so a forwarded call counts once and is not a "failed transcript".
SAVED_QUERIES: dict[str, tuple[str, str]] = {
    "calls-per-day-and-status": (
        "Calls per day and final status (latest export)",
        """SELECT item.call_date.s AS call_date, item.status.s AS status, count(*) AS calls
FROM calls
WHERE dt = (SELECT max(dt) FROM calls) AND item.parent_call_sid IS NULL
GROUP BY 1, 2
ORDER BY 1 DESC, 3 DESC""",
    ),
    "average-duration": (
        "Average, p50 and p90 call duration in seconds per day and direction",
        """SELECT item.call_date.s AS call_date, item.direction.s AS direction, count(*) AS calls,
       round(avg(CAST(item.duration_seconds.n AS double)), 1) AS avg_seconds,
       approx_percentile(CAST(item.duration_seconds.n AS double), 0.5) AS p50_seconds,
       approx_percentile(CAST(item.duration_seconds.n AS double), 0.9) AS p90_seconds
FROM calls
WHERE dt = (SELECT max(dt) FROM calls) AND item.duration_seconds.n IS NOT NULL
  AND item.parent_call_sid IS NULL
GROUP BY 1, 2
ORDER BY 1 DESC""",
    ),
    "top-topics": (
        "Most frequent summary topics over the last 30 days",
        """SELECT lower(topic.s) AS topic, count(*) AS calls
FROM calls
CROSS JOIN UNNEST(item.summary.m.topics.l) AS t(topic)
WHERE dt = (SELECT max(dt) FROM calls)
  AND item.call_date.s >= CAST(current_date - INTERVAL '30' DAY AS varchar)
GROUP BY 1
ORDER BY 2 DESC
LIMIT 25""",
    ),
    "outcomes": (
        "Call outcomes and caller sentiment from summaries, per day",
        """SELECT item.call_date.s AS call_date, item.summary.m.outcome.s AS outcome,
       item.summary.m.sentiment.s AS sentiment, count(*) AS calls,
       count_if(item.summary.m.follow_up_needed.bool) AS need_follow_up
FROM calls
WHERE dt = (SELECT max(dt) FROM calls) AND item.summary IS NOT NULL
GROUP BY 1, 2, 3
ORDER BY 1 DESC, 4 DESC""",
    ),
    "failed-transcripts": (
        "Answered calls whose transcript failed or never completed, with the error",
        """SELECT item.call_sid.s AS call_sid, item.call_date.s AS call_date, item.status.s AS status,
       item.transcript_status.s AS transcript_status, item.transcript_error.s AS transcript_error,
       item.duration_seconds.n AS duration_seconds
FROM calls
WHERE dt = (SELECT max(dt) FROM calls)
  AND item.status.s = 'completed' AND item.parent_call_sid IS NULL
  AND (item.transcript_status.s IS NULL OR item.transcript_status.s <> 'completed')
ORDER BY item.started_at.s DESC""",
    ),
    "transcript-of-a-call": (
        "One call's transcript in order (replace the call SID)",
        """SELECT item.track.s AS track, item.speaker.s AS speaker,
       CAST(item.start.n AS double) AS start_seconds, item.text.s AS text
FROM transcripts
WHERE dt = (SELECT max(dt) FROM transcripts) AND item.call_sid.s = 'CA_REPLACE_ME'
ORDER BY item.segment_key.s""",
    ),
}


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
                s3.LifecycleRule(
                    id="exports",
                    prefix=f"{EXPORTS_PREFIX}/",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(30),
                        )
                    ],
                    expiration=cdk.Duration.days(config.export_retention_days),
                ),
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
        self.named_queries = []
        for name, (description, sql) in SAVED_QUERIES.items():
            query = athena.CfnNamedQuery(
                self,
                f"Query-{name}",
                name=f"callscribe: {name}",
                description=description,
                database=self.database_name,
                work_group=self.workgroup.name,
                query_string=sql,
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

        cdk.CfnOutput(scope, "ExportsBucket", value=self.bucket.bucket_name)
        cdk.CfnOutput(scope, "AthenaWorkGroup", value=self.workgroup.name)
        cdk.CfnOutput(scope, "GlueDatabase", value=self.database_name)

    def _location(self, table_name: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{EXPORTS_PREFIX}/{table_name}/"

    def _export_workflow(self, config: InfraConfig, exported: list[ExportedTable]) -> sfn.StateMachine:
        day = sfn.Pass(
            self,
            "Day",
            comment="The export's partition: the UTC day the execution started",
            parameters={
                "dt": sfn.JsonPath.array_get_item(
                    sfn.JsonPath.string_split(sfn.JsonPath.string_at("$$.Execution.StartTime"), "T"),
                    0,
                )
            },
        )
        branches = sfn.Parallel(self, "ExportTables", result_path=sfn.JsonPath.DISCARD)
        for table in exported:
            branches.branch(self._export_branch(table))
        definition = day.next(branches).next(sfn.Succeed(self, "Exported"))

        log_group = new_log_group(self, "WorkflowLogs", config.log_retention)
        machine = sfn.StateMachine(
            self,
            "Workflow",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=cdk.Duration.hours(6),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
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
        descriptor = _partition_descriptor(data_location, table.item_type)
        glue_arns = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=self.database_name),
            stack.format_arn(
                service="glue", resource="table", resource_name=f"{self.database_name}/{table.name}"
            ),
        ]
        register = tasks.CallAwsService(
            self,
            f"Register {table.name}",
            service="glue",
            action="createPartition",
            parameters={
                "DatabaseName": self.database_name,
                "TableName": table.name,
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
            f"Replace {table.name}",
            comment="A re-run on the same day points the day's partition at the newer export",
            service="glue",
            action="updatePartition",
            parameters={
                "DatabaseName": self.database_name,
                "TableName": table.name,
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
