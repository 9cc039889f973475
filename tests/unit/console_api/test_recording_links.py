"""The recording links the console's player loads, as S3 in AWS will see them: signed with SigV4 (S3
refuses SigV2 for SSE-KMS objects) on the bucket's regional host (the host the console's CSP names in
`media-src`, infra/components/console.py). Presigning makes no request, so no endpoint is needed."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.console_api.recording_links import S3RecordingLinks
from shared import aws

BUCKET = "callscribe-recordings-abc123"


@pytest.fixture
def in_region(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The Lambda's environment: a region, AWS's own endpoints (no AWS_ENDPOINT_URL)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    aws.reset_clients()
    yield monkeypatch
    aws.reset_clients()


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_a_link_is_sigv4_on_the_buckets_regional_host(in_region: pytest.MonkeyPatch, region: str) -> None:
    in_region.setenv("AWS_REGION", region)
    in_region.setenv("AWS_DEFAULT_REGION", region)
    url = urlsplit(S3RecordingLinks(aws.s3(), BUCKET).link("recordings/CA1/RE1.wav", 600))
    query = parse_qs(url.query)
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        f"{BUCKET}.s3.{region}.amazonaws.com",
        "/recordings/CA1/RE1.wav",
    )
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["600"]
    assert f"/{region}/s3/aws4_request" in query["X-Amz-Credential"][0]
    assert "AWSAccessKeyId" not in query  # SigV2's
