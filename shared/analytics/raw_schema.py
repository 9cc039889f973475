"""Glue column types for DynamoDB's JSON export format, derived from the pynamodb models.

An export line is `{"Item": {"call_sid": {"S": "CA…"}, "duration_seconds": {"N": "42"}, …}}`, so
each attribute is a struct keyed by its DynamoDB type letter. Deriving the columns from
shared/dal/tables.py keeps the analysts' tables in step with what the code writes. Numbers stay strings
(DynamoDB's own representation); the saved queries cast them.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import Attribute, ListAttribute, MapAttribute

from shared.dal.tables import CallRecord, TranscriptSegment

S = "struct<s:string>"
N = "struct<n:string>"
BOOL = "struct<bool:boolean>"

# The call record's `summary` map, as functions/summaries/summary.py (StoredSummary) writes it. Fields
# the code adds later are simply not visible here until they are added; nothing breaks.
SUMMARY = (
    "struct<m:struct<"
    f"summary:{S},topics:struct<l:array<{S}>>,caller_intent:{S},outcome:{S},sentiment:{S},"
    f"action_items:struct<l:array<struct<m:struct<owner:{S},description:{S}>>>>,"
    f"follow_up_needed:{BOOL},language:{S},model:{S},prompt_version:{S},estimated_cost_usd:{N},"
    f"chunks:{N},segment_count:{N},no_conversation:{BOOL},created_at:{S},transcript_version:{S},"
    f"usage:struct<m:struct<requests:{N},input_tokens:{N},output_tokens:{N},"
    f"cache_creation_input_tokens:{N},cache_read_input_tokens:{N}>>,"
    f"redaction:struct<m:struct<enabled:{BOOL},applied:{BOOL},counts:struct<m:map<string,{N}>>>>"
    ">>"
)
# status -> ISO time first seen.
STATUS_HISTORY = f"struct<m:map<string,{S}>>"
# kind -> count replaced (shared.redaction)
COUNTS = f"struct<m:map<string,{N}>>"
_OVERRIDES = {
    "summary": SUMMARY,
    "status_history": STATUS_HISTORY,
    "redaction_counts": COUNTS,
    "recording_redaction_counts": COUNTS,
}


# By DynamoDB type letter (pynamodb's `attr_type`); maps with declared fields are expanded instead.
_BY_DYNAMODB_TYPE = {
    "S": S,
    "N": N,
    "BOOL": BOOL,
    "B": "struct<b:string>",
    "SS": "struct<ss:array<string>>",
    "NS": "struct<ns:array<string>>",
    "L": f"struct<l:array<{S}>>",
    "M": STATUS_HISTORY,  # an untyped map: string keys, string values
}


def attribute_type(attribute: Attribute[Any]) -> str:
    if isinstance(attribute, MapAttribute) and type(attribute) is not MapAttribute:
        fields = ",".join(
            f"{attr.attr_name or name}:{attribute_type(attr)}"
            for name, attr in type(attribute).get_attributes().items()
        )
        return f"struct<m:struct<{fields}>>"
    element = getattr(attribute, "element_type", None)
    if isinstance(attribute, ListAttribute) and element is not None:  # a list of typed maps (`gaps`)
        return f"struct<l:array<{attribute_type(element())}>>"
    try:
        return _BY_DYNAMODB_TYPE[attribute.attr_type]
    except KeyError:
        raise TypeError(
            f"no Glue type for DynamoDB type {attribute.attr_type!r} ({type(attribute).__name__}); "
            "add one to shared/analytics/raw_schema.py"
        ) from None


def item_type(model: type[CallRecord] | type[TranscriptSegment]) -> str:
    """The Glue type of the export's `Item` column for one model."""
    fields = []
    for name, attribute in model.get_attributes().items():
        column = attribute.attr_name or name
        fields.append(f"{column}:{_OVERRIDES.get(column) or attribute_type(attribute)}")
    return "struct<" + ",".join(fields) + ">"
