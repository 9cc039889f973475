"""The summaries' two redaction passes: the transcript the model reads (each speaker's lines one
stream, so a card read in groups over several lines is found), and what the model wrote (the
summary's text fields and the evaluation answers), both counted in the summary's `redaction`."""

from __future__ import annotations

from typing import Any

from functions.summaries.llm import StructuredReply, StructuredRequest, T
from functions.summaries.summary import ActionItem, CallSummary, Owner
from tests.unit.summaries.builders import a_summary
from tests.unit.summaries.test_evaluations import (
    EVAL_ENV,
    USAGE,
    KnownUsageModel,
    answering,
    backfill,
    past_calls,
)
from tests.unit.summaries.test_service import rig

GROUPS = [
    (1.0, "inbound", "caller", "my card is 4111,"),
    (3.0, "outbound", "callee", "go on"),
    (4.0, "inbound", "caller", "1111,"),
    (6.0, "inbound", "caller", "1111,"),
    (8.0, "inbound", "caller", "1111"),
    (10.0, "inbound", "caller", "and it expires oh four twenty seven"),
    (12.0, "outbound", "callee", "thanks, that's booked"),
]


def test_a_card_read_in_groups_over_lines_is_redacted_before_the_model_reads_it() -> None:
    r = rig(lines=GROUPS)
    r.create(len(GROUPS))

    [request] = r.model.requests
    assert "4111" not in request.prompt
    assert "1111" not in request.prompt
    assert "oh four twenty seven" not in request.prompt
    assert "caller: and it expires [REDACTED EXPIRY]" in request.prompt
    assert "callee: thanks, that's booked" in request.prompt
    assert r.stored["summary"]["redaction"]["counts"] == {"CARD": 1, "EXPIRY": 1}


def echoing(request: StructuredRequest[Any]) -> CallSummary:
    """A model that repeats what it was told (or was tricked into writing) in every text field."""
    return a_summary(
        summary="The caller paid with card 4111, 1111, 1111, 1111, expiring 04/27, code 123.",
        topics=["card 4111 1111 1111 1111", "billing"],
        caller_intent="Pay; SSN given as 078.05.1120.",
        action_items=[ActionItem(owner=Owner.AGENT, description="Charge 4111-1111-1111-1111 today.")],
    )


def test_what_the_model_wrote_is_redacted_before_it_is_stored() -> None:
    r = rig(lines=[(1.0, "inbound", "caller", "I want to pay my bill")], answer=echoing)
    r.create(1)

    summary = r.stored["summary"]
    assert summary["summary"] == (
        "The caller paid with card [REDACTED CARD], expiring [REDACTED EXPIRY], "
        "code [REDACTED SECURITY_CODE]."
    )
    assert summary["topics"] == ["card [REDACTED CARD]", "billing"]
    assert summary["caller_intent"] == "Pay; SSN given as [REDACTED SSN]."
    assert summary["action_items"][0]["description"] == "Charge [REDACTED CARD] today."
    assert summary["redaction"] == {
        "enabled": True,
        "applied": True,
        "counts": {"CARD": 3, "EXPIRY": 1, "SECURITY_CODE": 1, "SSN": 1},
    }


def test_evaluation_answers_are_redacted_before_they_are_stored() -> None:
    answer = answering({
        "greeted": {"answer": True, "evidence": [1]},
        "note": {"answer": "card 4111111111111111", "evidence": [1]},
        "score": {"answer": 4, "evidence": [1]},
    })  # fmt: skip
    r = rig(lines=[(1.0, "inbound", "caller", "hello")], answer=answer, **EVAL_ENV)
    r.create(1)

    answers = {e["id"]: e for e in r.stored["evaluations"]}
    assert answers["note"]["answer"] == "card [REDACTED CARD]"
    assert answers["score"]["answer_number"] == 4  # a small number is kept
    assert r.stored["summary"]["redaction"]["counts"] == {"CARD": 1}


def test_with_summary_redaction_off_neither_pass_runs() -> None:
    r = rig(
        lines=[(1.0, "inbound", "caller", "I want to pay my bill")], answer=echoing, SUMMARY_REDACTION="false"
    )
    r.create(1)
    assert "4111, 1111" in r.stored["summary"]["summary"]
    assert r.stored["summary"]["redaction"] == {"enabled": False, "applied": False, "counts": {}}


class CardNoteModel(KnownUsageModel):
    """The backfill's model, answering the text question with a card number."""

    def structured(self, request: StructuredRequest[T]) -> StructuredReply[T]:
        self.requests += 1
        value = request.output.model_validate(
            {"evaluations": {"note": {"answer": "4111 1111 1111 1111", "evidence": [1]}}}
        )
        return StructuredReply(value=value, model=self.model, usage=self.usage)


def test_the_backfill_redacts_its_answers_too() -> None:
    calls, store = past_calls(1)
    backfill(calls, store, CardNoteModel(USAGE)).run(["2026-11-20"], 1.0)
    [call] = calls.items.values()
    answers = {e["id"]: e for e in call["evaluations"]}
    assert answers["note"]["answer"] == "[REDACTED CARD]"
