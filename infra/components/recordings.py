"""The recordings tier: the bucket call recordings are copied to, and the recordings Lambda behind the
"Recording Completed" rule.

What a change must keep: the bucket has a customer-managed KMS key of its own (reading a recording
needs `kms:Decrypt` on it as well as `s3:GetObject`), TLS only, no public access, versioned,
access-logged, retained with the stack; the Lambda's `/tmp` stays above `RECORDING_MAX_BYTES` and its
memory holds the largest recording it accepts; the rule's delivery and the function's own failures
are retried, then land in a dead-letter queue that alarms. Sizes, retries and why:
docs/recordings.md, "Infrastructure".
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.recordings.settings import MEBIBYTE, RecordingSettings
from infra.components.config import InfraConfig
from infra.components.data import DataTables
from infra.components.delivery import dead_letter_queue, deliver_events
from infra.components.functions import BuiltFunction, build_python_function
from infra.components.nag import acknowledge, arn_wildcard
from infra.components.outputs import stack_output
from infra.components.secrets import ProductSecrets
from shared.events import RecordingCompleted

# The largest recording the Lambda takes (RECORDING_MAX_BYTES, the code's default: ~2.5 h of
# dual-channel audio). It spools to /tmp beyond RECORDING_MEMORY_BYTES, so /tmp must hold it, with
# room for the runtime's own files.
RECORDING_MAX_BYTES = int(RecordingSettings.model_fields["recording_max_bytes"].default)
RECORDINGS_EPHEMERAL_MIB = 1024
if RECORDINGS_EPHEMERAL_MIB * MEBIBYTE <= RECORDING_MAX_BYTES:  # pragma: no cover - a wrong constant
    raise ValueError("the recordings Lambda's /tmp must exceed RECORDING_MAX_BYTES")
# Objects the recordings Lambda writes (and reads back on a re-drive) live under this prefix.
RECORDINGS_PREFIX = "recordings/"
NONCURRENT_VERSION_DAYS = 30


class RecordingsBucket(Construct):
    """The KMS-encrypted, versioned, lifecycle-managed bucket of call recordings."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, access_logs: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="callscribe: encrypts call recordings in the recordings bucket",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        current = s3.LifecycleRule(
            id="recordings",
            prefix=RECORDINGS_PREFIX,
            transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                    transition_after=cdk.Duration.days(config.recordings_glacier_days),
                )
            ],
            expiration=cdk.Duration.days(config.recordings_expiration_days)
            if config.recordings_expiration_days
            else None,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="recordings-bucket/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                current,
                s3.LifecycleRule(
                    id="old-versions",
                    noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    id="incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
                ),
            ],
        )

        stack_output(
            self,
            "RecordingsBucketName",
            self.bucket.bucket_name,
            "Call recordings (KMS-encrypted): RECORDINGS_BUCKET of the recordings Lambda",
        )
        stack_output(
            self, "RecordingsKeyArn", self.key.key_arn, "The KMS key of the recordings bucket (retained)"
        )

    def objects_arn(self) -> str:
        return self.bucket.arn_for_objects(f"{RECORDINGS_PREFIX}*")


class Recordings(Construct):
    """Rule "Recording Completed" -> recordings Lambda (retry policy, DLQ, least privilege)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        tables: DataTables,
        secrets: ProductSecrets,
        bus: events.IEventBus,
        store: RecordingsBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = dead_letter_queue(self, "recordings", "by hand (or the sweeper does)")
        built: BuiltFunction = build_python_function(
            self,
            "Handler",
            name="recordings",
            description="callscribe: copy a recording to S3, transcribe it, fill the live transcript gaps",
            config=config,
            timeout=cdk.Duration.minutes(15),
            memory_size=config.recordings_memory_mib,
            ephemeral_storage_mib=RECORDINGS_EPHEMERAL_MIB,
            reserved_concurrency=config.recordings_concurrency,  # stays under Deepgram's batch limit
            environment={
                "RECORDINGS_BUCKET": store.bucket.bucket_name,
                # the bucket's own key: the Lambda's puts name it (SSE-KMS) instead of asking for
                # SSE-S3, which would override the bucket's default encryption
                "RECORDINGS_KMS_KEY_ID": store.key.key_arn,
                "RECORDING_MAX_BYTES": str(RECORDING_MAX_BYTES),
                "CALLS_TABLE": tables.calls.table_name,
                "TRANSCRIPTS_TABLE": tables.transcripts.table_name,
                "TWILIO_SECRET_ARN": secrets.twilio.secret_arn,
                "DEEPGRAM_SECRET_ARN": secrets.deepgram.secret_arn,
                "TWILIO_API_BASE_URL": config.twilio_api_base_url,
                # the streamer's DEEPGRAM_URL and transcription options: the recording is heard alike
                **config.deepgram_environment(),
                # the streamer's redaction: what the recording fills in is redacted alike
                **config.redaction_environment(),
                "DELETE_TWILIO_RECORDINGS": "true" if config.delete_twilio_recordings else "false",
                **config.prices_environment(),  # a reconciliation recomputes the call's cost
            },
        )
        self.handler = built
        function = built.function
        self._grant(built, tables, secrets, store)
        self.rule = deliver_events(
            self,
            "RecordingCompleted",
            bus=bus,
            detail_types=[RecordingCompleted.detail_type],
            function=function,
            dead_letters=self.dead_letters,
            description="Copy, transcribe and reconcile every completed call recording",
        )

    @staticmethod
    def _grant(
        built: BuiltFunction,
        tables: DataTables,
        secrets: ProductSecrets,
        store: RecordingsBucket,
    ) -> None:
        """Exactly the recordings tier's ports (RecordingCalls, RecordingSegments), its copy of the
        recording (put, and get back on a re-drive once Twilio's copy is deleted), the two vendors'
        secrets. Table statements name the tables only, not CDK's `…/index/*`. No PutEvents: the
        reconciliation's write is announced by the outbox."""
        function = built.function
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[tables.calls.table_arn]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"],
                resources=[tables.transcripts.table_arn],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:PutObject", "s3:GetObject"], resources=[store.objects_arn()])
        )
        # Without ListBucket S3 answers a missing object 403, not 404: a re-run whose copy expired
        # would fail as store-refused instead of downloading Twilio's again.
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[store.bucket.bucket_arn])
        )
        # SSE-KMS: a put needs a data key, a get (and a multipart put) needs Decrypt.
        store.key.grant(function, "kms:GenerateDataKey", "kms:Decrypt")
        secrets.twilio.grant_read(function)
        secrets.deepgram.grant_read(function)
        acknowledge(
            built.role,
            (arn_wildcard(store.bucket, f"/{RECORDINGS_PREFIX}*"),),
            "Recording object keys are made per call and recording at run time; the statement is "
            f"limited to the recordings prefix ({RECORDINGS_PREFIX}) of this one bucket.",
        )
