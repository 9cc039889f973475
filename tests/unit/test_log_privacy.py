"""No full phone number reaches the logs: Powertools' output is masked to the last four digits."""

from __future__ import annotations

import io
import json

import pytest

from shared.log_privacy import mask_phone_numbers
from shared.observability import logger
from tests.support.log_capture import log_output_fixture  # noqa: F401 - provides `log_output`


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+14155550111", "+***0111"),
        ("to +14155550111 and +442079460958.", "to +***0111 and +***0958."),
        ("sip:+14155550111@pbx.example.com", "sip:+***0111@pbx.example.com"),
        ('{"to": "+14155550111"}', '{"to": "+***0111"}'),
        (
            "Invalid 'To' Phone Number: +15005550001 (code 21211)",
            "Invalid 'To' Phone Number: +***0001 (code 21211)",
        ),
    ],
)
def test_numbers_keep_only_their_last_four_digits(text: str, masked: str) -> None:
    assert mask_phone_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T09:30:02.000+00:00",  # offsets are not numbers
        "Sun, 25 Mar 2018 09:53:19 +0000",
        "CA0123456789abcdef0123456789abcdef",
        "duration 1795698162843 ms",  # epoch millis, no plus
        "client:alice",
        "+1234",  # too short to be anyone's number
    ],
)
def test_other_values_are_left_alone(text: str) -> None:
    assert mask_phone_numbers(text) == text


def test_the_shared_logger_masks_message_extras_keys_and_exceptions(log_output: io.StringIO) -> None:
    logger.append_keys(caller="+14155550100")
    try:
        logger.info(
            "calling +14155550111", extra={"to": "+14155550122", "nested": {"from": ["+14155550133"]}}
        )
        try:
            raise ValueError("Twilio refused +14155550144")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.remove_keys(["caller"])
    out = log_output.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["message"] for line in lines] == ["calling +***0111", "failed"]
    assert lines[0]["to"] == "+***0122"
    assert lines[0]["nested"] == {"from": ["+***0133"]}
    assert lines[0]["caller"] == "+***0100"
    assert "+***0144" in lines[1]["exception"]
    for number in ("+14155550100", "+14155550111", "+14155550122", "+14155550133", "+14155550144"):
        assert number not in out


EXPIRY, CODE = "04/27", "123"


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111, 1111, 1111, 1111",
        "four one one one one one one one one one one one one one one one",
    ],
)
def test_card_numbers_and_ssns_in_any_value_are_redacted(card: str, log_output: io.StringIO) -> None:
    message = f"vendor refused: card {card} exp {EXPIRY} cvv {CODE}"  # the traceback shows the raise line
    try:
        raise ValueError(message)
    except ValueError:
        logger.exception("upstream error", extra={"detail": {"ssn": "078.05.1120", "items": [card]}})
    out = log_output.getvalue()
    line = json.loads(out.splitlines()[-1])
    assert "4111" not in out
    assert "one one one one" not in out
    assert "04/27" not in out
    assert "078.05.1120" not in out
    assert line["detail"] == {"ssn": "[REDACTED SSN]", "items": ["[REDACTED CARD]"]}
    assert "card [REDACTED CARD] exp [REDACTED EXPIRY] cvv [REDACTED SECURITY_CODE]" in line["exception"]


def test_ids_times_and_counts_in_logs_are_kept(log_output: io.StringIO) -> None:
    values = {
        "call_sid": "CA0123456789abcdef0123456789abcdef",
        "segment_key": "000012345#inbound",
        "started": "2026-11-22 09:30:02,123+0000",
        "account": "123456789012",
        "request": "123e4567-e89b-12d3-a456-426614174000",
        "phone_digits": "415 555 1234",
    }
    logger.info("kept", extra=values)
    line = json.loads(log_output.getvalue().splitlines()[-1])
    assert {key: line[key] for key in values} == values
