"""Nothing private reaches the logs: phone numbers keep only their last four digits, and card numbers
(with the expiry and code after them) and SSNs are redacted as in transcripts.

The one formatter every tier's logger uses does it, so it covers what a call site cannot control
(appended keys, nested extras, an exception's text). Must keep: every string value goes through the
transcript engine with its log rules (`shared.redaction_rules.LOGS`), Powertools' own keys
excepted; an E.164 number (`+` and 6 to 15 digits, not glued to a word or digit) becomes `+***`
and its last four digits. Why, and what is kept: docs/data-model.md ("Redaction", "Logs").
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

from shared.redaction import Redactor
from shared.redaction_rules import LOGS
from shared.spoken_digits import maybe_digits

PHONE_NUMBER = re.compile(r"(?<![\w+])\+[1-9]\d{5,14}(?!\d)")
# Powertools' own keys: set by the logger, never private, and read by tools as they are
_SYSTEM_KEYS = frozenset(
    {
        "level", "location", "timestamp", "service", "sampling_rate", "cold_start", "function_name",
        "function_memory_size", "function_arn", "function_request_id", "xray_trace_id",
    }
)  # fmt: skip


def mask_phone_numbers(text: str) -> str:
    """`+14155550111` → `+***0111`, wherever it appears in `text`."""
    return PHONE_NUMBER.sub(lambda match: "+***" + match.group(0)[-4:], text)


def redact_text(text: str) -> str:
    """`text` with card numbers (and what follows them) and SSNs redacted, by the log rules."""
    if not maybe_digits(text):
        return text
    return Redactor(rules=LOGS).redact(text)


def redact_values(value: Any) -> Any:
    """Every string in `value` (a log record's dict, its lists and nested dicts) through `redact_text`;
    any other object as the serializer would write it (`str`: an exception in the stack trace)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: item if key in _SYSTEM_KEYS else redact_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_values(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value))


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with private numbers redacted in every value and phone numbers
    masked in the finished line."""

    def serialize(self, log: LogRecord) -> str:
        return mask_phone_numbers(super().serialize(redact_values(log)))
