"""Shapes of Twilio identifiers that every tier checks, so the gateway, the Lambdas and the stand-ins
agree on what they accept (they had drifted: the API model wanted 7+ digits, the Lambda 2+).

Plain strings, not compiled: API Gateway's JSON-schema models and pydantic's `pattern=` take the
text; Python callers compile it. `[0-9]` rather than `\\d`, because Python's `\\d` also matches other
scripts' digits (Arabic-Indic, Devanagari, …) that Twilio and API Gateway refuse.
"""

from __future__ import annotations

from typing import Final

# E.164: "+", a country code that does not start with 0, at most 15 digits in all. The shortest
# numbers in service are 7 digits (e.g. Niue's +683 and 4 digits); fewer is a typo, refused before
# it reaches Twilio.
E164_PATTERN: Final = r"^\+[1-9][0-9]{6,14}$"
E164_MAX_LENGTH: Final = 16  # "+" and 15 digits
# The start of E.164 numbers (`+44`, `+1415`): what an allow-list of destinations holds; `+` alone
# is every number.
E164_PREFIX_PATTERN: Final = r"^\+(?:[1-9][0-9]{0,14})?$"
# Twilio call SIDs: "CA" and 32 hex digits (Twilio writes lowercase; either case is accepted).
CALL_SID_PATTERN: Final = r"^CA[0-9a-fA-F]{32}$"
# Twilio recording SIDs: "RE" and 32 hex digits.
RECORDING_SID_PATTERN: Final = r"^RE[0-9a-fA-F]{32}$"
# A Deepgram language (`en`, `es-419`, `multi`) or model (`nova-3`, `nova-2-phonecall`) name, as a
# route may choose them: they travel as stream <Parameter>s and into Deepgram's query string, so
# nothing but a plain token is accepted.
STT_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
