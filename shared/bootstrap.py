"""`python -m shared.bootstrap`: create the tables, the event bus and (when `RECORDINGS_BUCKET` is
set) the recordings bucket named by the environment.

Idempotent: existing resources are left alone, except that a calls table created before it had a
stream gets one (the outbox reads it). Keys, indexes and the stream come from the same pynamodb
models the code uses (and that infra/ mirrors), so a local stack cannot drift from the code's
expectations.
Meant for moto in server mode (`AWS_ENDPOINT_URL`); it refuses to run without an endpoint unless
`--allow-aws` is given, so nobody creates tables in a real account by accident.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from shared import aws
from shared.dal.tables import CALLS_STREAM_VIEW, calls_model, segments_model
from shared.settings import EnvSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

IDEMPOTENCY_KEY = "id"  # Powertools DynamoDBPersistenceLayer defaults
IDEMPOTENCY_TTL = "expiration"


class BootstrapSettings(EnvSettings):
    calls_table: str
    transcripts_table: str
    idempotency_table: str
    event_bus_name: str
    recordings_bucket: str | None = None


def _create_idempotency_table(name: str) -> bool:
    client = aws.dynamodb()
    try:
        client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": IDEMPOTENCY_KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": IDEMPOTENCY_KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceInUseException":
            return False
        raise
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": IDEMPOTENCY_TTL}
    )
    return True


def _create_bus(name: str) -> bool:
    client = aws.events()
    try:
        client.create_event_bus(Name=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceAlreadyExistsException":
            return False
        raise
    return True


def _create_bucket(name: str) -> bool:
    """Private, encrypted (SSE-S3 locally; the CDK app uses its own KMS key), like the deployed one."""
    client = cast("S3Client", aws.session().create_client("s3"))
    try:
        client.head_bucket(Bucket=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    else:
        return False
    region = client.meta.region_name
    if region and region != "us-east-1":
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[typeddict-item]
    else:
        client.create_bucket(Bucket=name)
    client.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    client.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    return True


def _ensure_calls_stream(name: str) -> bool:
    """Turn on the calls table's stream (both images) if it has none; True when it was off."""
    client = aws.dynamodb()
    spec: Mapping[str, Any] = client.describe_table(TableName=name)["Table"].get("StreamSpecification") or {}
    if spec.get("StreamEnabled") and spec.get("StreamViewType") == CALLS_STREAM_VIEW:
        return False
    if spec.get("StreamEnabled"):  # another view: it has to go before the right one can be made
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    client.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": CALLS_STREAM_VIEW}
    )
    return True


def bootstrap(settings: BootstrapSettings) -> list[str]:
    """Create what is missing; returns a line per resource saying what happened."""
    report: list[str] = []
    for model in (calls_model(settings.calls_table), segments_model(settings.transcripts_table)):
        name = model.Meta.table_name
        if model.exists():
            report.append(f"table {name}: exists")
        else:
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
            report.append(f"table {name}: created")
    if _ensure_calls_stream(settings.calls_table):
        report.append(f"table {settings.calls_table}: stream ({CALLS_STREAM_VIEW}) enabled")
    created = _create_idempotency_table(settings.idempotency_table)
    report.append(f"table {settings.idempotency_table}: {'created' if created else 'exists'}")
    created = _create_bus(settings.event_bus_name)
    report.append(f"event bus {settings.event_bus_name}: {'created' if created else 'exists'}")
    if settings.recordings_bucket:
        created = _create_bucket(settings.recordings_bucket)
        report.append(f"bucket {settings.recordings_bucket}: {'created' if created else 'exists'}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.bootstrap", description=__doc__)
    parser.add_argument("--allow-aws", action="store_true", help="run without AWS_ENDPOINT_URL")
    args = parser.parse_args(argv)
    if not os.environ.get("AWS_ENDPOINT_URL") and not args.allow_aws:
        print(
            "AWS_ENDPOINT_URL is not set; refusing to touch a real AWS account (use --allow-aws)",
            file=sys.stderr,
        )
        return 2
    for line in bootstrap(BootstrapSettings.from_env()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
