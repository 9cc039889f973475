"""The local warehouse's translation of Glue types and Trino SQL (DuckDB runs both)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from callscribe_local.warehouse import Warehouse, WarehouseError, duckdb_type, to_duckdb

SID = "CA" + "1" * 32
LEG = "CA" + "2" * 32


def test_glue_types_become_duckdb_types_with_dynamodb_type_letters() -> None:
    assert duckdb_type("struct<call_sid:struct<s:string>,n:struct<n:string>>") == (
        'STRUCT("call_sid" STRUCT("S" VARCHAR), "N" STRUCT("N" VARCHAR))'
    )
    assert (
        duckdb_type("struct<m:map<string,struct<n:string>>>")
        == 'STRUCT("M" MAP(VARCHAR, STRUCT("N" VARCHAR)))'
    )
    assert duckdb_type("array<string>", raw=False) == "VARCHAR[]"
    with pytest.raises(WarehouseError):
        duckdb_type("struct<a:string")
    with pytest.raises(WarehouseError):
        duckdb_type("uniontype<string>")


def test_trino_sql_is_transpiled_and_bad_sql_refused() -> None:
    assert "APPROX_QUANTILE" in to_duckdb("SELECT approx_percentile(x, 0.5) FROM t")
    assert "LIST_TRANSFORM" in to_duckdb("SELECT transform(a, x -> x.s) FROM t")
    with pytest.raises(WarehouseError):
        to_duckdb("SELECT FROM WHERE (")
    with pytest.raises(WarehouseError):
        to_duckdb("SELECT 1; SELECT 2")


def _export(path: Path, items: list[dict[str, object]]) -> Path:
    with gzip.open(path, "wt") as out:
        for item in items:
            out.write(json.dumps({"Item": item}) + "\n")
    return path


def test_an_export_becomes_typed_flat_rows(tmp_path: Path) -> None:
    """A hand-made export in DynamoDB JSON (the shape of tests/fixtures' export lines) through the
    real derivation SQL: types, derived columns, the long evaluations table, a leg."""
    call = {
        "call_sid": {"S": SID},
        "direction": {"S": "inbound"},
        "from_number": {"S": "+14155550123"},
        "to_number": {"S": "+14155550199"},
        "caller_name": {"S": "JANE DOE"},
        "started_at": {"S": "2026-11-26T23:45:35.123Z"},
        "answered_at": {"S": "2026-11-26T23:45:38.000Z"},
        "call_date": {"S": "2026-11-26"},
        "duration_seconds": {"N": "42"},
        "status": {"S": "completed"},
        "summary": {"M": {"topics": {"L": [{"S": "Billing"}]}, "outcome": {"S": "resolved"}}},
        "redaction_counts": {"M": {"CARD": {"N": "1"}, "SSN": {"N": "1"}, "EXPIRY": {"N": "1"}}},
        "recording_redaction_counts": {"M": {"CARD": {"N": "1"}, "IBAN": {"N": "2"}}},
        "cost": {"M": {"total_usd": {"N": "0.0512"}, "voice_minutes": {"N": "1"}}},
        "gaps": {"L": [{"M": {"track": {"S": "inbound"}, "start": {"N": "1"}, "end": {"N": "2"}}}]},
        "evaluations": {
            "L": [
                {"M": {"id": {"S": "greeted"}, "type": {"S": "yes_no"}, "answer": {"S": "yes"},
                       "answer_bool": {"BOOL": True}, "evidence": {"L": [{"S": "0000000100#inbound"}]}}},
                {"M": {"id": {"S": "wait"}, "type": {"S": "number"}, "answer_number": {"N": "2.5"}}},
            ]
        },
    }  # fmt: skip
    leg = {
        "call_sid": {"S": LEG},
        "parent_call_sid": {"S": SID},
        "direction": {"S": "outbound-dial"},
        # a forward presents the caller's own number to the dialled party: never "our number"
        "from_number": {"S": "+14155550123"},
        "to_number": {"S": "+14155550177"},
    }
    segment = {
        "call_sid": {"S": SID}, "segment_key": {"S": "0000000100#inbound"}, "track": {"S": "inbound"},
        "speaker": {"S": "caller"}, "text": {"S": "hello"}, "start": {"N": "0.1"}, "end": {"N": "1.2"},
    }  # fmt: skip
    warehouse = Warehouse()
    assert warehouse.load_export("calls", "2026-11-27", [_export(tmp_path / "c.gz", [call, leg])]) == 2
    assert warehouse.load_export("transcripts", "2026-11-27", [_export(tmp_path / "t.gz", [segment])]) == 1
    warehouse.derive("2026-11-27", tmp_path / "flat")
    warehouse.attach_flat(tmp_path / "flat")

    (row,) = warehouse.query(f"SELECT * FROM call_facts WHERE call_sid = '{SID}'")
    assert row["dt"] == "2026-11-27"
    assert row["started_at"].isoformat() == "2026-11-26T23:45:35.123000"  # UTC, whatever the host's zone
    assert (row["call_hour"], row["duration_seconds"], row["answered"], row["is_leg"]) == (
        23,
        42,
        True,
        False,
    )
    assert (row["our_number"], row["other_party_last4"]) == ("+14155550199", "0123")
    assert row["topics"] == ["billing"]
    assert (row["redacted_cards"], row["redacted_ssns"], row["redacted_total"]) == (2, 1, 6)
    assert (row["redacted_card_expiries"], row["redacted_security_codes"]) == (1, 0)
    assert (row["cost_total_usd"], row["cost_voice_minutes"]) == (0.0512, 1)
    assert (row["gap_count"], row["evaluation_count"]) == (1, 2)
    assert "caller_name" not in row
    assert "from_number" not in row
    (leg_row,) = warehouse.query(f"SELECT * FROM call_facts WHERE call_sid = '{LEG}'")
    assert (leg_row["is_leg"], leg_row["evaluation_count"], leg_row["redacted_total"]) == (True, 0, 0)
    assert (leg_row["our_number"], leg_row["other_party_last4"]) == (None, "0177")

    answers = warehouse.query(
        "SELECT question_id, answer_bool, answer_number, evidence FROM evaluation_answers "
        "ORDER BY question_id"
    )
    assert answers == [
        {
            "question_id": "greeted",
            "answer_bool": True,
            "answer_number": None,
            "evidence": ["0000000100#inbound"],
        },
        {"question_id": "wait", "answer_bool": None, "answer_number": 2.5, "evidence": None},
    ]
    (line,) = warehouse.query("SELECT * FROM transcript_lines")
    assert (line["start_seconds"], line["source"], line["text"]) == (0.1, "live", "hello")


def test_a_day_is_checked_before_it_reaches_sql(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a day"):
        Warehouse().derive("x'; DROP TABLE calls; --", tmp_path)


def test_count_if_over_only_nulls_is_zero_as_in_trino() -> None:
    warehouse = Warehouse()
    rows = warehouse.query("SELECT count_if(x) AS n FROM (VALUES (CAST(NULL AS boolean))) AS t(x)")
    assert rows == [{"n": 0}]
