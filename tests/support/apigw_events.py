"""Real API Gateway REST (v1) proxy events, signed the way Twilio signs its webhooks.

Twilio signs the public URL it called (scheme, host, stage, path, query) and the form parameters,
with the account's auth token; the Lambda sees a different URL (no stage in `path`) and maybe a
base64 body. Building events with `callscribe_local.apigw.rest_proxy_event` and signing with the
real `RequestValidator` keeps tests honest about both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from callscribe_local.apigw import rest_proxy_event
from shared.signatures import FormParams
from tests.conftest import TEST_AUTH_TOKEN

API_HOST = "abc123defg.execute-api.us-east-1.amazonaws.com"
STAGE = "prod"
FORM = "application/x-www-form-urlencoded"

Pairs = Sequence[tuple[str, str]] | Mapping[str, str]


def _pairs(params: Pairs) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, Mapping) else list(params)


def sign(url: str, params: Pairs, auth_token: str = TEST_AUTH_TOKEN) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, FormParams(_pairs(params))))


def twilio_event(
    path: str,
    params: Pairs,
    *,
    auth_token: str = TEST_AUTH_TOKEN,
    stage: str = STAGE,
    host: str = API_HOST,
    signed_url: str | None = None,
    query: str = "",
    base64_body: bool = True,
    signature: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """A Twilio webhook as the Lambda receives it behind API Gateway (execute-api URL by default)."""
    pairs = _pairs(params)
    url = signed_url or f"https://{host}/{stage}{path}" + (f"?{query}" if query else "")
    headers = {
        "Host": host,
        "Content-Type": f"{FORM}; charset=utf-8" if not base64_body else FORM,
        "User-Agent": "TwilioProxy/1.1",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Forwarded-For": "54.172.60.1",
        "I-Twilio-Idempotency-Token": "idem-token",
        "X-Twilio-Signature": signature if signature is not None else sign(url, pairs, auth_token),
        **(extra_headers or {}),
    }
    return rest_proxy_event(
        method="POST",
        path=path,
        stage=stage,
        headers=headers,
        body=urlencode(pairs) if body is None else body,
        query=query,
        binary_media_types=(FORM,) if base64_body else (),
    )


def json_event(method: str, path: str, payload: Any = None, *, raw_body: str | None = None) -> dict[str, Any]:
    """An IAM-signed calls API request (the gateway has checked SigV4; the Lambda sees the identity)."""
    body = raw_body if raw_body is not None else (None if payload is None else json.dumps(payload))
    event = rest_proxy_event(
        method=method,
        path=path,
        stage=STAGE,
        headers={"Host": API_HOST, "Content-Type": "application/json", "X-Forwarded-Proto": "https"},
        body=body,
    )
    identity = event["requestContext"]["identity"]
    identity.update(
        accountId="123456789012",
        caller="AIDAEXAMPLE",
        accessKey="AKIAEXAMPLE",
        userArn="arn:aws:iam::123456789012:user/ops",
        user="AIDAEXAMPLE",
    )
    return event
