"""The one way the data layer runs an UpdateItem, so every writer reads a refused condition alike.

A condition that fails is how DynamoDB tells us an event is stale, repeated or already handled: the
caller gets False and carries on. Anything else is the table failing, and becomes a `StoreError`
the tiers know how to answer (503, retry, redelivery) without knowing pynamodb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.exceptions import PynamoDBException, UpdateError
from pynamodb.models import Model

from shared.errors import StoreError

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
_INVALID_DOCUMENT_PATH = "document path provided in the update expression is invalid"


def conditional_update(item: Model, actions: Sequence[Any], condition: Any, what: str) -> bool:
    """Run `item.update(actions, condition)`; False when the condition refused it, else True.

    `item` is refreshed with the stored values after a successful write (pynamodb asks for ALL_NEW),
    which is how a claim reads back what it claimed in the same request. `what` names the write in
    the StoreError ("status update of CA…").
    """
    try:
        item.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if condition is not None and error_code(exc) == CONDITIONAL_CHECK_FAILED:
            return False
        raise StoreError(f"{what} failed: {exc}") from exc
    return True


def error_code(error: PynamoDBException) -> str | None:
    """DynamoDB's error code behind a pynamodb error, or None when it had no answer (pynamodb's own
    `cause_response_code` raises AttributeError on a cause whose `response` is None)."""
    response = getattr(error.cause, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def missing_map(error: StoreError) -> bool:
    """True when a write set a key inside a map attribute that does not exist yet on the item."""
    return _INVALID_DOCUMENT_PATH in str(error.__cause__)
