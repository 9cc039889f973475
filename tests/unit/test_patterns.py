"""One E.164 shape and one call SID shape for every tier (shared/patterns.py).

The gateway's request model and the Lambda had drifted (7+ digits against 2+); these cases pin what
every checker now accepts, so a change to the shape is a deliberate change to this table.
"""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from functions.summaries.inputs import TranscriptCompletedDetail
from functions.webhooks.inputs import CreateCallRequest, StatusCallback
from shared.errors import ConfigError
from shared.patterns import CALL_SID_PATTERN, E164_MAX_LENGTH, E164_PATTERN
from shared.routing import is_e164, parse_call_routes
from tests.support.twilio_forms import status_params

E164_CASES = [
    ("+14155550100", True),  # NANP
    ("+442071838750", True),  # UK
    ("+6834002", True),  # 7 digits: Niue, the shortest numbers in service
    ("+123456789012345", True),  # 15 digits: E.164's maximum
    ("+123456", False),  # 6 digits
    ("+1234567890123456", False),  # 16 digits
    ("+04155550100", False),  # country codes never start with 0
    ("14155550100", False),  # no +
    ("+1 415 555 0100", False),  # formatting is not E.164
    ("+1415555010a", False),
    ("+١٤١٥٥٥٥٠١٠٠", False),  # Arabic-Indic digits: Python's \d would take them
    ("+14155550100\n", False),
    ("", False),
]


@pytest.mark.parametrize(("number", "valid"), E164_CASES)
def test_every_e164_check_agrees(number: str, valid: bool) -> None:
    assert bool(re.fullmatch(E164_PATTERN, number)) is valid
    assert is_e164(number) is valid
    if valid:
        assert len(number) <= E164_MAX_LENGTH
    # the Lambda's POST /calls body (the gateway's model uses the same pattern: tests/infra/test_api.py)
    body = {"to": number, "connectTo": "+14155550111"}
    if valid:
        assert CreateCallRequest.model_validate(body).to == number
    else:
        with pytest.raises(ValidationError):
            CreateCallRequest.model_validate(body)
    # CALL_ROUTES keys and targets
    routes = json_routes(number)
    if valid:
        parse_call_routes(routes)
    else:
        with pytest.raises(ConfigError, match=r"E\.164"):
            parse_call_routes(routes)


def json_routes(number: str) -> dict[str, object]:
    return {number: {"forwardTo": "+14155550111"}, "*": {"forwardTo": number}}


CALL_SID_CASES = [
    ("CA" + "0123456789abcdef" * 2, True),
    ("CA" + "0123456789ABCDEF" * 2, True),
    ("CA" + "0" * 31, False),
    ("CA" + "0" * 33, False),
    ("RE" + "0" * 32, False),
    ("CA" + "g" * 32, False),
]


@pytest.mark.parametrize(("sid", "valid"), CALL_SID_CASES)
def test_every_call_sid_check_agrees(sid: str, valid: bool) -> None:
    assert bool(re.fullmatch(CALL_SID_PATTERN, sid)) is valid
    detail = {"callSid": sid, "segmentCount": 1}
    form = status_params(sid, "completed", 1)
    if valid:
        TranscriptCompletedDetail.model_validate(detail)
        StatusCallback.model_validate(form)
    else:
        with pytest.raises(ValidationError):
            TranscriptCompletedDetail.model_validate(detail)
        with pytest.raises(ValidationError):
            StatusCallback.model_validate(form)
