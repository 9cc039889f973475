"""`SummaryFailureWrites` in memory, over a `FakeCallStore`'s items, with the adapter's condition
(tests/integration/test_dal_agreement_summary_failures.py runs both)."""

from __future__ import annotations

from shared.status import SummaryStatus
from tests.support.fake_call_store import FakeCallStore


class FakeSummaryFailures:
    def __init__(self, store: FakeCallStore) -> None:
        self.store = store
        self.marked: list[str] = []

    def summary_failed(self, call_sid: str) -> bool:
        store = self.store
        with store._lock:
            if "summary" in store.items.get(call_sid, {}):
                return False
            store.writes += 1
            item = store.items.setdefault(call_sid, {"call_sid": call_sid})
            item["summary_status"] = SummaryStatus.FAILED.value
            self.marked.append(call_sid)
            return True
