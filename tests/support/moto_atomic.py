"""The `atomic_moto_updates` fixture: moto's conditional writes made atomic per request, as DynamoDB's are.

moto's DynamoDB backend reads, checks the condition and writes without a lock while its server
handles requests on many threads, so two racing conditional writes can both pass: a gap in the
stand-in, not in DynamoDB (whose per-item writes are serialisable). Serialising whole UpdateItem and
PutItem calls keeps every interleaving of separate requests possible, as in DynamoDB. Use it in a
test that races conditional writes on purpose; never to hide an ordering bug of the product's own.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend


@pytest.fixture
def atomic_moto_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    for name in ("update_item", "put_item"):
        original = getattr(DynamoDBBackend, name)

        def serialised(self: DynamoDBBackend, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, serialised)
