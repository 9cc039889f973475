"""The analysts' side end to end: calls the local stack really placed, exported, flattened into the
typed Parquet tables by the same SQL the export workflow's Athena UNLOADs run, and every saved
query run on them by a real SQL engine (DuckDB, the Trino SQL transpiled by sqlglot), its answer
checked against the call records themselves.

Four calls: a forwarded inbound call (with its dialled leg: the forward's TwiML asks for the
leg's status callbacks, and the simulated phone sends them as Twilio does, so the leg has its own
record and cost), a voicemail to a second number, an outbound call (POST /calls) nobody answered,
and an outbound call still ringing (no cost yet). Exported twice, a day apart: the daily partitions
then hold the first three calls twice, the `_current` tables every record once.

This module's stack asks Claude through Amazon Bedrock's stand-in (`callscribe local up
--model-provider bedrock`); the other e2e modules through the Anthropic API's, so the whole pipeline
runs on both providers without a call placed twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from callscribe_local import cli, local_analytics
from callscribe_local.aws_local import LocalNames
from callscribe_local.bedrock_server import BedrockServer
from callscribe_local.calls_client import get_call
from callscribe_local.local_analytics import Run, latest_warehouse
from callscribe_local.phone import CallerId, SimulatedPhone, bundled_conversation, rfc2822
from callscribe_local.stack import FORWARD_TO, TWILIO_NUMBER, LocalStack, StackOptions
from callscribe_local.warehouse import Warehouse
from shared.analytics.queries import SAVED_QUERIES
from shared.analytics.schema import SCHEMA_VERSION
from shared.anthropic_clients import DEFAULT_MODELS, ModelProvider
from shared.call_view import conversation_cost
from shared.dal.calls.core import DynamoCallReader
from shared.dal.records import Call
from shared.dal.segments import DynamoSegments
from tests.support.settled import wait_until_settled

pytestmark = pytest.mark.e2e

VOICEMAIL_NUMBER = "+14155550111"
SPEED = 4.0


@dataclass(frozen=True)
class Placed:
    forwarded: Call
    legs: list[Call]
    voicemail: Call
    unanswered: Call
    ringing: Call  # placed between the two exports, still in progress: no cost yet
    warehouse: Warehouse
    export_output: str
    first_day: str  # the earlier export's partition

    @property
    def calls(self) -> list[Call]:
        """Call-level records (no legs)."""
        return [self.forwarded, self.voicemail, self.unanswered, self.ringing]

    @property
    def records(self) -> list[Call]:
        return [*self.calls, *self.legs]

    def legs_of(self, call: Call) -> list[Call]:
        return [leg for leg in self.legs if leg.parent_call_sid == call.call_sid]

    def conversation_usd(self, call: Call) -> float | None:
        """The call's cost with its legs', as GET /calls gives it: None until every part is priced."""
        total = conversation_cost(call, self.legs_of(call))
        return None if total is None else float(total)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"e2e-a-calls-{suffix}",
        transcripts_table=f"e2e-a-transcripts-{suffix}",
        idempotency_table=f"e2e-a-idempotency-{suffix}",
        event_bus_name=f"e2e-a-bus-{suffix}",
    )
    routes = {"*": {"forwardTo": FORWARD_TO}, VOICEMAIL_NUMBER: {"voicemail": True}}
    options = StackOptions(
        names=names,
        call_routes=routes,
        deepgram_api_key=None,
        anthropic_api_key=None,
        model_provider=ModelProvider.BEDROCK,
    )
    with LocalStack(options) as running:
        yield running


def _phone(stack: LocalStack, to_number: str) -> SimulatedPhone:
    assert stack.urls is not None
    return SimulatedPhone(
        stack.urls.api,
        stack.auth_token,
        stack.account_sid,
        caller=CallerId(to_number=to_number),
        speed=SPEED,
        twilio_api_url=stack.urls.twilio,
    )


async def _place_two(stack: LocalStack) -> tuple[str, str]:
    conversation = bundled_conversation()
    forwarded, voicemail = await asyncio.gather(
        _phone(stack, TWILIO_NUMBER).call(conversation.clip(9.0)),
        _phone(stack, VOICEMAIL_NUMBER).call(conversation.clip(6.0)),
    )
    return forwarded.call_sid, voicemail.call_sid


def _outbound(stack: LocalStack) -> str:
    """POST /calls: Twilio queues the call; nothing more happens until its status callbacks."""
    assert stack.urls is not None
    response = httpx.post(
        f"{stack.urls.api}/calls", json={"to": "+14155550142", "connectTo": "+14155550199"}, timeout=10
    )
    assert response.status_code == 201, response.text
    return str(response.json()["callSid"])


def _unanswered_outbound(stack: LocalStack) -> str:
    """POST /calls, then Twilio's `no-answer` for it, signed as Twilio signs it."""
    assert stack.urls is not None
    call_sid = _outbound(stack)
    phone = _phone(stack, "+14155550142")
    params = {
        **phone.base_params(call_sid),
        "Direction": "outbound-api",
        "From": TWILIO_NUMBER,
        "To": "+14155550142",
        "CallStatus": "no-answer",
        "CallDuration": "0",
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
        "Timestamp": rfc2822(),
    }
    url = stack.urls.api.rstrip("/") + "/twilio/status"
    answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": phone.sign(url, params)}, timeout=10)
    assert answer.status_code < 300, answer.text
    return call_sid


def _settled(stack: LocalStack, calls: DynamoCallReader, call_sid: str) -> Call:
    """The stored record once the call has settled (tests/support/settled.py: summary of the final
    transcript, recording reconciled, cost whole)."""
    wait_until_settled(stack, call_sid, timeout=150)
    call = calls.get(call_sid)
    assert call is not None
    return call


@pytest.fixture(scope="module")
def placed(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Placed]:
    names = stack.options.names
    calls = DynamoCallReader(names.calls_table)
    forwarded_sid, voicemail_sid = asyncio.run(_place_two(stack))
    unanswered_sid = _unanswered_outbound(stack)
    forwarded = _settled(stack, calls, forwarded_sid)
    voicemail = _settled(stack, calls, voicemail_sid)
    unanswered = calls.get(unanswered_sid)
    assert unanswered is not None
    assert unanswered.status == "no-answer"
    everything = _all_calls(calls, names.calls_table)
    legs = [c for c in everything if c.parent_call_sid is not None]
    assert [c.parent_call_sid for c in legs] == [forwarded_sid]  # the forward's dialled party
    assert {c.call_sid for c in everything} == {forwarded_sid, voicemail_sid, unanswered_sid} | {
        c.call_sid for c in legs
    }

    # yesterday's export (the workflow's run of the day before), then a call that is still ringing
    import boto3

    work = tmp_path_factory.mktemp("analytics")
    yesterday = Run.at(datetime.now(UTC) - timedelta(days=1))
    raw_keys = _export_and_derive(stack, yesterday, work / "yesterday")
    ringing_sid = _outbound(stack)
    ringing = calls.get(ringing_sid)
    assert ringing is not None
    assert (ringing.status, ringing.cost) == ("queued", None)

    # `callscribe export` against this stack, as `callscribe local up` leaves it
    assert stack.urls is not None
    cli.StackState.of(stack).save(work / "state.json")
    os.environ["CALLSCRIBE_LOCAL_STATE"] = str(work / "state.json")
    try:
        from io import StringIO

        from rich.console import Console

        buffer = StringIO()
        args = cli.build_parser().parse_args(["export"])
        assert cli.cmd_export(args, Console(file=buffer, width=400)) == 0
    finally:
        os.environ.pop("CALLSCRIBE_LOCAL_STATE", None)
    s3 = boto3.client("s3")
    today = local_analytics.current_run(s3, cli.DEFAULT_EXPORT_BUCKET)
    assert today is not None
    assert today["run"] > yesterday.stamp
    # a late re-run of yesterday's (a slow run of the workflow finishing last) moves nothing back
    local_analytics.derive_from_export(
        s3, cli.DEFAULT_EXPORT_BUCKET, raw_keys, yesterday.day, yesterday.stamp + "-late", work / "late"
    )
    assert local_analytics.current_run(s3, cli.DEFAULT_EXPORT_BUCKET) == today

    warehouse = latest_warehouse(s3, cli.DEFAULT_EXPORT_BUCKET, work / "flat")
    yield Placed(forwarded, legs, voicemail, unanswered, ringing, warehouse, buffer.getvalue(), yesterday.day)
    warehouse.close()


def _export_and_derive(stack: LocalStack, run: Run, workdir: Path) -> dict[str, list[str]]:
    """What `callscribe export` does, as a run of another day: both tables, then the flat ones."""
    import boto3

    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    names = stack.options.names
    keys = {}
    for raw, table in (("calls", names.calls_table), ("transcripts", names.transcripts_table)):
        export = local_analytics.export_table(dynamodb, s3, table, cli.DEFAULT_EXPORT_BUCKET, "exports", run)
        assert export.completed, export
        keys[raw] = export.keys
    local_analytics.derive_from_export(s3, cli.DEFAULT_EXPORT_BUCKET, keys, run.day, run.stamp, workdir)
    return keys


def _all_calls(calls: DynamoCallReader, table: str) -> list[Call]:
    import boto3

    client = boto3.client("dynamodb")
    sids = [
        item["call_sid"]["S"]
        for item in client.scan(TableName=table, ProjectionExpression="call_sid")["Items"]
    ]
    return [call for sid in sids if (call := calls.get(sid)) is not None]


def _run(placed: Placed, name: str, **parameters: str) -> list[dict[str, Any]]:
    (query,) = [q for q in SAVED_QUERIES if q.name == name]
    return placed.warehouse.query(query.sql, query.bind(parameters))


def _day(call: Call) -> date:
    assert call.call_date is not None
    return date.fromisoformat(call.call_date)


def _cost(call: Call) -> float:
    return float((call.cost or {}).get("total_usd") or 0.0)


# ---- the export itself ----------------------------------------------------------------------------


def test_the_summaries_asked_claude_through_bedrocks_stand_in(stack: LocalStack, placed: Placed) -> None:
    """The Lambdas and the streamer of this stack run with MODEL_PROVIDER=bedrock and no Anthropic key:
    each summary was one signed InvokeModel of the default inference profile, priced like any other."""
    assert stack.lambda_env["MODEL_PROVIDER"] == "bedrock"
    bedrock = stack.model_server
    assert isinstance(bedrock, BedrockServer)
    invocations = bedrock.invocations
    assert len(invocations) >= 2  # the forwarded call and the voicemail (and any rewrite)
    assert {(i.model_id, i.streamed) for i in invocations} == {(DEFAULT_MODELS[ModelProvider.BEDROCK], False)}
    assert all(i.headers["authorization"].startswith("AWS4-HMAC-SHA256 ") for i in invocations)
    assert len(bedrock.requests) == len(invocations)  # every one verified and answered
    for call in (placed.forwarded, placed.voicemail):
        assert call.summary is not None
        assert call.summary["model"] == "offline-extractive"
        assert call.cost is not None
        assert call.cost["claude_usd"] == 0  # the offline stand-in is free on any route


def test_the_export_writes_the_flat_tables_of_every_record(placed: Placed) -> None:
    assert f"analytics/v{SCHEMA_VERSION}/" in placed.export_output
    rows = placed.warehouse.query(
        "SELECT call_sid, is_leg, answered, our_number FROM call_facts_current ORDER BY call_sid"
    )
    assert {row["call_sid"] for row in rows} == {c.call_sid for c in placed.records}
    by_sid = {row["call_sid"]: row for row in rows}
    assert {sid for sid, row in by_sid.items() if row["is_leg"]} == {c.call_sid for c in placed.legs}
    assert by_sid[placed.forwarded.call_sid]["our_number"] == TWILIO_NUMBER
    assert by_sid[placed.voicemail.call_sid]["our_number"] == VOICEMAIL_NUMBER
    assert by_sid[placed.unanswered.call_sid]["our_number"] == TWILIO_NUMBER
    assert by_sid[placed.unanswered.call_sid]["answered"] is False


def _per_key(placed: Placed, table: str, *key: str) -> Counter[tuple[Any, ...]]:
    columns = ", ".join(key)
    rows = placed.warehouse.query(f"SELECT {columns}, count(*) AS n FROM {table} GROUP BY {columns}")
    return Counter({tuple(row[k] for k in key): row["n"] for row in rows})


def test_the_current_tables_hold_each_record_once_after_two_exports(placed: Placed) -> None:
    """The daily partitions are snapshots: after two days' exports each settled call is in both, so
    a query that forgets `dt` counts it twice. The `_current` tables hold the newest run only."""
    days = placed.warehouse.query("SELECT DISTINCT dt FROM call_facts ORDER BY dt")
    assert [row["dt"] for row in days] == [placed.first_day, _today()]
    history = _per_key(placed, "call_facts", "call_sid")
    assert set(history.values()) == {1, 2}  # the trap: every call exported twice but the last one
    assert {sid for (sid,) in history if history[(sid,)] == 1} == {placed.ringing.call_sid}

    current = _per_key(placed, "call_facts_current", "call_sid")
    assert current == Counter({(c.call_sid,): 1 for c in placed.records})
    lines = _per_key(placed, "transcript_lines_current", "call_sid", "segment_key")
    assert set(lines.values()) == {1}
    assert set(_per_key(placed, "transcript_lines", "call_sid", "segment_key").values()) == {2}
    answers = _per_key(placed, "evaluation_answers_current", "call_sid", "question_id")
    assert answers == Counter({(c.call_sid, a["id"]): 1 for c in placed.records for a in c.evaluations or ()})
    assert answers  # the offline evaluator answered something, or this proves nothing


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def test_a_placed_call_has_its_typed_facts(placed: Placed) -> None:
    call = placed.forwarded
    (row,) = placed.warehouse.query(f"SELECT * FROM call_facts_current WHERE call_sid = '{call.call_sid}'")
    assert row["duration_seconds"] == call.duration_seconds
    assert row["started_at"].isoformat(timespec="milliseconds") + "Z" == call.started_at
    assert row["segment_count"] == call.segment_count
    assert row["transcript_source"] == call.transcript_source
    assert row["live_coverage"] == pytest.approx(call.live_coverage)
    assert call.summary is not None
    assert row["topics"] == [topic.lower() for topic in call.summary["topics"]]
    assert row["outcome"] == call.summary["outcome"]
    assert row["summary_model"] == "offline-extractive"
    assert row["other_party_last4"] == CallerId().from_number[-4:]
    assert call.cost is not None
    assert row["cost_total_usd"] == pytest.approx(call.cost["total_usd"])
    parts = [value for name, value in row.items() if name.startswith("cost_") and name.endswith("_usd")]
    assert row["cost_total_usd"] == pytest.approx(
        sum(v for v in parts if v is not None) - row["cost_total_usd"]
    )
    assert row["evaluation_count"] == len(call.evaluations or ())
    assert row["redacted_total"] == sum((call.redaction_counts or {}).values()) + sum(
        (call.recording_redaction_counts or {}).values()
    )
    everything = json.dumps(placed.warehouse.query("SELECT * FROM call_facts_current"), default=str)
    assert CallerId().from_number not in everything  # never more than the last four digits
    assert CallerId().from_zip not in everything


def test_the_transcript_lines_are_the_stored_segments(stack: LocalStack, placed: Placed) -> None:
    call = placed.forwarded
    stored = DynamoSegments(stack.options.names.transcripts_table).list_segments(call.call_sid)
    rows = _run(placed, "transcript-of-a-call", call_sid=call.call_sid)
    assert [row["text"] for row in rows] == [segment.text for segment in stored]
    assert [row["source"] for row in rows] == [segment.origin_or_live for segment in stored]
    assert [row["start_seconds"] for row in rows] == [pytest.approx(segment.start) for segment in stored]


# ---- every saved query, answered ------------------------------------------------------------------


def test_every_saved_query_runs_here() -> None:
    """A saved query added without a test of its answer fails here."""
    tested = {
        "calls-per-day-and-status",
        "volume-by-hour-and-number",
        "average-duration",
        "top-topics",
        "outcome-and-sentiment-trend",
        "evaluation-pass-rates",
        "cost-per-day",
        "cost-per-call",
        "cost-by-route",
        "calls-with-gaps",
        "failed-transcripts",
        "redactions-per-day",
        "transcript-of-a-call",
    }
    assert {query.name for query in SAVED_QUERIES} == tested


def test_calls_per_day_and_status(placed: Placed) -> None:
    expected = Counter((_day(c), c.status) for c in placed.calls)
    rows = _run(placed, "calls-per-day-and-status")
    assert {(r["call_date"], r["status"]): r["calls"] for r in rows} == dict(expected)


def _our_number(call: Call) -> str | None:
    return call.to_number if call.direction == "inbound" else call.from_number


def test_volume_by_hour_and_number(placed: Placed) -> None:
    rows = _run(placed, "volume-by-hour-and-number")
    assert sum(r["calls"] for r in rows) == len(placed.calls)
    assert sum(r["answered"] for r in rows) == 2
    talk = sum(c.duration_seconds or 0 for c in (placed.forwarded, placed.voicemail))
    assert sum(r["talk_seconds"] for r in rows) == talk
    numbers: Counter[str] = Counter()
    for row in rows:
        numbers[row["our_number"]] += row["calls"]
    assert numbers == Counter(_our_number(c) for c in placed.calls)
    assert set(numbers) == {TWILIO_NUMBER, VOICEMAIL_NUMBER}


def test_average_duration_counts_only_answered_calls(placed: Placed) -> None:
    rows = {r["direction"]: r for r in _run(placed, "average-duration")}
    inbound = rows["inbound"]
    durations = [placed.forwarded.duration_seconds, placed.voicemail.duration_seconds]
    assert (inbound["answered_calls"], inbound["unanswered_calls"]) == (2, 0)
    assert inbound["avg_seconds"] == pytest.approx(round(statistics.mean(d or 0 for d in durations), 1))
    assert inbound["p90_seconds"] == max(durations)
    outbound = rows["outbound-api"]
    # the call still ringing is neither answered nor unanswered yet
    assert (outbound["answered_calls"], outbound["unanswered_calls"], outbound["avg_seconds"]) == (0, 1, None)


def test_top_topics(placed: Placed) -> None:
    expected = Counter(t.lower() for c in placed.calls if c.summary for t in c.summary["topics"])
    assert expected  # the offline summariser names topics
    rows = _run(placed, "top-topics")
    assert {r["topic"]: r["calls"] for r in rows} == dict(expected.most_common(25))


def test_outcome_and_sentiment_trend(placed: Placed) -> None:
    expected = Counter(
        (_day(c), c.summary["outcome"], c.summary["sentiment"]) for c in placed.calls if c.summary is not None
    )
    rows = _run(placed, "outcome-and-sentiment-trend")
    assert {(r["call_date"], r["outcome"], r["sentiment"]): r["calls"] for r in rows} == dict(expected)
    follow_ups = sum(1 for c in placed.calls if c.summary and c.summary["follow_up_needed"])
    assert sum(r["need_follow_up"] for r in rows) == follow_ups


def test_evaluation_pass_rates(placed: Placed) -> None:
    answers = [(c, a) for c in placed.records for a in (c.evaluations or ())]
    rows = {r["question_id"]: r for r in _run(placed, "evaluation-pass-rates")}
    assert set(rows) == {a["id"] for _, a in answers}
    for question, row in rows.items():
        mine = [a for _, a in answers if a["id"] == question]
        assert row["calls"] == len(mine)
        assert row["answered"] == sum(1 for a in mine if a.get("answer") is not None)
        assert row["yes"] == sum(1 for a in mine if a.get("answer_bool") is True)


def _priced(placed: Placed, calls: list[Call] | None = None) -> dict[str, float]:
    """Call SID -> conversation cost, of the calls whose cost is known (the definition of "priced")."""
    return {
        c.call_sid: usd
        for c in (placed.calls if calls is None else calls)
        if (usd := placed.conversation_usd(c)) is not None
    }


def test_cost_per_day_averages_over_priced_calls_only(placed: Placed) -> None:
    priced = _priced(placed)
    assert placed.ringing.call_sid not in priced  # still ringing: no cost yet
    assert {placed.forwarded.call_sid, placed.voicemail.call_sid, placed.unanswered.call_sid} == set(priced)
    (day,) = _run(placed, "cost-per-day")
    assert (day["calls"], day["priced_calls"]) == (len(placed.calls), len(priced))
    assert day["total_usd"] > 0  # at least Twilio's minutes of the two answered calls
    assert day["total_usd"] == pytest.approx(round(sum(priced.values()), 4))
    assert day["usd_per_call"] == pytest.approx(round(sum(priced.values()) / len(priced), 4))
    # the parts add up to the total (each conversation's parts include its legs')
    parts = [day[p] for p in day if p.endswith("_usd") and p != "total_usd" and day[p] is not None]
    assert sum(parts) == pytest.approx(day["total_usd"], abs=1e-3)


def test_cost_per_call_counts_dialled_legs_not_records(placed: Placed) -> None:
    priced = _priced(placed)
    rows = {r["call_sid"]: r for r in _run(placed, "cost-per-call")}
    assert set(rows) == set(priced)  # the ringing call has no cost to rank
    for call in placed.calls:
        if call.call_sid in rows:
            row = rows[call.call_sid]
            assert row["legs"] == len(placed.legs_of(call)), call.call_sid
            assert row["total_usd"] == pytest.approx(priced[call.call_sid], abs=1e-6)
            assert row["duration_seconds"] == call.duration_seconds
            assert row["route"] == (call.route or "unrouted")
    assert rows[placed.forwarded.call_sid]["legs"] == 1  # the forward target's leg
    assert rows[placed.voicemail.call_sid]["legs"] == 0


def test_cost_by_route_adds_each_calls_legs(placed: Placed) -> None:
    rows = {r["route"]: r for r in _run(placed, "cost-by-route")}
    by_route: dict[str, list[Call]] = {}
    for call in placed.calls:
        by_route.setdefault(call.route or "unrouted", []).append(call)
    assert set(rows) == set(by_route) == {"forward", "voicemail", "outbound"}
    for route, calls in by_route.items():
        priced = _priced(placed, calls)
        assert (rows[route]["calls"], rows[route]["priced_calls"]) == (len(calls), len(priced)), route
        assert rows[route]["total_usd"] == pytest.approx(round(sum(priced.values()), 4))
        assert rows[route]["usd_per_call"] == pytest.approx(round(sum(priced.values()) / len(priced), 4))
    assert rows["outbound"]["calls"] == 2  # the unanswered call, and the one still ringing
    forwarded = placed.forwarded
    assert forwarded.duration_seconds
    per_minute = rows["forward"]["total_usd"] / forwarded.duration_seconds * 60
    assert rows["forward"]["usd_per_answered_minute"] == pytest.approx(per_minute, abs=1e-3)
    assert rows["outbound"]["usd_per_answered_minute"] is None  # nobody answered: no minute to price


def test_usd_per_call_is_the_same_mean_in_every_cost_query(placed: Placed) -> None:
    """The same calls, the same definition: a day's usd_per_call is the mean of cost-per-call's
    totals and the routes' totals over their priced calls."""
    (day,) = _run(placed, "cost-per-day")
    per_call = _run(placed, "cost-per-call")
    routes = _run(placed, "cost-by-route")
    assert day["usd_per_call"] == pytest.approx(statistics.mean(r["total_usd"] for r in per_call), abs=1e-4)
    over_routes = sum(r["total_usd"] or 0 for r in routes) / sum(r["priced_calls"] for r in routes)
    assert day["usd_per_call"] == pytest.approx(over_routes, abs=1e-4)
    assert sum(r["calls"] for r in routes) == day["calls"]


def test_the_dialled_leg_is_priced_as_outbound_minutes(stack: LocalStack, placed: Placed) -> None:
    (leg,) = placed.legs
    forwarded = placed.forwarded
    assert (leg.direction, leg.status, leg.to_number) == ("outbound-dial", "completed", FORWARD_TO)
    # the dialled party answers after the ring time, and the call ends when the caller hangs up
    assert leg.duration_seconds is not None
    assert forwarded.duration_seconds is not None
    assert 0 < leg.duration_seconds < forwarded.duration_seconds
    assert leg.cost is not None
    assert leg.cost["voice_minutes"] == -(-leg.duration_seconds // 60)
    assert leg.cost["twilio_voice_usd"] == pytest.approx(leg.cost["voice_minutes"] * 0.014)
    assert leg.cost["total_usd"] == pytest.approx(leg.cost["twilio_voice_usd"])  # nothing else is the leg's
    assert (leg.summary, leg.transcript_status, leg.recording) == (None, None, None)
    (row,) = placed.warehouse.query(f"SELECT * FROM call_facts_current WHERE call_sid = '{leg.call_sid}'")
    assert (row["is_leg"], row["parent_call_sid"], row["answered"]) == (True, forwarded.call_sid, True)
    assert row["cost_twilio_voice_usd"] == pytest.approx(leg.cost["twilio_voice_usd"])
    # GET /calls (and so `callscribe show`) lists the leg and prices the whole conversation
    assert stack.urls is not None
    view = get_call(stack.urls.api, forwarded.call_sid)
    assert view is not None
    assert [(v["callSid"], v["cost"]["totalUsd"]) for v in view["legs"]] == [
        (leg.call_sid, pytest.approx(leg.cost["total_usd"]))
    ]
    assert view["conversationCostUsd"] == pytest.approx(_cost(forwarded) + _cost(leg))


def test_calls_with_gaps(placed: Placed) -> None:
    expected = {
        c.call_sid for c in placed.calls if (c.gaps and len(c.gaps) > 0) or (c.live_coverage or 1) < 0.9
    }
    rows = _run(placed, "calls-with-gaps")
    assert {r["call_sid"] for r in rows} == expected


def test_failed_transcripts(placed: Placed) -> None:
    expected = {
        c.call_sid for c in placed.calls if c.status == "completed" and c.transcript_status != "completed"
    }
    assert {r["call_sid"] for r in _run(placed, "failed-transcripts")} == expected


def test_redactions_per_day(placed: Placed) -> None:
    (row,) = _run(placed, "redactions-per-day")
    totals = [
        sum((c.redaction_counts or {}).values()) + sum((c.recording_redaction_counts or {}).values())
        for c in placed.calls
    ]
    assert row["calls_redacted"] == sum(1 for t in totals if t > 0)
    assert row["total"] == sum(totals)


def test_unknown_day_strings_never_reach_the_sql(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a day"):
        Warehouse().derive("2026-13", tmp_path)


def test_sql_the_warehouse_refuses_is_one_line(
    stack: LocalStack, placed: Placed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`callscribe query --sql` on the export above: Trino SQL DuckDB cannot bind is DuckDB's first line,
    not a traceback."""
    state = tmp_path / "state.json"
    cli.StackState.of(stack).save(state)
    monkeypatch.setenv("CALLSCRIBE_LOCAL_STATE", str(state))
    monkeypatch.setenv("COLUMNS", "300")
    assert cli.main(["query", "--sql", "SELECT nope FROM call_facts_current"]) == 2
    said = capsys.readouterr().out.strip().splitlines()
    assert said[-1] == '--sql: Binder Error: Referenced column "nope" not found in FROM clause!'
    assert "Traceback" not in "\n".join(said)
