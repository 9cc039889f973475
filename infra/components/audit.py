"""The bucket that receives access logs (the streamer's ALB, the exports bucket).

ALB log delivery only supports SSE-S3, so this bucket uses it; it is TLS-only, private, and expires
logs after a year.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.components.nag import acknowledge


class AccessLogs(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # Log delivery is granted by bucket policy (cdk.json: serverAccessLogsUseBucketPolicy).
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire", expiration=cdk.Duration.days(365)),
                s3.LifecycleRule(
                    id="incomplete-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
                ),
            ],
        )
        acknowledge(
            self.bucket,
            ("AwsSolutions-S1",),
            "This is the access-log bucket itself; logging it into itself would loop.",
        )
