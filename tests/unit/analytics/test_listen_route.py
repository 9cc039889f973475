"""A listen-in call in the analysts' tables: `call_facts.route` carries `listen`, and the saved
`cost-by-route` query gives it its own row (DuckDB runs the derivation and the query's Trino SQL)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from callscribe_local.warehouse import Warehouse
from shared.analytics.queries import SAVED_QUERIES
from shared.analytics.schema import TABLES

DAY = "2026-11-27"


def _call(sid: str, route: str, cost: str) -> dict[str, object]:
    return {
        "call_sid": {"S": sid},
        "direction": {"S": "inbound"},
        "route": {"S": route},
        "to_number": {"S": "+14155550166"},
        "started_at": {"S": f"{DAY}T10:00:00.000Z"},
        "answered_at": {"S": f"{DAY}T10:00:01.000Z"},
        "call_date": {"S": DAY},
        "duration_seconds": {"N": "120"},
        "status": {"S": "completed"},
        "cost": {"M": {"total_usd": {"N": cost}, "voice_minutes": {"N": "2"}}},
    }


def test_listen_calls_are_a_route_of_their_own(tmp_path: Path) -> None:
    calls = [_call("CA" + "1" * 32, "listen", "0.1"), _call("CA" + "2" * 32, "listen", "0.3")]
    calls.append(_call("CA" + "3" * 32, "forward", "0.5"))
    export = tmp_path / "calls.json.gz"
    with gzip.open(export, "wt") as out:
        out.writelines(json.dumps({"Item": item}) + "\n" for item in calls)
    warehouse = Warehouse()
    warehouse.load_export("calls", DAY, [export])
    written = warehouse.derive(DAY, tmp_path / "flat")
    warehouse.attach_current({name: path.parent for name, path in written.items()})

    routes = warehouse.query(f"SELECT route FROM {TABLES['call_facts'].current} ORDER BY call_sid")
    assert [row["route"] for row in routes] == ["listen", "listen", "forward"]
    (query,) = [q for q in SAVED_QUERIES if q.name == "cost-by-route"]
    rows = {row["route"]: row for row in warehouse.query(query.sql)}
    assert (rows["listen"]["calls"], rows["listen"]["total_usd"]) == (2, 0.4)
    assert rows["listen"]["usd_per_answered_minute"] == 0.1
    assert "listen" in query.description
