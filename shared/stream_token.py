"""The per-call stream token: proof that a Media Stream's `start` belongs to TwiML we issued.

The webhooks add `<Parameter name="token">` to every `<Stream>`; the streamer checks it against
`start.callSid` and `start.customParameters` before doing anything with the stream:

    token   = lowercase hex HMAC-SHA256(key = auth token (UTF-8), message (UTF-8))
    message = "v1\\n" + callSid + "\\n" + urlencode(sorted(pairs))

Must keep that contract byte for byte (ARCHITECTURE.md, "Per-call stream token"); docs/streamer.md
("Per-call stream token") pins `pairs`, `urlencode` and the call SID's shape, and says why one
upgrade signature is not enough.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from shared.sids import is_call_sid

__all__ = ["TOKEN_PARAMETER", "VERSION", "is_call_sid", "message", "sign", "verify"]

VERSION = "v1"
TOKEN_PARAMETER = "token"  # noqa: S105 - the <Parameter> name, not a secret


def message(call_sid: str, parameters: Mapping[str, str]) -> bytes:
    """The signed bytes; `token` is left out so a token never has to sign itself."""
    pairs = sorted((name, value) for name, value in parameters.items() if name != TOKEN_PARAMETER)
    return f"{VERSION}\n{call_sid}\n{urlencode(pairs)}".encode()


def sign(auth_token: str, call_sid: str, parameters: Mapping[str, str]) -> str:
    """The token for a stream of `call_sid` carrying `parameters` (a `token` entry is ignored)."""
    if not is_call_sid(call_sid):
        raise ValueError(f"not a call SID: {call_sid[:40]!r}")
    if not auth_token:
        raise ValueError("an empty auth token would make the token forgeable")
    return hmac.new(auth_token.encode(), message(call_sid, parameters), hashlib.sha256).hexdigest()


def verify(auth_tokens: Sequence[str], call_sid: object, custom_parameters: object) -> bool:
    """True when `custom_parameters["token"]` was made by one of `auth_tokens` for exactly this call
    and these parameters. Takes `start`'s values as they came off the wire, so anything malformed
    (a bad SID, a non-string value, no token) is simply False.

    `auth_tokens` is the primary auth token and, during a rotation, the secondary one. Every key is
    tried and compared with `hmac.compare_digest`, so the time taken says nothing about the token.
    """
    if isinstance(auth_tokens, str):
        raise TypeError("auth_tokens is a sequence of tokens, not one token")
    if not is_call_sid(call_sid) or not isinstance(custom_parameters, Mapping):
        return False
    parameters: dict[str, str] = {}
    for name, value in custom_parameters.items():
        if not isinstance(name, str) or not isinstance(value, str):
            return False  # Twilio's customParameters are string to string; anything else is forged
        parameters[name] = value
    token = parameters.get(TOKEN_PARAMETER)
    if token is None:
        return False
    signed = message(call_sid, parameters)
    presented = token.encode()
    matched = False
    for key in auth_tokens:
        if not key:
            continue  # an unset secondary slot, never a usable key
        expected = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, presented)
    return matched
