"""The saved queries: parameters bound, never spliced; every "now" query reads the `_current` tables."""

from __future__ import annotations

import re

import pytest

from shared.analytics.queries import SAVED_QUERIES, ParameterError, SavedQuery
from shared.analytics.schema import TABLES


def _query(name: str) -> SavedQuery:
    (query,) = [q for q in SAVED_QUERIES if q.name == name]
    return query


def test_a_query_with_a_parameter_names_the_one_missing() -> None:
    query = _query("transcript-of-a-call")
    with pytest.raises(ParameterError, match=r"^transcript-of-a-call needs --call-sid: a call SID"):
        query.bind({"call_sid": None})
    with pytest.raises(ParameterError, match="needs --call-sid"):
        query.bind({"call_sid": "  "})
    with pytest.raises(ParameterError, match="is not a call SID"):
        query.bind({"call_sid": "CA' OR '1'='1"})
    sid = "CA" + "0a" * 16
    assert query.bind({"call_sid": f" {sid} "}) == [sid]


def test_a_parameter_a_query_does_not_take_is_refused() -> None:
    query = _query("cost-per-day")
    with pytest.raises(ParameterError, match="cost-per-day takes no --call-sid"):
        query.bind({"call_sid": "CA" + "0" * 32})
    assert query.bind({"call_sid": None}) == []


def test_each_placeholder_is_a_declared_parameter() -> None:
    for query in SAVED_QUERIES:
        assert query.sql.count("?") == len(query.parameters), query.name


def test_saved_queries_read_only_the_current_tables() -> None:
    """A `dt` filter forgotten on a snapshot table counts each call once per day kept: no saved
    query reads the partitioned tables."""
    snapshots = {table.name for table in TABLES.values()}
    for query in SAVED_QUERIES:
        names = set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", query.sql))
        assert names, query.name
        assert not names & snapshots, query.name
        assert "dt" not in re.findall(r"\b\w+\b", query.sql), query.name
