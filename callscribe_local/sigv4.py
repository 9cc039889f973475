"""Checks the AWS Signature Version 4 of a request a stand-in received, against local credentials.

The Bedrock stand-in refuses what Bedrock would: no signature, an unknown access key, a credential
scope for another Region or service, a signature that does not match (a body or signed header
changed on the way, or the wrong secret). The expected signature is recomputed with botocore's own
signer over the signed headers as received, at the request's own `x-amz-date`, so the check holds
whatever client signed it; it does not check the clock skew AWS allows (tests run on one clock).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/"
    r"aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class SigningProblem:
    """Why a request is refused: AWS's error type (403) and its message."""

    error_type: str
    message: str


def check(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: Mapping[str, str],
    region: str,
    service: str,
) -> SigningProblem | None:
    """None when `headers` (lower-cased names) carry a valid signature by one of `secrets` (access key
    id -> secret key) for `region` and `service`; else what AWS would answer."""
    authorization = headers.get("authorization", "")
    if not authorization:
        return SigningProblem("MissingAuthenticationTokenException", "Missing Authentication Token")
    parsed = _AUTHORIZATION.match(authorization)
    if parsed is None:
        return SigningProblem("IncompleteSignatureException", "Authorization header is not AWS4-HMAC-SHA256")
    secret = secrets.get(parsed["key"])
    if secret is None:
        return SigningProblem(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if (parsed["region"], parsed["service"]) != (region, service):
        return SigningProblem(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region and service ({region}/{service}), "
            f"not {parsed['region']}/{parsed['service']}",
        )
    signed = parsed["signed"].split(";")
    missing = [name for name in ("host", "x-amz-date", *signed) if name not in headers or name not in signed]
    amz_date = headers.get("x-amz-date", "")
    if missing or not amz_date.startswith(parsed["date"]):
        return SigningProblem(
            "IncompleteSignatureException", f"signed headers missing or inconsistent: {sorted(set(missing))}"
        )
    request = AWSRequest(method=method, url=url, headers={name: headers[name] for name in signed}, data=body)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(
        Credentials(parsed["key"], secret, headers.get("x-amz-security-token")), service, region
    )
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, parsed["signature"]):
        return SigningProblem(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return None
