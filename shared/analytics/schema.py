"""The flat, typed analyst tables, derived from the pynamodb models.

Every model attribute is classified here once: a column (typed from the attribute; `INTEGERS` names
the `bigint` numbers), a typed map flattened under a prefix, a derived column, or left out with its
reason (`EXCLUDED`). tests/unit/analytics fails on an unclassified attribute and on a column change
without a `SCHEMA_VERSION` bump. A column's expression is Trino over the raw export's `item` and
must also run on DuckDB once transpiled (docs/analytics.md, "Tested on a real SQL engine").
~450 lines: most of it is the column table itself (derived columns, exclusions and their reasons).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from shared.dal.tables import (
    AlignmentAttribute,
    CallRecord,
    CostAttribute,
    EvaluationAttribute,
    RecordingAttribute,
    TranscriptSegment,
)

# Bump when any table's columns change (name, type or order); record the new digest below. Parquet
# files are read by column name, so a bump with added columns reads old partitions too (the new
# columns are NULL there); each day's partition is a full snapshot, so queries read only the latest.
SCHEMA_VERSION = 3
SCHEMA_DIGESTS = {1: "8c6d5e3a84ac6b15", 2: "8483368f9a4ff577", 3: "7c344ada44684920"}

CALL_FACTS = "call_facts"
TRANSCRIPT_LINES = "transcript_lines"
EVALUATION_ANSWERS = "evaluation_answers"
# `<table>_current`: the newest complete snapshot of a flat table (FlatTable.current)
CURRENT_SUFFIX = "_current"

# Numbers that are counts or whole seconds; every other number is a double.
INTEGERS = frozenset(
    {
        "sip_response_code",
        "duration_seconds",
        "segment_count",
        "tts_characters",
        "channels",
        "matches",
        "voice_minutes",
    }
)

# Attributes no analyst table carries, and why. Private: numbers, names and places that identify a
# person (our own number and the other party's last four digits are derived columns instead).
_PRIVATE = "private: identifies a person"
_INTERNAL = "internal bookkeeping, no meaning for analysts"
EXCLUDED: dict[str, dict[str, str]] = {
    "CallRecord": {
        "account_sid": "one account per deployment",
        "from_number": "private; see our_number and other_party_last4",
        "to_number": "private; see our_number and other_party_last4",
        "forwarded_from": _PRIVATE,
        "caller_name": _PRIVATE,
        "from_city": _PRIVATE,
        "from_zip": _PRIVATE,
        "to_city": _PRIVATE,
        "to_zip": _PRIVATE,
        "connect_to": _PRIVATE + " (the forward target's number)",
        "status_rank": _INTERNAL,
        "status_history": _INTERNAL,
        "leg_call_sids": "each leg is its own row, naming this call as parent_call_sid",
        "stream_sid": _INTERNAL,
        "stream_owner": _INTERNAL + " (a per-connection id of the streamer)",
        "stream_heartbeat_at": _INTERNAL,
        "transcript_swept_at": _INTERNAL,
        "recording_s3_key": _INTERNAL,
        "reconciled_transcript_status": _INTERNAL,
        "reconciled_segment_count": "the final transcript's segments are its transcript_lines rows",
        "sweep_shard": _INTERNAL,
        "sweep_after": _INTERNAL,
        "sweep_attempts": _INTERNAL,
        "swept_at": _INTERNAL,
        "sweep_gave_up_at": _INTERNAL,
        "twilio_asks": _INTERNAL,
        "twilio_asked_at": _INTERNAL,
        "created_at": _INTERNAL,
        "updated_at": _INTERNAL,
        "call_date": "a column of its own type (date), below",
    },
    "RecordingAttribute": {"url": "holds the account SID; the recording is in S3", "updated_at": _INTERNAL},
    "TranscriptSegment": {"stream_owner": _INTERNAL + " (a per-connection id of the streamer)"},
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the Glue (Hive) type: string, bigint, double, boolean, timestamp, date, array<string>
    sql: str  # Trino expression over the raw export's `item`
    comment: str = ""


@dataclass(frozen=True)
class FlatTable:
    name: str
    source: str  # the raw Glue table it is derived from: calls | transcripts
    description: str
    columns: tuple[Column, ...]
    # FROM-clause addition: one row per list element instead of one per item
    unnest: str = ""
    where: tuple[str, ...] = field(default=())

    @property
    def current(self) -> str:
        """The table that holds only the newest complete export of this one: each record once.

        The daily partitions of `name` are snapshots, each holding every record; `<name>_current`
        is pointed at the newest run's folder once all three tables of that run are derived."""
        return f"{self.name}{CURRENT_SUFFIX}"

    def select_sql(self, day: str) -> str:
        """The Trino SELECT that derives this table's rows for one day's export (`dt` = `day`).

        `day` is YYYY-MM-DD, or `{}` for the workflow's States.Format placeholder.
        """
        if day != "{}" and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day):
            raise ValueError(f"not a day (YYYY-MM-DD): {day!r}")
        columns = ",\n       ".join(f"{column.sql} AS {column.name}" for column in self.columns)
        where = " AND ".join((f"dt = '{day}'", *self.where))
        return f"SELECT {columns}\nFROM {self.source}{self.unnest}\nWHERE {where}"


# ---- expressions over the raw export ------------------------------------------------------------


def _s(path: str) -> str:
    return f"{path}.s"


def _n(path: str, integer: bool) -> str:
    return f"CAST(CAST({path}.n AS double) AS bigint)" if integer else f"CAST({path}.n AS double)"


def _ts(path: str) -> str:
    return f"CAST(from_iso8601_timestamp({path}.s) AS timestamp(3))"


# Times stored as Twilio sent them, RFC 2822 in UTC ("Thu, 26 Nov 2026 15:59:09 +0000"), not ISO:
# Twilio's RecordingStartTime. One unparseable value would fail the whole day's UNLOAD.
RFC2822_TIMES = frozenset({"RecordingAttribute.started_at"})


def _rfc2822(path: str) -> str:
    return f"CAST(date_parse({path}.s, '%a, %d %b %Y %H:%i:%s +0000') AS timestamp(3))"


def _column(
    name: str, attribute: Attribute[Any], path: str, *, integer: bool, rfc2822: bool = False
) -> Column:
    if isinstance(attribute, BooleanAttribute):
        return Column(name, "boolean", f"{path}.bool")
    if isinstance(attribute, NumberAttribute):
        return Column(name, "bigint" if integer else "double", _n(path, integer))
    if isinstance(attribute, UnicodeAttribute):
        if name.endswith("_at"):
            return Column(name, "timestamp", _rfc2822(path) if rfc2822 else _ts(path))
        return Column(name, "string", _s(path))
    if isinstance(attribute, ListAttribute) and getattr(attribute, "element_type", None) is UnicodeAttribute:
        return Column(name, "array<string>", f"transform({path}.l, x -> x.s)")
    raise TypeError(
        f"no flat column for {name} ({type(attribute).__name__}): classify it in shared/analytics/schema.py"
    )


def _flattened(prefix: str, model: type[MapAttribute[str, Any]], path: str) -> list[Column]:
    """The fields of a typed map as `<prefix>_<field>` columns (`cost_total_usd`); a typed map inside
    it likewise, under both prefixes (`cost_billed_total`)."""
    excluded = EXCLUDED.get(model.__name__, {})
    columns = []
    for name, attribute in model.get_attributes().items():
        if name in excluded:
            continue
        column = name if name.startswith(prefix + "_") else f"{prefix}_{name}"
        if isinstance(attribute, MapAttribute) and type(attribute) is not MapAttribute:
            columns.extend(_flattened(column, type(attribute), f"{path}.m.{name}"))
            continue
        rfc2822 = f"{model.__name__}.{name}" in RFC2822_TIMES
        columns.append(
            _column(column, attribute, f"{path}.m.{name}", integer=name in INTEGERS, rfc2822=rfc2822)
        )
    return columns


def _counts(kind: str) -> str:
    parts = [
        f"coalesce(CAST(element_at(item.{counts}.m, '{kind}').n AS bigint), 0)"
        for counts in ("redaction_counts", "recording_redaction_counts")
    ]
    return " + ".join(parts)


def _total(counts: str) -> str:
    return (
        f"coalesce(reduce(transform(map_values(item.{counts}.m), x -> CAST(x.n AS bigint)), "
        "CAST(0 AS bigint), (s, x) -> s + x, s -> s), 0)"
    )


_SUMMARY = "item.summary.m"

# Derived columns of call_facts, by the attribute they come from (None: from several).
_DERIVED_CALL_COLUMNS: dict[str, list[Column]] = {
    "from_number": [
        Column(
            "our_number",
            "string",
            "CASE WHEN item.parent_call_sid.s IS NOT NULL THEN NULL "
            "WHEN item.direction.s = 'inbound' THEN item.to_number.s ELSE item.from_number.s END",
            "our Twilio number on the call: the number called (inbound) or calling (outbound); null "
            "on a leg, whose From is the caller ID presented: by default the caller's own number",
        ),
        Column(
            "other_party_last4",
            "string",
            "substr(CASE WHEN item.direction.s = 'inbound' THEN item.from_number.s "
            "ELSE item.to_number.s END, -4)",
            "the last four digits of the other party's number (never more)",
        ),
    ],
    "started_at": [
        Column("call_hour", "bigint", f"hour({_ts('item.started_at')})", "UTC hour the call started, 0-23"),
        Column("answered", "boolean", "item.answered_at.s IS NOT NULL", "someone (or something) picked up"),
        Column(
            "is_leg",
            "boolean",
            "item.parent_call_sid.s IS NOT NULL",
            "a <Dial>ed party's leg of another call (parent_call_sid); call-level counts skip legs",
        ),
    ],
    "gaps": [
        Column(
            "gap_count",
            "bigint",
            "coalesce(cardinality(item.gaps.l), 0)",
            "windows filled from the recording",
        )
    ],
    "summary": [
        Column("summary_text", "string", _s(f"{_SUMMARY}.summary")),
        Column("topics", "array<string>", f"transform({_SUMMARY}.topics.l, x -> lower(x.s))", "lower-cased"),
        Column("caller_intent", "string", _s(f"{_SUMMARY}.caller_intent")),
        Column("outcome", "string", _s(f"{_SUMMARY}.outcome")),
        Column("sentiment", "string", _s(f"{_SUMMARY}.sentiment")),
        Column("follow_up_needed", "boolean", f"{_SUMMARY}.follow_up_needed.bool"),
        Column("action_item_count", "bigint", f"cardinality({_SUMMARY}.action_items.l)"),
        Column("summary_language", "string", _s(f"{_SUMMARY}.language")),
        Column("summary_model", "string", _s(f"{_SUMMARY}.model")),
        Column("summary_prompt_version", "string", _s(f"{_SUMMARY}.prompt_version")),
        Column("summary_no_conversation", "boolean", f"{_SUMMARY}.no_conversation.bool"),
        Column("summary_input_tokens", "bigint", _n(f"{_SUMMARY}.usage.m.input_tokens", True)),
        Column("summary_output_tokens", "bigint", _n(f"{_SUMMARY}.usage.m.output_tokens", True)),
    ],
    "redaction_counts": [
        Column("redacted_cards", "bigint", _counts("CARD"), "card numbers redacted (live and recording)"),
        Column("redacted_ssns", "bigint", _counts("SSN"), "SSNs redacted (live and recording)"),
        Column(
            "redacted_card_expiries",
            "bigint",
            _counts("EXPIRY"),
            "card expiry dates redacted after a card (live and recording)",
        ),
        Column(
            "redacted_security_codes",
            "bigint",
            _counts("SECURITY_CODE"),
            "card security codes redacted after a card (live and recording)",
        ),
        Column(
            "redacted_total",
            "bigint",
            f"{_total('redaction_counts')} + {_total('recording_redaction_counts')}",
            "everything redacted before the transcript was stored, any kind",
        ),
    ],
    "recording_redaction_counts": [],  # in the redacted_* columns above
    "evaluations": [
        Column(
            "evaluation_count",
            "bigint",
            "coalesce(cardinality(item.evaluations.l), 0)",
            "see evaluation_answers",
        )
    ],
}
_FLATTENED_CALL_MAPS: dict[str, tuple[str, type[MapAttribute[str, Any]]]] = {
    "recording": ("recording", RecordingAttribute),
    "alignment": ("alignment", AlignmentAttribute),
    "cost": ("cost", CostAttribute),
}


# What an analyst looks for first leads the table; the rest follow in the model's order.
_CALL_LEAD = (
    "call_sid",
    "call_date",
    "call_hour",
    "started_at",
    "direction",
    "route",
    "our_number",
    "status",
)


def _call_columns() -> tuple[Column, ...]:
    columns = _call_columns_unordered()
    lead = [next(c for c in columns if c.name == name) for name in _CALL_LEAD]
    return tuple(lead + [c for c in columns if c.name not in _CALL_LEAD])


def _call_columns_unordered() -> list[Column]:
    excluded = EXCLUDED["CallRecord"]
    columns: list[Column] = []
    for name, attribute in CallRecord.get_attributes().items():
        if name in _DERIVED_CALL_COLUMNS:
            # a scalar keeps its own column too; a map or list is represented by the derived ones
            if name not in excluded and not isinstance(attribute, (MapAttribute, ListAttribute)):
                columns.append(_column(name, attribute, f"item.{name}", integer=name in INTEGERS))
            columns.extend(_DERIVED_CALL_COLUMNS[name])
        elif name in _FLATTENED_CALL_MAPS:
            prefix, model = _FLATTENED_CALL_MAPS[name]
            columns.extend(_flattened(prefix, model, f"item.{name}"))
        elif name == "call_date":
            columns.append(
                Column("call_date", "date", "CAST(item.call_date.s AS date)", "UTC day the call started")
            )
        elif name not in excluded:
            columns.append(_column(name, attribute, f"item.{name}", integer=name in INTEGERS))
    return columns


_SEGMENT_RENAMES = {"start": "start_seconds", "end": "end_seconds", "source": "engine"}


_SEGMENT_LEAD = ("call_sid", "segment_key", "track", "speaker", "start_seconds", "end_seconds", "text")


def _segment_columns() -> tuple[Column, ...]:
    columns: list[Column] = []
    excluded = EXCLUDED["TranscriptSegment"]
    for name, attribute in TranscriptSegment.get_attributes().items():
        if name in excluded:
            continue
        if name == "origin":
            columns.append(
                Column(
                    "source", "string", "coalesce(item.origin.s, 'live')", "live, or recording when filled in"
                )
            )
        else:
            column = _SEGMENT_RENAMES.get(name, name)
            columns.append(_column(column, attribute, f"item.{name}", integer=False))
    lead = [next(c for c in columns if c.name == name) for name in _SEGMENT_LEAD]
    return tuple(lead + [c for c in columns if c.name not in _SEGMENT_LEAD])


_ANSWER = "element_at(item.evaluations.l, i).m"
_EVALUATION_RENAMES = {"id": "question_id", "type": "answer_type"}


def _evaluation_columns() -> tuple[Column, ...]:
    columns = [
        Column("call_sid", "string", "item.call_sid.s"),
        Column("call_date", "date", "CAST(item.call_date.s AS date)"),
        Column("route", "string", "item.route.s"),
        Column("evaluations_version", "string", "item.evaluations_version.s", "the question set answered"),
    ]
    answers = {name: attribute for name, attribute in EvaluationAttribute.get_attributes().items()}
    for name in (
        "id",
        "question",
        "type",
        "answer",
        "answer_bool",
        "answer_number",
        "evidence",
        "answered_by",
    ):
        columns.append(
            _column(
                _EVALUATION_RENAMES.get(name, name), answers.pop(name), f"{_ANSWER}.{name}", integer=False
            )
        )
    for name, attribute in answers.items():  # fields added later, in the model's order
        columns.append(
            _column(_EVALUATION_RENAMES.get(name, name), attribute, f"{_ANSWER}.{name}", integer=False)
        )
    return tuple(columns)


TABLES: dict[str, FlatTable] = {
    table.name: table
    for table in (
        FlatTable(
            CALL_FACTS,
            "calls",
            "One row per call record (a <Dial>ed leg has its own row, is_leg): status, timing, "
            "transcript, reconciliation, summary, redaction counts and cost",
            _call_columns(),
        ),
        FlatTable(
            TRANSCRIPT_LINES,
            "transcripts",
            "One row per final transcript segment (redacted before it was stored)",
            _segment_columns(),
        ),
        FlatTable(
            EVALUATION_ANSWERS,
            "calls",
            "One row per evaluation question answered on a call (long: questions come and go in "
            "configuration without a schema change)",
            _evaluation_columns(),
            # sequence(0, n) then i > 0: Trino refuses sequence(1, 0) for a call with no answers
            unnest=" CROSS JOIN UNNEST(filter(sequence(0, cardinality(item.evaluations.l)), j -> j > 0))"
            " AS t(i)",
        ),
    )
}


def classified(model: type[Any], columns: Iterable[str]) -> set[str]:
    """The model's attributes none of the tables accounts for (the tests want none)."""
    accounted = set(EXCLUDED.get(model.__name__, {})) | set(columns)
    return {name for name in model.get_attributes() if name not in accounted}


def schema_digest() -> str:
    """A digest of every table's columns (name and type, in order): what SCHEMA_VERSION versions."""
    text = "\n".join(
        f"{table.name}.{column.name}:{column.type}" for table in TABLES.values() for column in table.columns
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]
