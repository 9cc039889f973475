"""The recordings tier's infrastructure: the bucket, the recordings Lambda behind its rule,
the sweeper on its schedule, their exact IAM, and the alarms and dashboard that watch them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.recordings import metric_names as recording_metrics
from functions.recordings.settings import RecordingSettings
from functions.sweeper import metric_names as sweeper_metrics
from shared.dal.tables import CALLS_TO_SWEEP_INDEX
from shared.events import SOURCE, RecordingCompleted
from tests.infra.conftest import Synth
from tests.infra.helpers import (
    function,
    function_role,
    grants_by_resource,
    refers_to,
    role_statements,
    rule_targeting,
    secret_ids,
)

pytestmark = pytest.mark.infra

RECORDINGS = "functions.recordings.app.handler"
SWEEPER = "functions.sweeper.app.handler"
TLS_DENY = {"Bool": {"aws:SecureTransport": "false"}}


def _bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, b)
        for k, b in synth.resources("AWS::S3::Bucket").items()
        if any(
            r.get("Prefix") == "recordings/"
            for r in b["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
        )
    ]
    return found


def _logical_id(synth: Synth, kind: str, name_part: str) -> str:
    (found,) = [k for k in synth.resources(kind) if name_part in k]
    return found


# ---- the bucket -----------------------------------------------------------------------------------


def test_bucket_is_kms_encrypted_with_a_rotated_key_of_its_own(synth: Synth) -> None:
    _, bucket = _bucket(synth)
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_id = rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    key = synth.raw["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_bucket_is_private_versioned_logged_and_retained(synth: Synth) -> None:
    _, bucket = _bucket(synth)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    access_logs = _logical_id(synth, "AWS::S3::Bucket", "AccessLogs")
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": access_logs},
        "LogFilePrefix": "recordings-bucket/",
    }
    assert bucket["DeletionPolicy"] == "Retain"


def test_bucket_policy_refuses_plain_http_and_old_tls(synth: Synth) -> None:
    bucket_id, _ = _bucket(synth)
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    denies = [s for s in policy if s["Effect"] == "Deny"]
    assert any(s["Condition"] == TLS_DENY and s["Action"] == "s3:*" for s in denies)
    assert any(s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in denies)


def test_lifecycle_moves_recordings_to_glacier_then_expires_them(synth: Synth, default_synth: Synth) -> None:
    _, bucket = _bucket(default_synth)
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["recordings"]["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 30}]
    assert rules["recordings"]["ExpirationInDays"] == 365
    assert rules["old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_lifecycle_follows_the_context() -> None:
    """Only the bucket, in a stack of its own: cheaper than synthesising the app a third time."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from infra.components.config import InfraConfig
    from infra.components.recordings import RecordingsBucket

    app = cdk.App(context={"recordingsGlacierDays": "7", "recordingsExpirationDays": "0"})
    stack = cdk.Stack(app, "Lifecycle")
    RecordingsBucket(
        stack, "Store", config=InfraConfig.from_context(app.node), access_logs=s3.Bucket(stack, "L")
    )
    resources = app.synth().get_stack_artifact("Lifecycle").template["Resources"]
    (bucket,) = [
        r for k, r in resources.items() if k.startswith("StoreBucket") and r["Type"] == "AWS::S3::Bucket"
    ]
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["recordings"]["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 7}]
    assert "ExpirationInDays" not in rules["recordings"]  # 0: kept until deleted on purpose


def test_expiry_before_the_move_to_glacier_is_refused() -> None:
    import aws_cdk as cdk

    from infra.components.config import ContextError, InfraConfig

    app = cdk.App(context={"recordingsGlacierDays": 90, "recordingsExpirationDays": 60})
    with pytest.raises(
        ContextError, match="recordingsExpirationDays 60 must exceed recordingsGlacierDays 90"
    ):
        InfraConfig.from_context(app.node)


# ---- the recordings Lambda ------------------------------------------------------------------------


def test_recordings_function_is_sized_for_long_recordings(synth: Synth) -> None:
    _, props = function(synth, RECORDINGS)
    assert props["MemorySize"] == 1536
    assert props["Timeout"] == 900
    assert props["EphemeralStorage"] == {"Size": 1024}
    # /tmp holds the largest recording the Lambda accepts (it spools there beyond memory)
    max_bytes = int(props["Environment"]["Variables"]["RECORDING_MAX_BYTES"])
    assert max_bytes == RecordingSettings.model_fields["recording_max_bytes"].default
    assert props["EphemeralStorage"]["Size"] * 1024 * 1024 > max_bytes
    assert props["Architectures"] == ["arm64"]
    assert props["ReservedConcurrentExecutions"] == 5


def test_recordings_environment(synth: Synth, default_synth: Synth) -> None:
    _, props = function(synth, RECORDINGS)
    env = props["Environment"]["Variables"]
    bucket_id, _ = _bucket(synth)
    secrets = secret_ids(synth)
    assert {
        "RECORDINGS_BUCKET",
        "CALLS_TABLE",
        "TRANSCRIPTS_TABLE",
        "TWILIO_SECRET_ARN",
        "DEEPGRAM_SECRET_ARN",
        "TWILIO_API_BASE_URL",
        "DEEPGRAM_URL",
        "DELETE_TWILIO_RECORDINGS",
        "RECORDINGS_KMS_KEY_ID",
        "RECORDING_MAX_BYTES",
    } <= set(env)
    assert env["RECORDINGS_BUCKET"] == {"Ref": bucket_id}
    # the bucket's default encryption is its own key: the Lambda's puts must name it, not AES256
    key = _logical_id(synth, "AWS::KMS::Key", "Recordings")
    assert env["RECORDINGS_KMS_KEY_ID"] == {"Fn::GetAtt": [key, "Arn"]}
    assert env["TWILIO_SECRET_ARN"] == {"Ref": secrets["twilio"]}
    assert env["DEEPGRAM_SECRET_ARN"] == {"Ref": secrets["deepgram"]}
    assert (env["TWILIO_API_BASE_URL"], env["DEEPGRAM_URL"]) == (
        "https://api.twilio.com",
        "wss://api.deepgram.com",
    )
    assert env["POWERTOOLS_SERVICE_NAME"] == recording_metrics.SERVICE_NAME
    assert env["DELETE_TWILIO_RECORDINGS"] == "true"  # deleteTwilioRecordings in the full context
    _, default = function(default_synth, RECORDINGS)
    assert default["Environment"]["Variables"]["DELETE_TWILIO_RECORDINGS"] == "false"  # off by default
    assert "ReservedConcurrentExecutions" not in default


def _deepgram_env(env: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in env.items() if k.startswith("DEEPGRAM_") and k != "DEEPGRAM_SECRET_ARN"}


def test_recordings_hear_calls_with_the_streamers_deepgram_options(
    synth: Synth, default_synth: Synth
) -> None:
    """Both get DEEPGRAM_URL and the transcription options (the full context sets them all) from one
    builder, InfraConfig.deepgram_environment; unset options are left to the code's defaults."""
    expected = {
        "DEEPGRAM_URL": "wss://api.deepgram.com",
        "DEEPGRAM_MODEL": "nova-2-phonecall",
        "DEEPGRAM_LANGUAGE": "en-GB",
        "DEEPGRAM_SMART_FORMAT": "false",
        "DEEPGRAM_PUNCTUATE": "true",
        "DEEPGRAM_REDACT": "pci,ssn",
        "DEEPGRAM_KEYTERM": "callscribe",
    }
    for built, options in ((synth, expected), (default_synth, {"DEEPGRAM_URL": "wss://api.deepgram.com"})):
        assert _deepgram_env(function(built, RECORDINGS)[1]["Environment"]["Variables"]) == options
        (task,) = built.resources("AWS::ECS::TaskDefinition").values()
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert _deepgram_env({e["Name"]: e["Value"] for e in container["Environment"]}) == options


def test_the_streamer_and_the_recordings_lambda_redact_alike(synth: Synth, default_synth: Synth) -> None:
    """Both get TRANSCRIPT_REDACTION (on unless switched off) and the configured patterns from one
    builder, InfraConfig.redaction_environment."""
    patterns = {
        "TRANSCRIPT_REDACTION": "true",
        "TRANSCRIPT_REDACTION_PATTERNS": '{"member_id": "M-\\\\d{6}"}',
    }
    for built, expected in ((synth, patterns), (default_synth, {"TRANSCRIPT_REDACTION": "true"})):
        lambda_env = function(built, RECORDINGS)[1]["Environment"]["Variables"]
        (task,) = built.resources("AWS::ECS::TaskDefinition").values()
        (container,) = task["Properties"]["ContainerDefinitions"]
        container_env = {e["Name"]: e["Value"] for e in container["Environment"]}
        for env in (lambda_env, container_env):
            assert {k: v for k, v in env.items() if k.startswith("TRANSCRIPT_REDACTION")} == expected


def _arn(logical_id: str, suffix: str = "") -> str:
    arn: dict[str, Any] = {"Fn::GetAtt": [logical_id, "Arn"]}
    return json.dumps({"Fn::Join": ["", [arn, suffix]]} if suffix else arn, sort_keys=True)


def test_recordings_iam_is_exactly_its_ports(synth: Synth) -> None:
    calls = _logical_id(synth, "AWS::DynamoDB::Table", "DataCalls")
    transcripts = _logical_id(synth, "AWS::DynamoDB::Table", "DataTranscripts")
    bucket_id, _ = _bucket(synth)
    key = _logical_id(synth, "AWS::KMS::Key", "Recordings")
    queue = _logical_id(synth, "AWS::SQS::Queue", "Recordings")
    secrets = secret_ids(synth)
    secret_read = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert grants_by_resource(synth, RECORDINGS) == {
        _arn(calls): {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        _arn(transcripts): {"dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"},
        _arn(bucket_id, "/recordings/*"): {"s3:PutObject", "s3:GetObject"},
        _arn(bucket_id): {"s3:ListBucket"},  # a missing object is 404, not 403
        _arn(key): {"kms:GenerateDataKey", "kms:Decrypt"},
        _arn(queue): {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},  # its async DLQ
        json.dumps({"Ref": secrets["twilio"]}): secret_read,
        json.dumps({"Ref": secrets["deepgram"]}): secret_read,
    }


def test_recording_completed_rule_retries_then_dead_letters(synth: Synth) -> None:
    rule = rule_targeting(synth, RECORDINGS)
    assert rule["EventPattern"] == {"source": [SOURCE], "detail-type": [RecordingCompleted.detail_type]}
    assert rule["EventBusName"] == {"Ref": next(iter(synth.resources("AWS::Events::EventBus")))}
    (target,) = rule["Targets"]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 8}
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert synth.raw["Resources"][queue_id]["Properties"]["SqsManagedSseEnabled"] is True
    function_id, _ = function(synth, RECORDINGS)
    (invoke,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert (invoke["MaximumRetryAttempts"], invoke["MaximumEventAgeInSeconds"]) == (2, 6 * 3600)
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}


# ---- the sweeper ----------------------------------------------------------------------------------


def test_sweeper_runs_on_its_schedule_without_retries(synth: Synth, default_synth: Synth) -> None:
    assert rule_targeting(default_synth, SWEEPER)["ScheduleExpression"] == "rate(5 minutes)"
    rule = rule_targeting(synth, SWEEPER)
    assert rule["ScheduleExpression"] == "rate(10 minutes)"
    assert "EventBusName" not in rule  # schedules live on the default bus
    function_id, props = function(synth, SWEEPER)
    (invoke,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert invoke["MaximumRetryAttempts"] == 0  # the next run is the retry
    assert props["Timeout"] == 240


def test_sweeper_environment(synth: Synth, default_synth: Synth) -> None:
    env = function(synth, SWEEPER)[1]["Environment"]["Variables"]
    assert {"CALLS_TABLE", "TRANSCRIPTS_TABLE", "EVENT_BUS_NAME", "SWEEP_AFTER_SECONDS"} <= set(env)
    assert {"TWILIO_SECRET_ARN", "TWILIO_API_BASE_URL"} <= set(env)  # Twilio's view of a lost callback
    assert "TWILIO_AUTH_TOKEN" not in env
    assert env["SWEEP_AFTER_SECONDS"] == "300"
    assert env["POWERTOOLS_SERVICE_NAME"] == sweeper_metrics.SERVICE_NAME
    assert function(default_synth, SWEEPER)[1]["Environment"]["Variables"]["SWEEP_AFTER_SECONDS"] == "600"


def test_sweeper_iam_is_exactly_its_ports(synth: Synth) -> None:
    calls = _logical_id(synth, "AWS::DynamoDB::Table", "DataCalls")
    transcripts = _logical_id(synth, "AWS::DynamoDB::Table", "DataTranscripts")
    bus = next(iter(synth.resources("AWS::Events::EventBus")))
    secrets = secret_ids(synth)
    secret_read = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert grants_by_resource(synth, SWEEPER) == {
        _arn(calls, f"/index/{CALLS_TO_SWEEP_INDEX}"): {"dynamodb:Query"},  # the sparse index only
        _arn(calls): {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        _arn(transcripts): {"dynamodb:Query"},
        _arn(bus): {"events:PutEvents"},
        # it reads Twilio's REST API when a call's callbacks were lost; no other secret
        json.dumps({"Ref": secrets["twilio"]}): secret_read,
    }
    statements = role_statements(synth, function_role(function(synth, SWEEPER)[1]))
    assert not refers_to(statements, secrets["deepgram"])
    assert not refers_to(statements, secrets["anthropic"])


# ---- alarms and dashboard -------------------------------------------------------------------------


def _alarms(synth: Synth) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]


def test_alarms_watch_the_recordings_dlq_the_sweeper_and_redrives(synth: Synth) -> None:
    alarms = _alarms(synth)
    sweeper_dimension = [{"Name": "service", "Value": sweeper_metrics.SERVICE_NAME}]
    by_metric = {(a["MetricName"], json.dumps(a.get("Dimensions"))): a for a in alarms}
    gave_up = by_metric[(sweeper_metrics.GAVE_UP, json.dumps(sweeper_dimension))]
    assert (gave_up["Threshold"], gave_up["Statistic"]) == (1, "Sum")
    redriven = by_metric[(sweeper_metrics.CALLS_REDRIVEN, json.dumps(sweeper_dimension))]
    assert (redriven["Threshold"], redriven["Period"]) == (20, 3600)
    queue = _logical_id(synth, "AWS::SQS::Queue", "Recordings")
    (dlq,) = [
        a
        for a in alarms
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]
    assert dlq["Threshold"] == 1
    for handler in (RECORDINGS, SWEEPER):
        function_id, _ = function(synth, handler)
        assert any(
            a["MetricName"] == "Errors"
            and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
            for a in alarms
        ), handler


def test_recordings_bucket_name_is_an_output(synth: Synth) -> None:
    bucket_id, _ = _bucket(synth)
    assert synth.raw["Outputs"]["RecordingsBucketName"]["Value"] == {"Ref": bucket_id}
