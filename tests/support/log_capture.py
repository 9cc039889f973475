"""What the Powertools logger writes (the JSON lines CloudWatch would store), for assertions.

The logger's handler keeps the `sys.stdout` it found at import, which pytest's capture fixtures do
not see, so this swaps that handler's stream for a buffer for the duration of a test.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Iterator

import pytest

from shared.observability import logger


@pytest.fixture(name="log_output")
def log_output_fixture() -> Iterator[io.StringIO]:
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        if previous is not None:
            handler.setStream(previous)


def leaked(secrets: Iterable[str], text: str) -> list[str]:
    """The secrets `text` holds as words of their own (case-blind): a card group or an expiry inside a
    request id, a hex SID, a sequence number or a millisecond timestamp is not a leak."""
    lowered = text.lower()
    return [
        secret
        for secret in secrets
        if re.search(rf"(?<![0-9a-z-]){re.escape(secret.lower())}(?![0-9a-z-])", lowered)
    ]
