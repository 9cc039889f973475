"""A client of `GET /calls/{callSid}` for the demo, the CLI and tests: the whole call record.

The API pages the transcript (`?limit=`, `?cursor=` from `transcriptNextCursor`); this follows the
cursor to the last page and answers one record in the API's shape whose `transcript` holds every
segment, in order, and whose `transcriptNextCursor` is null.
"""

from __future__ import annotations

from typing import Any

import httpx

CURSOR_KEY = "transcriptNextCursor"


def get_call(
    api: str, call_sid: str, *, limit: int | None = None, timeout: float = 10.0
) -> dict[str, Any] | None:
    """The call record with its whole transcript, or None when the API answers 404."""
    params: dict[str, str] = {} if limit is None else {"limit": str(limit)}
    transcript: list[Any] = []
    seen: set[str] = set()
    with httpx.Client(timeout=timeout) as http:
        while True:
            response = http.get(f"{api}/calls/{call_sid}", params=params)
            if response.status_code == 404:
                return None
            response.raise_for_status()
            record: dict[str, Any] = response.json()
            transcript.extend(record.get("transcript") or [])
            cursor = record.get(CURSOR_KEY)
            if not cursor:
                break
            if cursor in seen:
                raise RuntimeError(f"GET /calls/{call_sid} repeated a transcript cursor")
            seen.add(cursor)
            params = {**params, "cursor": str(cursor)}
    # the call's fields as of the last page (the freshest), with every page's segments
    return {**record, "transcript": transcript, CURSOR_KEY: None}
