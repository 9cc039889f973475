"""Local event source mapping: the calls table's DynamoDB stream (moto) → the outbox handler.

moto keeps the stream but runs no mapping, so `LocalOutbox` polls each shard from `TRIM_HORIZON`
(a child once its parent is read), turns the records into the ones Lambda delivers
(`lambda_record`) and invokes the outbox handler in-process with `{"Records": [...]}`.
Must keep: every write read once, in order per shard; the mapping's failure handling (a failed
invocation bisected, a partial failure retried from its first failed record, after
`max_retry_attempts` a `DDBStreamBatchInfo` in the DLQ and reading goes on); `wait_idle` returns
only once everything written before it is announced. Only the delays are local-sized
(`StreamPolicy`; docs/local.md, "The parts").
Over 350 lines: shard lineage, batching, retries, bisection and the DLQ record are one mapping.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from callscribe_local.aws_local import LOCAL_ACCOUNT, LOCAL_REGION
from callscribe_local.dispatcher import Handler, LocalLambdaContext
from shared import clock
from shared.observability import logger

FUNCTION_NAME = "callscribe-outbox-local"


@dataclass(frozen=True)
class StreamPolicy:
    """How the local mapping reads and retries (the deployed mapping's, with local-sized delays)."""

    batch_size: int = 100
    max_retry_attempts: int = 5
    bisect_on_error: bool = True
    poll_interval: float = 0.05  # between polls that found nothing
    retry_base_delay: float = 0.1
    retry_max_delay: float = 2.0
    describe_interval: float = 1.0  # how often new shards are looked for

    def retry_delay(self, retry: int) -> float:
        """Seconds before retry number `retry` (1, 2, …)."""
        return min(self.retry_max_delay, self.retry_base_delay * 2.0 ** (retry - 1))


@dataclass(frozen=True)
class StreamDelivery:
    """One invocation of the handler (for tests and the demo's progress)."""

    first_sequence_number: str
    records: int
    ok: bool
    retry: int  # 0 for the first try of these records
    error: str | None = None
    dead_lettered: bool = False


@dataclass(frozen=True)
class _Outcome:
    failed_from: int | None  # index of the first failed record; None: the whole batch succeeded
    function_error: str | None = None  # the invocation raised (Lambda's "function error")


class LocalOutbox:
    """Reads the stream of `table_name` and delivers it to `handler` as Lambda's mapping would."""

    def __init__(
        self,
        table_name: str,
        handler: Handler,
        *,
        dead_letter_queue_url: str,
        policy: StreamPolicy | None = None,
        on_delivery: Callable[[StreamDelivery], None] | None = None,
    ) -> None:
        self.table_name = table_name
        self.handler = handler
        self.dead_letter_queue_url = dead_letter_queue_url
        self.policy = policy or StreamPolicy()
        self.on_delivery = on_delivery
        self.deliveries: list[StreamDelivery] = []
        self._dynamodb = boto3.client("dynamodb")
        self._streams = boto3.client("dynamodbstreams")
        self._sqs = boto3.client("sqs")
        self.stream_arn = self._stream_arn()
        self._iterators: dict[str, str] = {}  # open shards: the next position to read
        self._read: set[str] = set()  # shards read to their end (closed)
        self._described = 0.0
        self._idle_rounds = 0
        self._idle = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def create_dead_letter_queue(name: str = "callscribe-outbox-dlq") -> str:
        """The local dead-letter queue (the handler parks records in it, the mapping its failures)."""
        url: str = boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        return url

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> LocalOutbox:
        """Start polling (again, after `stop`: from the first record not yet delivered)."""
        if self._thread is not None and self._thread.is_alive():
            return self  # one poller per mapping, as Lambda runs one batch per shard at a time
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"local-outbox-{self.table_name}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def __enter__(self) -> LocalOutbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until a whole poll that began after this call found nothing new: everything written
        before the call has been delivered (or dead-lettered). False on timeout."""
        with self._idle:
            target = self._idle_rounds + 2  # the poll under way may have begun before the call
            return self._idle.wait_for(lambda: self._idle_rounds >= target, timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.poll_once()
            except Exception:  # noqa: BLE001 - a moto hiccup must not end the mapping; nothing is checkpointed
                logger.exception("local outbox poll failed")
                self._stop.wait(0.5)
                continue
            if not handled:
                self._stop.wait(self.policy.poll_interval)

    # -- reading -----------------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Read every open shard once and deliver what it holds; the number of records delivered."""
        if not self._iterators or time.monotonic() - self._described >= self.policy.describe_interval:
            self._find_shards()
        handled = 0
        for shard_id, iterator in list(self._iterators.items()):
            response = self._streams.get_records(ShardIterator=iterator, Limit=self.policy.batch_size)
            records = response.get("Records", [])
            if records:
                if not self._deliver(
                    shard_id, [lambda_record(record, self.stream_arn) for record in records]
                ):
                    return handled  # stopped mid-batch: not checkpointed, read again on the next start
                handled += len(records)
            following = response.get("NextShardIterator")
            if following:
                self._iterators[shard_id] = following
            else:  # the shard is closed and read to its end: its children may start
                del self._iterators[shard_id]
                self._read.add(shard_id)
                self._described = 0.0
        if not handled:
            with self._idle:
                self._idle_rounds += 1
                self._idle.notify_all()
        return handled

    def _stream_arn(self) -> str:
        table = self._dynamodb.describe_table(TableName=self.table_name)["Table"]
        arn = table.get("LatestStreamArn")
        if not arn:
            raise RuntimeError(f"table {self.table_name} has no stream (python -m shared.bootstrap adds it)")
        return str(arn)

    def _find_shards(self) -> None:
        self._described = time.monotonic()
        shards: list[dict[str, Any]] = []
        start: dict[str, str] = {}
        while True:
            description = self._streams.describe_stream(StreamArn=self.stream_arn, **start)[
                "StreamDescription"
            ]
            shards += description.get("Shards", [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            start = {"ExclusiveStartShardId": last}
        known = {shard["ShardId"] for shard in shards}
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._iterators or shard_id in self._read:
                continue
            parent = shard.get("ParentShardId")
            if parent and parent in known and parent not in self._read:
                continue  # its parent's records come first
            self._iterators[shard_id] = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]

    # -- delivery ----------------------------------------------------------------------------------

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> bool:
        """Deliver one batch as the mapping would; False when stopped before it was done."""
        work: deque[tuple[list[dict[str, Any]], int]] = deque([(records, 0)])
        while work:
            if self._stop.is_set():
                return False
            batch, retries = work.popleft()
            outcome = self._invoke(batch)
            first = _sequence_number(batch[0])
            if outcome.failed_from is None:
                self._record(StreamDelivery(first, len(batch), ok=True, retry=retries))
                continue
            error = outcome.function_error or f"record {_sequence_number(batch[outcome.failed_from])} failed"
            if outcome.function_error and self.policy.bisect_on_error and len(batch) > 1:
                self._record(StreamDelivery(first, len(batch), ok=False, retry=retries, error=error))
                middle = len(batch) // 2
                work.appendleft((batch[middle:], retries))
                work.appendleft((batch[:middle], retries))
                continue
            remaining = batch[outcome.failed_from :]
            if retries >= self.policy.max_retry_attempts:
                self._dead_letter(shard_id, remaining, retries + 1, outcome.function_error)
                self._record(
                    StreamDelivery(
                        first, len(batch), ok=False, retry=retries, error=error, dead_lettered=True
                    )
                )
                continue
            self._record(StreamDelivery(first, len(batch), ok=False, retry=retries, error=error))
            logger.warning(
                "local outbox batch failed; retrying",
                extra={"shard": shard_id, "records": len(remaining), "retry": retries + 1, "error": error},
            )
            self._stop.wait(self.policy.retry_delay(retries + 1))
            work.appendleft((remaining, retries + 1))
        return True

    def _invoke(self, batch: Sequence[Mapping[str, Any]]) -> _Outcome:
        event = {"Records": [dict(record) for record in batch]}
        context = LocalLambdaContext(function_name=FUNCTION_NAME, timeout_seconds=60.0)
        try:
            response = self.handler(event, context)
        except Exception as exc:  # noqa: BLE001 - any exception is a failed invocation, as in Lambda
            return _Outcome(failed_from=0, function_error=f"{type(exc).__name__}: {exc}")
        failures = (response or {}).get("batchItemFailures") or []
        if not failures:
            return _Outcome(failed_from=None)
        failed = {str(item.get("itemIdentifier")) for item in failures}
        indexes = [i for i, record in enumerate(batch) if _sequence_number(record) in failed]
        # an identifier that is no record of the batch fails the whole batch, as Lambda treats it
        return _Outcome(failed_from=min(indexes) if len(indexes) == len(failed) else 0)

    def _dead_letter(
        self,
        shard_id: str,
        records: Sequence[Mapping[str, Any]],
        invocations: int,
        function_error: str | None,
    ) -> None:
        """What Lambda's on-failure destination receives for a stream batch whose retries ran out."""
        arrivals = [_arrival(record) for record in records]
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{FUNCTION_NAME}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": "Unhandled"} if function_error else {}),
            },
            "version": "1.0",
            "timestamp": clock.now_iso(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": _sequence_number(records[0]),
                "endSequenceNumber": _sequence_number(records[-1]),
                "approximateArrivalOfFirstRecord": arrivals[0],
                "approximateArrivalOfLastRecord": arrivals[-1],
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self.dead_letter_queue_url, MessageBody=json.dumps(body))
        logger.error(
            "local outbox gave up on a batch; its description is in the dead-letter queue",
            extra={"shard": shard_id, "records": len(records), "error": function_error},
        )

    def _record(self, delivery: StreamDelivery) -> None:
        self.deliveries.append(delivery)
        if self.on_delivery is not None:
            self.on_delivery(delivery)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Messages in the dead-letter queue (read without removing them: they become visible again)."""
        response = self._sqs.receive_message(
            QueueUrl=self.dead_letter_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return [json.loads(message["Body"]) for message in response.get("Messages", [])]


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record as `GetRecords` returned it (botocore's parsed form), as Lambda delivers it."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = float(int(created.timestamp()))
    elif isinstance(created, str):  # moto's own form, should botocore leave it unparsed
        stream["ApproximateCreationDateTime"] = float(int(clock.parse_iso(created).timestamp()))
    event_name = record.get("eventName")
    # moto writes an empty image for the side a write did not have; Lambda leaves it out
    if event_name == "INSERT" or not stream.get("OldImage"):
        stream.pop("OldImage", None)
    if event_name == "REMOVE" or not stream.get("NewImage"):
        stream.pop("NewImage", None)
    wired: dict[str, Any] = {**_wire(dict(record)), "dynamodb": _wire(stream), "eventSourceARN": stream_arn}
    return wired


def _wire(value: Any) -> Any:
    """botocore's parsed values back to Lambda's JSON (binary attributes as base64 text)."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {str(key): _wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_wire(item) for item in value]
    return value


def _arrival(record: Mapping[str, Any]) -> str:
    """When the record reached the stream, ISO-8601 (Lambda's record has it in epoch seconds)."""
    return clock.iso(datetime.fromtimestamp(float(record["dynamodb"]["ApproximateCreationDateTime"]), UTC))


def _sequence_number(record: Mapping[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])
