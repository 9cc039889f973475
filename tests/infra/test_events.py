"""Transcript Completed / Reconciled -> summaries, with retries and a dead-letter queue nobody can miss."""

from __future__ import annotations

from typing import Any

import pytest

from shared.events import SOURCE, TranscriptCompleted, TranscriptReconciled
from tests.infra.conftest import Synth
from tests.infra.helpers import function, rule_targeting

pytestmark = pytest.mark.infra


def _summaries_rule(synth: Synth) -> dict[str, Any]:
    """The rule whose target is the summaries function."""
    return rule_targeting(synth, "functions.summaries.app.handler")


def test_rule_matches_transcript_completed_and_reconciled_on_the_product_bus(synth: Synth) -> None:
    rule = _summaries_rule(synth)
    assert rule["EventPattern"] == {
        "source": [SOURCE],
        "detail-type": [TranscriptCompleted.detail_type, TranscriptReconciled.detail_type],
    }
    bus = synth.one("AWS::Events::EventBus")
    assert rule["EventBusName"] == {"Ref": next(iter(synth.resources("AWS::Events::EventBus")))}
    assert bus["Name"] == "Callscribe-events"


def test_rule_targets_summaries_with_retry_policy_and_dlq(synth: Synth) -> None:
    summaries_id, _ = function(synth, "functions.summaries.app.handler")
    rule = _summaries_rule(synth)
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [summaries_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 8}
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    queue = synth.raw["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    # the function's own async failures land in the same queue
    (invoke_config,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": summaries_id}
    ]
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_dead_letter_queues_are_tls_only(synth: Synth) -> None:
    policies = synth.resources("AWS::SQS::QueuePolicy").values()
    # summaries, recordings, the outbox, and the call feed's stream mapping
    assert len(policies) == len(synth.resources("AWS::SQS::Queue")) == 4
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


def test_summaries_concurrency_is_capped_when_the_context_asks(synth: Synth) -> None:
    _, props = function(synth, "functions.summaries.app.handler")
    assert props["ReservedConcurrentExecutions"] == 10


def test_summaries_concurrency_is_unreserved_by_default(default_synth: Synth) -> None:
    # A new account's quota can be 10 in all; reserving any of it would fail the deploy.
    _, props = function(default_synth, "functions.summaries.app.handler")
    assert "ReservedConcurrentExecutions" not in props
