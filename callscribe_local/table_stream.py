"""A local stand-in for a Lambda event source mapping on a DynamoDB stream: moto's stream polled, each
batch of records handed to an in-process handler as the `{"Records": [...]}` event Lambda sends.

Reads from the stream's end as it starts (`LATEST`, as a new mapping does), every `interval`
seconds (0.25: Lambda polls a shard four times a second), shard by shard, looking for new shards
every `SHARD_SCAN_SECONDS`; records are handed over in stream order. A handler that raises is logged
and the batch skipped (Lambda would retry it; the only handler here, the call feed, never raises on
a publish failure). `ApproximateCreationDateTime` is given as epoch seconds, as Lambda gives it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Self

import boto3

from callscribe_local.apigw import LocalLambdaContext
from callscribe_local.http_server import StandIn

_log = logging.getLogger(__name__)
SHARD_SCAN_SECONDS = 10.0

Handler = Callable[[dict[str, Any], Any], Mapping[str, Any] | None]


class TableStreamPoller(StandIn):
    def __init__(
        self, table_name: str, handler: Handler, *, interval: float = 0.25, name: str = "stream"
    ) -> None:
        self._table_name = table_name
        self._handler = handler
        self._interval = interval
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str] = {}
        self._streams: Any = None
        self._arn = ""
        self.delivered = 0  # records handed to the handler

    def start(self) -> Self:
        dynamodb = boto3.client("dynamodb")
        self._arn = dynamodb.describe_table(TableName=self._table_name)["Table"]["LatestStreamArn"]
        self._streams = boto3.client("dynamodbstreams")
        self._open_new_shards()
        self._thread = threading.Thread(target=self._run, name=f"{self._name}-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _open_new_shards(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="LATEST"
                )["ShardIterator"]

    def _run(self) -> None:
        scanned = time.monotonic()
        while not self._stop.wait(self._interval):
            try:
                if time.monotonic() - scanned > SHARD_SCAN_SECONDS:
                    self._open_new_shards()
                    scanned = time.monotonic()
                self._poll()
            except Exception:  # noqa: BLE001 - a stand-in keeps polling, as the event source mapping does
                _log.exception("polling the %s stream failed", self._table_name)

    def _poll(self) -> None:
        for shard_id, iterator in list(self._iterators.items()):
            answer = self._streams.get_records(ShardIterator=iterator)
            self._iterators[shard_id] = answer.get("NextShardIterator") or iterator
            records = [_as_lambda_record(record, self._arn) for record in answer.get("Records", [])]
            if not records:
                continue
            try:
                self._handler(
                    {"Records": records}, LocalLambdaContext(function_name=f"callscribe-{self._name}-local")
                )
            except Exception:  # noqa: BLE001 - logged and skipped, as a bisected poison batch would be
                _log.exception("the %s handler failed on %d records", self._name, len(records))
            self.delivered += len(records)


def _as_lambda_record(record: Mapping[str, Any], arn: str) -> dict[str, Any]:
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": change, "eventSourceARN": arn}
