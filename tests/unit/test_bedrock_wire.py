"""The Bedrock stand-in's wire pieces against botocore's own: its event stream frames decode with
botocore's parser as Bedrock's do, and its SigV4 check accepts exactly what botocore signs."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

from callscribe_local import eventstream, sigv4

URL = "http://127.0.0.1:8080/model/us.anthropic.claude-haiku-5-5/invoke"
BODY = b'{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5}'
LOCAL_SECRET = "local-secret"
SECRETS = {"AKIDLOCAL": LOCAL_SECRET}


def test_chunk_frames_decode_to_the_messages_event_they_carry() -> None:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_bdrk_1", "content": []}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "héllo"}},
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 3}},
    ]
    buffer = EventStreamBuffer()
    wire = b"".join(eventstream.chunk(event) for event in events) + eventstream.exception(
        "throttlingException", "Too many requests"
    )
    for piece in (wire[:7], wire[7:100], wire[100:]):  # frames split anywhere, as TCP delivers them
        buffer.add_data(piece)
    decoded = [message.to_response_dict() for message in buffer]
    assert [d["headers"][":message-type"] for d in decoded] == ["event", "event", "event", "exception"]
    chunks = [json.loads(d["body"]) for d in decoded[:3]]
    assert [json.loads(base64.b64decode(c["bytes"])) for c in chunks] == events
    assert all(c["p"] for c in chunks)  # Bedrock's padding field rides along
    assert decoded[3]["headers"][":exception-type"] == "throttlingException"
    assert decoded[3]["status_code"] == 400


def signed(
    body: bytes = BODY, *, secret: str = LOCAL_SECRET, region: str = "us-east-1", token: str | None = None
) -> dict[str, str]:
    """Headers as botocore signs them (the SDK's `AnthropicBedrock` signs with this code), lower-cased."""
    request = AWSRequest(
        method="POST",
        url=URL,
        headers={
            "content-type": "application/json",
            "content-length": str(len(body)),
            "host": "127.0.0.1:8080",
        },
        data=body,
    )
    SigV4Auth(Credentials("AKIDLOCAL", secret, token), "bedrock", region).add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


VERIFIER = sigv4.SigV4Verifier(
    "bedrock", "us-east-1", {key: Credentials(key, secret) for key, secret in SECRETS.items()}
)


def check(headers: dict[str, str], body: bytes = BODY) -> sigv4.SignatureRefused | None:
    try:
        VERIFIER.verify("POST", URL, headers, body)
    except sigv4.SignatureRefused as refused:
        return refused
    return None


def test_a_request_botocore_signed_with_the_local_secret_verifies() -> None:
    assert check(signed()) is None
    assert check(signed(token="session-token")) is None  # the token is a signed header, like any


@pytest.mark.parametrize(
    ("headers", "body", "error_type"),
    [
        ({}, BODY, "MissingAuthenticationTokenException"),
        (signed(secret="someone-elses"), BODY, "InvalidSignatureException"),
        (signed(), BODY.replace(b"5", b"9"), "InvalidSignatureException"),  # the body changed on the way
        (signed(region="eu-west-1"), BODY, "InvalidSignatureException"),  # scoped to another Region
        ({**signed(), "content-type": "text/plain"}, BODY, "InvalidSignatureException"),  # a signed header
        (
            {**signed(), "authorization": signed()["authorization"].replace("AKIDLOCAL", "AKIDOTHER")},
            BODY,
            "UnrecognizedClientException",
        ),
    ],
)
def test_what_bedrock_refuses_is_refused(headers: dict[str, str], body: bytes, error_type: str) -> None:
    problem = check(headers, body)
    assert problem is not None
    assert problem.error_type == error_type
