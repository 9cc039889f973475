"""Phone numbers never reach the logs in full: only their last four digits.

Call logs are kept for weeks and read by more people than the call records, and a phone number is
personal data. Masking every log line at the one formatter all tiers share (rather than at each call
site) also covers what a call site cannot control: appended keys, nested extras and the text of an
exception (Twilio's errors quote the number they refused). Four digits are kept so a line can still
be matched to a call by someone who already knows the number.

What counts as a number: `+` then 6 to 15 digits (E.164, as Twilio and our API write them), not
glued to a word or another digit. Timestamps, time-zone offsets, SIDs and bare digit runs are kept.
"""

from __future__ import annotations

import re

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

PHONE_NUMBER = re.compile(r"(?<![\w+])\+[1-9]\d{5,14}(?!\d)")


def mask_phone_numbers(text: str) -> str:
    """`+14155550111` → `+***0111`, wherever it appears in `text`."""
    return PHONE_NUMBER.sub(lambda match: "+***" + match.group(0)[-4:], text)


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with phone numbers masked in the finished line."""

    def serialize(self, log: LogRecord) -> str:
        return mask_phone_numbers(super().serialize(log))
