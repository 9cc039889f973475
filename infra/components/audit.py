"""The bucket that receives access logs (the streamer's ALB, the exports bucket).

ALB log delivery only supports SSE-S3, so this bucket uses it; it is TLS-only, private, and expires
logs after a year.
"""

from __future__ import annotations

from constructs import Construct

from infra.components.nag import acknowledge
from infra.components.outputs import stack_output
from infra.components.storage import LOG_LIFECYCLE, private_bucket


class AccessLogs(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Log delivery is granted by bucket policy (cdk.json: serverAccessLogsUseBucketPolicy).
        self.bucket = private_bucket(self, "Bucket", lifecycle_rules=LOG_LIFECYCLE)
        acknowledge(
            self.bucket,
            ("AwsSolutions-S1",),
            "This is the access-log bucket itself; logging it into itself would loop.",
        )
        stack_output(self, "AccessLogsBucketName", self.bucket.bucket_name, "Access logs (retained)")
