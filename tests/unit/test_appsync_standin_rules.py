"""The AppSync Events stand-in's pure rules: channel paths and wildcards, and the SigV4 check's clock,
scope and header rules (the signing itself is botocore's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from callscribe_local.appsync_channels import ChannelError, parse_channel, path_of, reaches
from callscribe_local.sigv4 import SignatureRefused, SigV4Verifier

NS = ("calls",)


def test_paths_with_and_without_the_leading_slash() -> None:
    assert parse_channel("/calls/live", NS, wildcard=False) == ("calls", "live")
    assert parse_channel("calls/CA1", NS, wildcard=False) == ("calls", "CA1")
    assert path_of(("calls", "live")) == "/calls/live"


@pytest.mark.parametrize("path", ["/calls", "/calls/a/b/c/d", "/calls/" + "a" * 50, "/calls/with-dash-09"])
def test_valid_paths(path: str) -> None:
    parse_channel(path, NS, wildcard=False)


@pytest.mark.parametrize(
    "path",
    ["", "/", "//", "/calls/", "/calls//x", "/calls/a.b", "/calls/a_b", "/calls/a/b/c/d/e", "/other/x"],
)
def test_invalid_paths(path: str) -> None:
    with pytest.raises(ChannelError):
        parse_channel(path, NS, wildcard=True)


def test_the_wildcard_only_last_and_only_to_subscribe() -> None:
    assert parse_channel("/calls/*", NS, wildcard=True) == ("calls", "*")
    for path in ("/calls/*/live", "/*", "/calls/*"):
        with pytest.raises(ChannelError):
            parse_channel(path, NS, wildcard=path != "/calls/*")


def test_what_a_subscription_reaches() -> None:
    assert reaches(("calls", "live"), ("calls", "live"))
    assert not reaches(("calls", "live"), ("calls", "CA1"))
    assert reaches(("calls", "*"), ("calls", "live"))
    assert reaches(("calls", "*"), ("calls", "CA1", "x"))
    assert not reaches(("calls", "*"), ("calls",))  # the wildcard stands for at least one segment
    assert reaches(("calls", "CA1", "*"), ("calls", "CA1", "x"))
    assert not reaches(("calls", "CA1", "*"), ("calls", "CA2", "x"))


CREDS = Credentials("AKIDEXAMPLE", "secret", "session")
VERIFIER = SigV4Verifier("appsync", "us-east-1", {"AKIDEXAMPLE": CREDS})
URL = "http://feed.local:8080/event"


def signed(body: bytes = b"{}") -> dict[str, str]:
    request = AWSRequest(method="POST", url=URL, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(CREDS, "appsync", "us-east-1").add_auth(request)
    return {**dict(request.headers.items()), "Host": "feed.local:8080"}


def test_a_signature_is_good_within_five_minutes_of_its_time() -> None:
    headers = signed()
    signed_at = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert (
        VERIFIER.verify("POST", URL, headers, b"{}", now=signed_at + timedelta(seconds=299)) == "AKIDEXAMPLE"
    )
    with pytest.raises(SignatureRefused, match="away from now"):
        VERIFIER.verify("POST", URL, headers, b"{}", now=signed_at + timedelta(seconds=301))
    with pytest.raises(SignatureRefused, match="away from now"):
        VERIFIER.verify("POST", URL, headers, b"{}", now=signed_at - timedelta(seconds=301))


def test_the_method_path_host_and_body_are_covered() -> None:
    headers = signed(b'{"a":1}')
    with pytest.raises(SignatureRefused, match="does not match"):
        VERIFIER.verify("PUT", URL, headers, b'{"a":1}')
    with pytest.raises(SignatureRefused, match="does not match"):
        VERIFIER.verify("POST", URL.replace("/event", "/other"), headers, b'{"a":1}')
    with pytest.raises(SignatureRefused, match="does not match"):
        VERIFIER.verify("POST", URL, {**headers, "Host": "elsewhere:8080"}, b'{"a":1}')
    with pytest.raises(SignatureRefused, match="does not match"):
        VERIFIER.verify("POST", URL, headers, b'{"a":2}')


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer x",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/appsync/aws4_request",
        "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
    ],
)
def test_malformed_authorization_headers(authorization: str) -> None:
    with pytest.raises(SignatureRefused):
        VERIFIER.verify("POST", URL, {**signed(), "Authorization": authorization}, b"{}")


def test_a_request_without_the_signed_date_header_is_refused() -> None:
    headers = {k: v for k, v in signed().items() if k != "X-Amz-Date"}
    with pytest.raises(SignatureRefused, match="X-Amz-Date"):
        VERIFIER.verify("POST", URL, headers, b"{}")
