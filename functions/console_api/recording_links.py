"""Short-lived links to the stored recordings: S3 presigned GETs, made without a network call.

`RecordingLinks` is the port the API's logic holds; `S3RecordingLinks` signs with the Lambda's own
credentials (its role may read the recordings bucket and use its KMS key), so a link works for the
minutes it names and only for the one object. Expired links are refused by S3 itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class RecordingLinks(Protocol):
    def link(self, key: str, seconds: int) -> str:
        """A URL that GETs the object at `key` for `seconds` seconds."""
        ...


class S3RecordingLinks:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def link(self, key: str, seconds: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key, "ResponseContentType": "audio/wav"},
            ExpiresIn=seconds,
        )
