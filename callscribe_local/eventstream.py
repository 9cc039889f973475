"""AWS event stream framing (`application/vnd.amazon.eventstream`), as Bedrock's
InvokeModelWithResponseStream sends it: for the Bedrock stand-in, so the SDK decodes real frames.

A frame is a prelude (total length, headers length, their CRC32), headers (name, type 7 = string,
value), the payload, and a CRC32 of everything before it. Bedrock's `chunk` event carries one
Messages streaming event as base64 in `{"bytes": …}` (plus `p`, padding that hides lengths);
`exception` frames carry an error. Only encoding: botocore's `EventStreamBuffer` decodes, and the
tests check these frames round-trip through it.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

_STRING = 7  # header value type: a UTF-8 string with a 2-byte length
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event stream message."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + _crc(prelude) + encoded + payload
    return message + _crc(message)


def chunk(event: Mapping[str, Any]) -> bytes:
    """Bedrock's `chunk` frame around one Messages streaming event (`message_start`, …)."""
    data = json.dumps(event).encode()
    payload = {"bytes": base64.b64encode(data).decode(), "p": _PADDING[: 1 + len(data) % len(_PADDING)]}
    return frame(
        {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
        json.dumps(payload).encode(),
    )


def exception(kind: str, message: str) -> bytes:
    """An `exception` frame (`throttlingException`, `modelStreamErrorException`, …): the stream's end."""
    return frame(
        {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"},
        json.dumps({"message": message}).encode(),
    )


def _header(name: str, value: str) -> bytes:
    key, text = name.encode(), value.encode()
    return struct.pack(">B", len(key)) + key + struct.pack(">BH", _STRING, len(text)) + text


def _crc(data: bytes) -> bytes:
    return struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)
