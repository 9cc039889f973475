"""Nothing private stored: a call that speaks card numbers and an SSN, through the whole local
pipeline, leaves none of them anywhere.

The same local stack as test_pipeline (webhooks, streamer subprocess, recordings and summaries
Lambdas, moto), except that the Deepgram stand-in hears with a scripted recogniser (`PhraseBook`), live
and pre-recorded alike, so the caller says exactly: a card number in words, the same number in digits,
an SSN, and a card read as people read one (a group of four per segment), then its expiry and its
security code, one segment each. Once the call has settled (both summaries deliveries, the recording
reconciled), the raw numbers must be in neither table (scanned), nor the export (`callscribe
export`: the raw JSON and the flat Parquet tables), nor any prompt the Anthropic stand-in received,
nor any log line of any part (the streamer at debug level); and the call record counts what was
taken out.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from callscribe_local import cli
from callscribe_local.aws_local import BusTap, LocalNames
from callscribe_local.local_analytics import ANALYTICS_PREFIX
from callscribe_local.phone import Conversation, SimulatedPhone
from callscribe_local.stack import LocalStack, StackOptions
from callscribe_local.warehouse import Warehouse
from shared.dal.calls.core import DynamoCallReader
from tests.e2e.test_pipeline import _wait_for_events
from tests.support.log_capture import leaked
from tests.support.phrase_recognizer import PhraseBook
from tests.support.settled import wait_until_settled

pytestmark = pytest.mark.e2e

CARD_WORDS = "my card is four one one one one one one one one one one one one one one one"
CARD_DIGITS = "that is 4111 1111 1111 1111"
SSN = "and my social is 078-05-1120"
GREETING = "how can I help"
THANKS = "thank you"
GROUPS = ["4111", "1111", "1111", "1111", "0 4 2 7", "1 2 3"]  # a card, its expiry, its code
READ_OUT = ["[REDACTED CARD]"] * 4 + ["[REDACTED EXPIRY]", "[REDACTED SECURITY_CODE]"]
BOOK = PhraseBook(CARD_WORDS, CARD_DIGITS, SSN, GREETING, THANKS, "okay", *dict.fromkeys(GROUPS), "bye")
INBOUND: list[str | None] = [
    *[None, None, CARD_WORDS, None, CARD_DIGITS, None, SSN, None, "okay", None],
    *[block for group in GROUPS for block in (group, None)],
    *["bye", None],
]
OUTBOUND: list[str | None] = [GREETING, None, *[None] * (len(INBOUND) - 4), THANKS, None]
# What must be found nowhere, as words of their own (`_leaks`).
SECRETS = (
    "four one one one one",
    "one one one one one one",
    "4111 1111 1111 1111",
    "4111111111111111",
    "078-05-1120",
    "078051120",
    "0 4 2 7",
    "0427",
)


# what the live transcript's redaction counted: two cards and the SSN, then the card read in groups
# with its expiry and code
COUNTS = {kind: {"N": str(n)} for kind, n in {"CARD": 3, "SSN": 1, "EXPIRY": 1, "SECURITY_CODE": 1}.items()}


@dataclass(frozen=True)
class Settled:
    call_sid: str
    record: dict[str, Any]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"e2e-redact-calls-{suffix}",
        transcripts_table=f"e2e-redact-transcripts-{suffix}",
        idempotency_table=f"e2e-redact-idempotency-{suffix}",
        event_bus_name=f"e2e-redact-bus-{suffix}",
    )
    options = StackOptions(
        names=names,
        deepgram_api_key=None,
        anthropic_api_key=None,
        recognizer_factory=BOOK.factory(),
        extra_env={"POWERTOOLS_LOG_LEVEL": "DEBUG"},  # the streamer's debug lines are checked too
    )
    with LocalStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def settled(stack: LocalStack) -> Settled:
    assert stack.urls is not None
    tap = BusTap(stack.options.names.event_bus_name)
    phone = SimulatedPhone(
        stack.urls.api, stack.auth_token, stack.account_sid, speed=2.0, twilio_api_url=stack.urls.twilio
    )
    conversation = Conversation.from_audio(BOOK.audio_for(INBOUND), BOOK.audio_for(OUTBOUND))
    result = asyncio.run(phone.call(conversation))
    record = wait_until_settled(stack, result.call_sid)
    events = _wait_for_events(tap, result.call_sid)
    assert {"Summary Created", "Transcript Reconciled"} <= set(events), events
    return Settled(result.call_sid, record)


def _leaks(text: str) -> list[str]:
    return leaked(SECRETS, text)


def _scan(table: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")  # the stack's env points it at moto
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_the_transcript_is_stored_redacted_and_the_record_counts_it(
    stack: LocalStack, settled: Settled
) -> None:
    items = [
        i for i in _scan(stack.options.names.transcripts_table) if i["call_sid"]["S"] == settled.call_sid
    ]
    texts = [item["text"]["S"] for item in items]
    assert "my card is [REDACTED CARD]" in texts
    assert "that is [REDACTED CARD]" in texts
    assert "and my social is [REDACTED SSN]" in texts
    assert GREETING in texts  # the other track, untouched
    assert _leaks(json.dumps(items)) == []
    # the card read one group per segment: held until the run of digits ended, then stored in place
    live = sorted(
        (float(i["start"]["N"]), i["text"]["S"])
        for i in items
        if i["track"]["S"] == "inbound" and i.get("origin", {}).get("S") != "recording"
    )
    read = [text for _, text in live]
    at = read.index("okay") + 1
    assert read[at : at + len(READ_OUT) + 1] == [*READ_OUT, "bye"]

    record = settled.record  # GET /calls/{sid}
    assert record["transcriptStatus"] == "completed"
    assert record["summary"] is not None
    (item,) = [i for i in _scan(stack.options.names.calls_table) if i["call_sid"]["S"] == settled.call_sid]
    assert item["redaction_counts"] == {"M": COUNTS}
    # the recording was reconciled with redaction on: whatever it filled in was redacted and counted
    assert "M" in item["recording_redaction_counts"]


def test_neither_table_nor_the_api_holds_the_numbers(stack: LocalStack, settled: Settled) -> None:
    assert _leaks(json.dumps(_scan(stack.options.names.calls_table))) == []
    assert _leaks(json.dumps(_scan(stack.options.names.transcripts_table))) == []
    assert _leaks(json.dumps(settled.record)) == []  # GET /calls/{sid}: record, summary, transcript


def test_the_model_never_saw_the_numbers(stack: LocalStack, settled: Settled) -> None:
    assert stack.model_server is not None
    requests = stack.model_server.requests
    assert requests, "the summaries asked the Anthropic stand-in"
    prompts = [r for r in requests if "[REDACTED CARD]" in r.user_text]
    assert prompts, "the prompt carried the redacted transcript"
    for request in requests:
        assert _leaks(json.dumps(request.body)) == []


def test_no_log_line_of_any_part_carries_them(stack: LocalStack, settled: Settled) -> None:
    logs = sorted(stack.log_dir.rglob("*.log"))
    assert {path.name for path in logs} >= {"streamer.log", "lambdas.log"}
    streamer_log = (stack.log_dir / "streamer.log").read_text()
    assert '"final segment"' in streamer_log  # debug lines were on, and were looked at
    for path in logs:
        assert _leaks(path.read_text(errors="replace")) == [], path.name


def test_the_export_holds_the_counts_and_not_the_numbers(
    stack: LocalStack,
    settled: Settled,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert stack.urls is not None
    state_file = tmp_path / "state.json"
    cli.StackState.of(stack).save(state_file)
    monkeypatch.setenv("CALLSCRIBE_LOCAL_STATE", str(state_file))

    download = tmp_path / "export"
    assert cli.main(["export", "--table", "all", "--prefix", "redaction", "--download", str(download)]) == 0
    capsys.readouterr()
    lines = [
        line
        for path in download.rglob("*.gz")
        for line in gzip.decompress(path.read_bytes()).decode().splitlines()
        if line.strip()
    ]
    exported = [json.loads(line)["Item"] for line in lines]
    (call,) = [i for i in exported if i["call_sid"]["S"] == settled.call_sid and "status" in i]
    assert call["redaction_counts"] == {"M": COUNTS}
    assert any(i.get("text", {}).get("S") == "and my social is [REDACTED SSN]" for i in exported)
    assert _leaks("\n".join(lines)) == []

    # the analysts' flat tables, read back through a SQL engine (Parquet is compressed: no grep)
    warehouse = Warehouse()
    try:
        warehouse.attach_flat(download / ANALYTICS_PREFIX)
        (facts,) = warehouse.query(
            "SELECT redacted_cards, redacted_ssns, redacted_card_expiries, redacted_security_codes, "
            f"redacted_total FROM call_facts WHERE call_sid = '{settled.call_sid}'"
        )
        record = DynamoCallReader(stack.options.names.calls_table).get(settled.call_sid)
        assert record is not None
        live, filled = record.redaction_counts or {}, record.recording_redaction_counts or {}
        assert facts == {
            "redacted_cards": live.get("CARD", 0) + filled.get("CARD", 0),
            "redacted_ssns": live.get("SSN", 0) + filled.get("SSN", 0),
            "redacted_card_expiries": live.get("EXPIRY", 0) + filled.get("EXPIRY", 0),
            "redacted_security_codes": live.get("SECURITY_CODE", 0) + filled.get("SECURITY_CODE", 0),
            "redacted_total": sum(live.values()) + sum(filled.values()),
        }
        rows = warehouse.query("SELECT * FROM call_facts")
        rows += warehouse.query("SELECT * FROM transcript_lines")
        rows += warehouse.query("SELECT * FROM evaluation_answers")
        assert any(row.get("text") == "and my social is [REDACTED SSN]" for row in rows)
        assert _leaks(json.dumps(rows, default=str)) == []
    finally:
        warehouse.close()
