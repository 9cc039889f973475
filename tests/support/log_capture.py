"""What the Powertools logger writes (the JSON lines CloudWatch would store), for assertions.

The logger's handler keeps the `sys.stdout` it found at import, which pytest's capture fixtures do
not see, so this swaps that handler's stream for a buffer for the duration of a test.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

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
