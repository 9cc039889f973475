"""Alarms an on-call person needs, and the dashboard."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["MetricName"] + "/" + a["Properties"]["Namespace"]: a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def test_required_alarms_exist(synth: Synth) -> None:
    alarms = _alarms(synth)
    assert {
        "5XXError/AWS/ApiGateway",
        "Errors/AWS/Lambda",
        "ApproximateNumberOfMessagesVisible/AWS/SQS",
        "UnHealthyHostCount/AWS/ApplicationELB",
        "DeepgramReconnects/callscribe",
    } <= set(alarms)
    lambda_errors = [
        a
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "Errors"
    ]
    assert len(lambda_errors) == 6  # webhooks, summaries, recordings, sweeper, console API, call feed
    assert alarms["ApproximateNumberOfMessagesVisible/AWS/SQS"]["Threshold"] == 1


def test_a_refused_stream_alarms(synth: Synth) -> None:
    """Twilio always sends the token the webhooks signed: one refusal is an attack or a botched
    auth-token rotation, worth a page, never averaged away."""
    alarm = _alarms(synth)["StreamsRefused/callscribe"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "callscribe-streamer"}]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "Sum",
        300,
        1,
        "notBreaching",
    )


def test_a_failed_or_timed_out_export_run_alarms(synth: Synth) -> None:
    alarms = _alarms(synth)
    (machine,) = synth.resources("AWS::StepFunctions::StateMachine")
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        alarm = alarms[f"{metric}/AWS/States"]
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
        assert (alarm["Statistic"], alarm["Threshold"], alarm["TreatMissingData"]) == (
            "Sum",
            1,
            "notBreaching",
        )


def test_alarms_notify_the_topic(synth: Synth) -> None:
    topic_id = next(iter(synth.resources("AWS::SNS::Topic")))
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    subscription = synth.one("AWS::SNS::Subscription")
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "oncall@example.com")


def test_dashboard_shows_calls_streams_and_errors(synth: Synth) -> None:
    import json

    body = json.dumps(synth.one("AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in (
        "ActiveCalls",
        "DeepgramReconnects",
        "SegmentStoreLatency",
        "FramesDropped",
        "StreamsRefused",
        "5XXError",
        "4XXError",
        "Duration",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert metric in body, metric
