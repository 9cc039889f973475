"""Checking an AWS Signature Version 4 request as an AWS service does, for the local stand-ins.

The signature is recomputed with botocore's own signer (the code every AWS SDK call is signed by)
from what the request carried: the signed headers named in `Authorization`, the body, the time in
`X-Amz-Date`. Then the credential scope (service, region), the access key, the session token and the
clock skew are checked. Anything wrong is a `SignatureRefused` naming what, with the error type AWS
answers it with (403), never a partial pass. Used by every stand-in that AWS signs for (AppSync
Events, Bedrock).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 300  # what AWS allows between the signer's clock and its own


class SignatureRefused(Exception):
    """The request is not signed, or not signed by credentials we know for this service and region;
    `error_type` is the error AWS answers such a request with."""

    def __init__(self, message: str, error_type: str = "InvalidSignatureException") -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class SigV4Verifier:
    service: str
    region: str
    credentials: Mapping[str, Credentials]  # access key id -> the credentials it belongs to

    def verify(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None
    ) -> str:
        """The access key id that signed the request; SignatureRefused otherwise.

        `headers` as received (any case); `url` as the client addressed it (scheme, host, path, query).
        """
        lower = {key.lower(): value for key, value in headers.items()}
        scope, signed_names, signature = _parse_authorization(lower.get("authorization", ""))
        key_id, day, region, service, terminal = scope
        if (service, region, terminal) != (self.service, self.region, "aws4_request"):
            raise SignatureRefused(f"credential scope {region}/{service} is not {self.region}/{self.service}")
        credentials = self.credentials.get(key_id)
        if credentials is None:
            raise SignatureRefused(
                "The security token included in the request is invalid.", "UnrecognizedClientException"
            )
        stamp = lower.get("x-amz-date", "")
        signed_at = _parse_amz_date(stamp)
        if stamp[:8] != day:
            raise SignatureRefused("X-Amz-Date is not the day of the credential scope")
        skew = abs(((now or datetime.now(UTC)) - signed_at).total_seconds())
        if skew > MAX_SKEW_SECONDS:
            raise SignatureRefused(f"signed {skew:.0f} s away from now (at most {MAX_SKEW_SECONDS})")
        if "host" not in signed_names or "x-amz-date" not in signed_names:
            raise SignatureRefused("host and x-amz-date must be signed", "IncompleteSignatureException")
        if credentials.token and not hmac.compare_digest(
            lower.get("x-amz-security-token", ""), credentials.token
        ):
            raise SignatureRefused("session token missing or wrong")
        missing = [name for name in signed_names if name not in lower]
        if missing:
            raise SignatureRefused(
                f"signed headers missing from the request: {missing}", "IncompleteSignatureException"
            )
        request = AWSRequest(
            method=method, url=url, data=body, headers={name: lower[name] for name in signed_names}
        )
        request.context["timestamp"] = stamp
        signer = SigV4Auth(credentials, self.service, self.region)
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
        if not hmac.compare_digest(expected, signature):
            raise SignatureRefused(
                "The request signature we calculated does not match the signature you provided."
            )
        return key_id


def _parse_authorization(value: str) -> tuple[tuple[str, str, str, str, str], list[str], str]:
    if not value:
        raise SignatureRefused("Missing Authentication Token", "MissingAuthenticationTokenException")
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRefused("Authorization is not AWS4-HMAC-SHA256", "IncompleteSignatureException")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, text = part.strip().partition("=")
        if sep:
            fields[name] = text
    try:
        scope = tuple(fields["Credential"].split("/"))
        signed_names = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except KeyError as exc:
        raise SignatureRefused(f"Authorization lacks {exc.args[0]}", "IncompleteSignatureException") from exc
    if len(scope) != 5:
        raise SignatureRefused("malformed credential scope", "IncompleteSignatureException")
    return (scope[0], scope[1], scope[2], scope[3], scope[4]), signed_names, signature


def _parse_amz_date(stamp: str) -> datetime:
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureRefused("X-Amz-Date missing or malformed") from exc
