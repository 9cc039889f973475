"""Paging the transcript of `GET /calls/{callSid}`: the query parameters, the cursor, the page size.

`?limit=N` (1 to `MAX_LIMIT`, default `DEFAULT_LIMIT`) and `?cursor=…` (the previous answer's
`transcriptNextCursor`) choose the page; a bad value of either is a 400 (other parameters are
ignored). The cursor is opaque to clients: urlsafe base64 (no padding) of the call SID and the sort
key of the last segment sent; unsigned, as it only says where in a transcript the caller may read
whole to resume. Must keep: a cursor is accepted only when it is one we could have made for *this*
call (canonical encoding, the call SID, the key's shape); a page stays below Lambda's 6 MB response
limit (docs/architecture.md, "Page sizes", has the arithmetic behind the limits).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.dal.keys import SEGMENT_KEY_PATTERN
from shared.errors import MalformedRequestError

DEFAULT_LIMIT = 2000
MAX_LIMIT = 2000
LIMIT_PARAMETER = "limit"
CURSOR_PARAMETER = "cursor"
MAX_CURSOR_CHARS = 256  # a real cursor is ~100 characters
_CURSOR_VERSION = 1
_LIMIT = re.compile(r"[0-9]{1,6}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_SEGMENT_KEY = re.compile(SEGMENT_KEY_PATTERN)


class InvalidCursorError(MalformedRequestError):
    """A cursor we did not make for this call: answered 400."""


def encode_cursor(call_sid: str, segment_key: str) -> str:
    """The opaque cursor resuming the transcript of `call_sid` after `segment_key`."""
    payload = json.dumps({"v": _CURSOR_VERSION, "c": call_sid, "k": segment_key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(call_sid: str, cursor: str) -> str:
    """The segment key a cursor of `call_sid` resumes after; InvalidCursorError for anything else."""
    if not 0 < len(cursor) <= MAX_CURSOR_CHARS or not _BASE64URL.fullmatch(cursor):
        raise InvalidCursorError("cursor is not valid")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursorError("cursor is not valid") from exc
    if not isinstance(payload, dict):
        raise InvalidCursorError("cursor is not valid")
    owner, key = payload.get("c"), payload.get("k")
    if not isinstance(owner, str) or not isinstance(key, str) or not _SEGMENT_KEY.fullmatch(key):
        raise InvalidCursorError("cursor is not valid")
    if owner != call_sid:
        raise InvalidCursorError("cursor belongs to another call")
    if encode_cursor(call_sid, key) != cursor:  # any other version, field or spelling
        raise InvalidCursorError("cursor is not valid")
    return key


def parse_limit(value: str) -> int:
    if not _LIMIT.fullmatch(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise MalformedRequestError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


@dataclass(frozen=True)
class TranscriptPage:
    """Which page of the transcript a request asks for: at most `limit` segments after `after`."""

    limit: int = DEFAULT_LIMIT
    after: str | None = None  # segment key of the last segment already sent; None: from the start

    @classmethod
    def from_query(cls, call_sid: str, query: Mapping[str, str] | None) -> TranscriptPage:
        """The page named by the query string; MalformedRequestError (400) for a bad limit or cursor."""
        query = query or {}
        limit = parse_limit(query[LIMIT_PARAMETER]) if LIMIT_PARAMETER in query else DEFAULT_LIMIT
        after = decode_cursor(call_sid, query[CURSOR_PARAMETER]) if CURSOR_PARAMETER in query else None
        return cls(limit=limit, after=after)
