"""What the outbox Lambda parses: one DynamoDB stream record of the calls table, as two call records.

Lambda delivers each record with its images in DynamoDB JSON (`NEW_AND_OLD_IMAGES`); Powertools'
`DynamoDBRecord` deserialises them, and `Call.from_item` makes the same plain record every tier reads
(numbers as int/float, maps as dicts). An image that is not a call record the data layer can read is
`UnreadableRecordError`: retrying cannot mend it, so the record is parked, not retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from shared.dal.records import Call, plain
from shared.errors import CallscribeError


class UnreadableRecordError(CallscribeError):
    """A stream record whose images are not call records (a hand-edited item, another table's)."""


@dataclass(frozen=True)
class WrittenRecord:
    """One write of a call record: where it is in the stream, and the item before and after."""

    sequence_number: str
    event_name: str  # INSERT | MODIFY | REMOVE
    old: Call | None
    new: Call | None

    @property
    def call_sid(self) -> str | None:
        call = self.new or self.old
        return None if call is None else call.call_sid

    @classmethod
    def of(cls, record: DynamoDBRecord) -> WrittenRecord:
        stream = record.dynamodb
        if stream is None or not stream.sequence_number:
            raise UnreadableRecordError("a stream record without its `dynamodb` part or sequence number")
        event_name = record.event_name.name if record.event_name is not None else "?"
        try:
            old, new = _call(stream.old_image), _call(stream.new_image)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise UnreadableRecordError(f"not a call record: {exc}") from exc
        return cls(sequence_number=stream.sequence_number, event_name=event_name, old=old, new=new)


def log_number(sequence_number: str) -> int | str:
    """A stream sequence number as a log value: a number, which the log redaction keeps (as text its
    21+ digits would often hold a window that passes Luhn, and be redacted as a card)."""
    return int(sequence_number) if sequence_number.isdigit() else sequence_number


def _call(image: Mapping[str, Any]) -> Call | None:
    """The call record of an image (Lambda leaves out the image a write did not have: no old image
    for an insert, no new one for a removal)."""
    if not image:
        return None
    return Call.from_item({str(name): plain(value) for name, value in image.items()})
