"""The two storage shapes every construct uses: a private bucket and a log group.

Each bucket is TLS-only, private and SSE-S3 (ALB and CloudFront log delivery support only that), kept
when the stack is deleted (it holds data or evidence), and aborts stale multipart uploads; each log
group has the configured retention and goes with the stack. Built here once, so a new bucket cannot
forget one of those properties and cdk-nag findings stay the exception, not the default.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

ABORT_INCOMPLETE_UPLOADS = s3.LifecycleRule(
    id="incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
)
# What log buckets keep: a year of logs, then gone.
LOG_LIFECYCLE = (s3.LifecycleRule(id="expire", expiration=cdk.Duration.days(365)), ABORT_INCOMPLETE_UPLOADS)


def private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    access_logs: s3.IBucket | None = None,
    access_logs_prefix: str | None = None,
    object_ownership: s3.ObjectOwnership = s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
) -> s3.Bucket:
    """A private, TLS-only, SSE-S3 bucket that survives the stack; its server access logs go to
    `access_logs` under `access_logs_prefix` (None only for the access-log bucket itself)."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=object_ownership,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        lifecycle_rules=list(lifecycle_rules),
    )


def new_log_group(scope: Construct, construct_id: str, retention: logs.RetentionDays) -> logs.LogGroup:
    """A log group with the configured retention, deleted with the stack (logs are not the record)."""
    return logs.LogGroup(scope, construct_id, retention=retention, removal_policy=cdk.RemovalPolicy.DESTROY)
