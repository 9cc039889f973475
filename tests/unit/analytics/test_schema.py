"""The flat tables' schema: derived from the models, every attribute accounted for, versioned."""

from __future__ import annotations

import pytest

from shared.analytics.schema import (
    EXCLUDED,
    SCHEMA_DIGESTS,
    SCHEMA_VERSION,
    TABLES,
    classified,
    schema_digest,
)
from shared.dal.tables import (
    BilledAttribute,
    CallRecord,
    CostAttribute,
    EvaluationAttribute,
    RecordingAttribute,
    TranscriptSegment,
)


def test_a_schema_change_bumps_the_version() -> None:
    digest = schema_digest()
    assert SCHEMA_DIGESTS.get(SCHEMA_VERSION) == digest, (
        f"the analyst tables' columns changed (digest {digest}): bump SCHEMA_VERSION in "
        f"shared/analytics/schema.py and record {{{SCHEMA_VERSION + 1}: {digest!r}}} in SCHEMA_DIGESTS; "
        "docs/analytics.md says what a bump means for partitions already written"
    )


def test_recorded_digests_are_never_rewritten() -> None:
    """Old versions keep their digest: a version names one set of columns forever."""
    assert sorted(SCHEMA_DIGESTS) == list(range(1, SCHEMA_VERSION + 1))
    assert len(set(SCHEMA_DIGESTS.values())) == len(SCHEMA_DIGESTS)


def _sources(table: str) -> set[str]:
    """The model attributes a table's column expressions read."""
    import re

    return {match for column in TABLES[table].columns for match in re.findall(r"item\.(\w+)\.", column.sql)}


def test_every_call_attribute_is_a_column_or_left_out_with_a_reason() -> None:
    missing = classified(CallRecord, _sources("call_facts"))
    assert not missing, f"classify {sorted(missing)} in shared/analytics/schema.py (a column or EXCLUDED)"
    assert all(reason for reason in EXCLUDED["CallRecord"].values())


def test_every_attribute_left_out_is_still_an_attribute() -> None:
    """An attribute removed from a model leaves EXCLUDED too: no reason outlives what it explains."""
    for model in (CallRecord, RecordingAttribute):
        stale = set(EXCLUDED[model.__name__]) - set(model.get_attributes())
        assert not stale, f"{sorted(stale)} are no {model.__name__} attributes any more"


def test_every_segment_and_answer_field_is_a_column() -> None:
    assert not classified(TranscriptSegment, _sources("transcript_lines"))
    answers = " ".join(column.sql for column in TABLES["evaluation_answers"].columns)
    assert all(f".m.{name}." in answers for name in EvaluationAttribute.get_attributes())


def test_typed_maps_are_flattened_under_their_prefix() -> None:
    columns = {column.name: column.type for column in TABLES["call_facts"].columns}
    for name in set(CostAttribute.get_attributes()) - {"billed"}:
        assert f"cost_{name}" in columns
    for name in BilledAttribute.get_attributes():  # a typed map inside one: under both prefixes
        assert f"cost_billed_{name}" in columns
    assert (columns["cost_billed_total"], columns["cost_billed_read_at"]) == ("double", "timestamp")
    assert columns["cost_billed_price_unit"] == "string"
    for name in set(RecordingAttribute.get_attributes()) - set(EXCLUDED["RecordingAttribute"]):
        assert (name if name.startswith("recording_") else f"recording_{name}") in columns
    assert columns["cost_total_usd"] == "double"
    assert columns["cost_voice_minutes"] == "bigint"
    assert columns["cost_estimated_at"] == "timestamp"


def test_private_attributes_never_reach_a_column() -> None:
    names = {column.name for table in TABLES.values() for column in table.columns}
    readers = " ".join(column.sql for table in TABLES.values() for column in table.columns)
    for private in ("from_number", "to_number", "caller_name", "forwarded_from", "from_zip", "connect_to"):
        assert private not in names
    for private in (
        "caller_name",
        "forwarded_from",
        "from_city",
        "from_zip",
        "to_city",
        "to_zip",
        "connect_to",
    ):
        assert f"item.{private}." not in readers
    # the numbers are read only to derive our own number and the other party's last four digits
    other = next(c for c in TABLES["call_facts"].columns if c.name == "other_party_last4")
    assert other.sql.startswith("substr(")
    assert other.sql.endswith(", -4)")


def test_column_names_are_unique_and_types_are_hive_types() -> None:
    allowed = {"string", "bigint", "double", "boolean", "timestamp", "date", "array<string>"}
    for table in TABLES.values():
        names = [column.name for column in table.columns]
        assert len(names) == len(set(names)), table.name
        assert "dt" not in names  # the partition key comes from the folder
        assert {column.type for column in table.columns} <= allowed


def test_the_select_takes_only_a_day_and_has_no_braces_for_states_format() -> None:
    for table in TABLES.values():
        sql = table.select_sql("2026-11-26")
        assert "dt = '2026-11-26'" in sql
        assert "{" not in sql.replace("{}", "")
        assert "}" not in sql
        assert table.select_sql("{}").count("{}") == 1
    with pytest.raises(ValueError, match="not a day"):
        TABLES["call_facts"].select_sql("2026-11-26' OR '1'='1")
