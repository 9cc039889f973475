"""Evaluation questions end to end on real local servers: the summaries handler answers them in its
one request (the offline summariser behind the real SDK, marked `offline`), and the backfill answers
past calls on moto through the Anthropic stand-in, stopping before its cap."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from callscribe_local.anthropic_replies import RecordedRequest, Reply
from callscribe_local.anthropic_server import AnthropicServer
from callscribe_local.aws_local import LocalAws
from callscribe_local.offline_summarizer import OfflineSummarizer
from callscribe_local.stack import DEMO_EVALUATION_QUESTIONS
from functions.summaries.backfill import run_from_env
from functions.summaries.pricing import request_cost
from functions.summaries.summary import TokenUsage
from shared.dal.calls.core import DynamoCallReader
from shared.dal.tables import calls_model
from shared.evaluations import questions_version
from tests.integration.test_summaries_handler import CONVERSATION, store_call
from tests.support.summaries_lambda import Summaries
from tests.unit.summaries.builders import transcript_completed_event

pytestmark = pytest.mark.integration

API_KEY = "sk-ant-test-key"
USAGE = {"input_tokens": 1200, "output_tokens": 150}


class PricedOffline:
    """The offline summariser's answers, reported as a priced model with a known usage, so the
    backfill's spending is exact and its cap bites."""

    def __init__(self) -> None:
        self.offline = OfflineSummarizer()

    def __call__(self, request: RecordedRequest) -> Reply:
        answer = self.offline(request)
        return Reply.json(answer.structured, model="claude-haiku-5-5-20261007", usage=USAGE)


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer(OfflineSummarizer(), api_key=API_KEY) as running:
        yield running


@pytest.fixture
def env(local_stack: LocalAws, server: AnthropicServer) -> dict[str, str]:
    return {
        **local_stack.names.env(),
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": server.base_url,
        "ANTHROPIC_MAX_RETRIES": "0",
        "EVALUATION_QUESTIONS": DEMO_EVALUATION_QUESTIONS,
    }


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def test_the_summary_request_answers_the_questions_offline_marked(
    local_stack: LocalAws, server: AnthropicServer, env: dict[str, str]
) -> None:
    summaries = Summaries({**os.environ, **env})
    sid = new_sid()
    store_call(local_stack, sid, CONVERSATION)
    summaries.invoke(transcript_completed_event(sid, len(CONVERSATION)))

    [request] = server.requests  # one request carries the summary and the questions
    assert "greeted" in json.dumps(request.output_schema)
    call = DynamoCallReader(local_stack.names.calls_table).get(sid)
    assert call is not None
    assert call.evaluations_version == questions_version(summaries.settings().evaluations.questions)
    answers = {e["id"]: e for e in call.evaluations or ()}
    assert set(answers) == {"greeted", "reason"}
    assert {e["answered_by"] for e in answers.values()} == {"offline"}
    # keywords, not judgement: line 1's "Hi" is a greeting word (said by the caller: the offline
    # answerer does not weigh who spoke), and it names the appointment
    assert answers["greeted"]["answer"] == "yes"
    assert answers["greeted"]["evidence"] == ["0000001000#inbound"]
    assert answers["reason"]["answer"] == "appointment"
    assert answers["reason"]["evidence"][0].endswith("#inbound")


def past_call(stack: LocalAws, day: str) -> str:
    sid = new_sid()
    store_call(stack, sid, CONVERSATION)
    item = calls_model(stack.names.calls_table).get(sid)
    item.update(
        actions=[
            calls_model(stack.names.calls_table).call_date.set(day),
            calls_model(stack.names.calls_table).started_at.set(f"{day}T{uuid.uuid4().int % 24:02d}:00:00Z"),
            calls_model(stack.names.calls_table).summary.set(
                {"summary": "before the questions", "model": "x"}
            ),
        ]
    )
    return sid


def test_the_backfill_answers_past_calls_and_stops_before_its_cap(
    local_stack: LocalAws, server: AnthropicServer, env: dict[str, str]
) -> None:
    server.responder = PricedOffline()
    # a day of its own (years back), so other tests' calls in the session's moto are not in it
    days_ago = 4000 + uuid.uuid4().int % 1000
    day = datetime.fromordinal(datetime.now(UTC).date().toordinal() - days_ago).date().isoformat()
    sids = [past_call(local_stack, day) for _ in range(5)]
    environ = {**env, "SUMMARY_MODEL": "claude-haiku-5-5"}

    one = request_cost("claude-haiku-5-5", TokenUsage(requests=1, **USAGE))
    assert one is not None
    dry = run_from_env(1.0, days_ago, days_ago, dry_run=True, environ=environ)
    assert (dry.answered, dry.spent_usd, len(server.requests)) == (5, 0, 0)

    cap = dry.worst_case_usd / 5 + 2 * one  # room for the first requests, never for all five
    report = run_from_env(cap, days_ago, days_ago, dry_run=False, environ=environ)
    assert report.stopped == "cap"
    assert 0 < report.answered < 5
    assert len(server.requests) == report.answered
    assert report.spent_usd == pytest.approx(report.answered * one)
    assert report.spent_usd <= cap

    rest = run_from_env(1.0, days_ago, days_ago, dry_run=False, environ=environ)
    assert (rest.current, rest.answered, rest.stopped) == (report.answered, 5 - report.answered, "done")
    calls = DynamoCallReader(local_stack.names.calls_table)
    for sid in sids:
        call = calls.get(sid)
        assert call is not None
        assert call.summary == {"summary": "before the questions", "model": "x"}  # the summary stays
        assert {e["answered_by"] for e in call.evaluations or ()} == {"claude-haiku-5-5-20261007"}
    again = run_from_env(1.0, days_ago, days_ago, dry_run=False, environ=environ)
    assert (again.current, again.answered, again.spent_usd) == (5, 0, 0)
