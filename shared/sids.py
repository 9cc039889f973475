"""Twilio SIDs as they may come in from outside: checked before they become keys, paths or log fields.

A call SID is `CA` + 32 hex digits. Twilio writes them in lower case; upper case is accepted too, as
the request models always have. `re.fullmatch` with an explicit class, so no trailing newline and
no Unicode digits slip through (`$` and `\\d` would let both in).
"""

from __future__ import annotations

import re
from typing import TypeGuard

CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")


def is_call_sid(value: object) -> TypeGuard[str]:
    """`CA` + 32 hex digits, nothing before or after."""
    return isinstance(value, str) and CALL_SID.fullmatch(value) is not None
