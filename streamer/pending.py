"""Connections upgraded but not yet calls (waiting for a verified `start`), counted per client address.

Two bounds, both outside MAX_CALLS and `/healthz`: MAX_PENDING_STREAMS for the task, sized by what a
waiting connection costs (docs/benchmarks.md, "Connections waiting for start"), and
MAX_PENDING_STREAMS_PER_ADDRESS for one source, so whoever holds a leaked upgrade signature cannot
fill the task's bound and crowd out Twilio. A change must keep every connection counted under the
address it was admitted with until it is discarded, whichever way it ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from http import HTTPStatus
from typing import Generic, TypeVar

T = TypeVar("T")

BUSY = (HTTPStatus.SERVICE_UNAVAILABLE, "busy\n")
ADDRESS_BUSY = (HTTPStatus.TOO_MANY_REQUESTS, "too many streams waiting from this address\n")


class PendingStreams(Generic[T]):
    def __init__(self, cap: int, per_address_cap: int) -> None:
        self.cap = cap
        self.per_address_cap = per_address_cap
        self._address: dict[T, str] = {}
        self._per_address: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._address)

    def __bool__(self) -> bool:
        return bool(self._address)

    def __contains__(self, item: object) -> bool:
        return item in self._address

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._address))

    def waiting_from(self, address: str) -> int:
        return self._per_address[address]

    def refusal(self, address: str) -> tuple[HTTPStatus, str] | None:
        """Why one more connection from `address` cannot wait now (status and body), or None."""
        if len(self._address) >= self.cap:
            return BUSY
        if self._per_address[address] >= self.per_address_cap:
            return ADDRESS_BUSY
        return None

    def add(self, item: T, address: str) -> None:
        if item not in self._address:
            self._address[item] = address
            self._per_address[address] += 1

    def discard(self, item: T) -> None:
        address = self._address.pop(item, None)
        if address is None:
            return
        self._per_address[address] -= 1
        if not self._per_address[address]:
            del self._per_address[address]
