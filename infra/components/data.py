"""The product's three DynamoDB tables, keyed exactly as shared/dal/tables.py (the source of truth).

On-demand (Twilio's webhook rate is bursty and unpredictable), point-in-time recovery (also what the
analyst exports read from), AWS-managed KMS encryption (auditable in CloudTrail) and RETAIN: deleting
the stack never deletes call records. The calls table streams both images of every write (the view
the model names): the outbox announces each change of a call from it, and the call feed publishes
each status change to the live feed. Only the idempotency table has a TTL: its records are worthless
after their window. Calls and segments are kept until the operator decides otherwise (docs/deploy.md).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct, IConstruct
from pynamodb.attributes import Attribute

from infra.components.nag import acknowledge, arn_wildcard
from infra.components.outputs import stack_output
from shared.bootstrap import IDEMPOTENCY_KEY, IDEMPOTENCY_TTL
from shared.dal.tables import (
    CALLS_BY_DAY_INDEX,
    CALLS_STREAM_VIEW,
    CALLS_TO_SWEEP_INDEX,
    CallRecord,
    CallsByDayIndex,
    CallsToSweepIndex,
    TranscriptSegment,
)

_S = dynamodb.AttributeType.STRING


def _key(model_or_index: type, role: str) -> str:
    """The attribute name a pynamodb model or index declares as its hash or range key."""
    for name, attribute in vars(model_or_index).items():
        if not isinstance(attribute, Attribute):
            continue
        if (role == "hash" and attribute.is_hash_key) or (role == "range" and attribute.is_range_key):
            return str(attribute.attr_name or name)
    raise LookupError(f"{model_or_index.__name__} has no {role} key")


class DataTables(Construct):
    """calls (CDR), transcripts (segments), idempotency (Powertools records for summaries)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.calls = self._table(
            "Calls",
            partition_key=dynamodb.Attribute(name=_key(CallRecord, "hash"), type=_S),
            stream=dynamodb.StreamViewType(CALLS_STREAM_VIEW),
        )
        index = CallsByDayIndex
        self.calls.add_global_secondary_index(
            index_name=CALLS_BY_DAY_INDEX,
            partition_key=dynamodb.Attribute(name=_key(index, "hash"), type=_S),
            sort_key=dynamodb.Attribute(name=_key(index, "range"), type=_S),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Sparse: only calls still carrying the sweeper's marker are in it (shared/dal/tables.py).
        sweep = CallsToSweepIndex
        self.calls.add_global_secondary_index(
            index_name=CALLS_TO_SWEEP_INDEX,
            partition_key=dynamodb.Attribute(name=_key(sweep, "hash"), type=_S),
            sort_key=dynamodb.Attribute(name=_key(sweep, "range"), type=_S),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        self.transcripts = self._table(
            "Transcripts",
            partition_key=dynamodb.Attribute(name=_key(TranscriptSegment, "hash"), type=_S),
            sort_key=dynamodb.Attribute(name=_key(TranscriptSegment, "range"), type=_S),
        )
        self.idempotency = self._table(
            "Idempotency",
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_KEY, type=_S),
            time_to_live_attribute=IDEMPOTENCY_TTL,
        )
        for name, table in (
            ("Calls", self.calls),
            ("Transcripts", self.transcripts),
            ("Idempotency", self.idempotency),
        ):
            stack_output(
                self,
                f"{name}TableName",
                table.table_name,
                f"The {name.lower()} table (retained, deletion-protected)",
            )

    def acknowledge_index_access(self, grantee: IConstruct) -> None:
        """CDK's table grants include the table's indexes (`…/index/*`): the calls_by_day GSI."""
        acknowledge(
            grantee,
            (arn_wildcard(self.calls, "/index/*"),),
            f"Table grants cover the calls table's indexes ({CALLS_BY_DAY_INDEX}, which the calls API and "
            f"the analysts' day queries read, and the keys-only {CALLS_TO_SWEEP_INDEX}).",
        )

    def calls_index_arn(self, index_name: str) -> str:
        """One index of the calls table, for a grant narrower than CDK's `…/index/*`."""
        return f"{self.calls.table_arn}/index/{index_name}"

    def _table(self, construct_id: str, **keys: object) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True,
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            deletion_protection=True,
            **keys,  # type: ignore[arg-type]
        )
