"""HTTP header lookup for API Gateway proxy events.

API Gateway (REST, v1 events) passes headers with the client's own casing, and Twilio, curl and
browsers disagree on it, so every lookup must ignore case. The webhooks' URL rebuilding and the
signature check both read headers; one helper keeps them reading the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """The first value of `name` in any casing, or None."""
    if not headers:
        return None
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)
