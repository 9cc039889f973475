"""Context `lambdaTracing`: the Lambdas' X-Ray mode and POWERTOOLS_TRACE_DISABLED move together.

`active` (default) keeps Lambda's own traces with the code's Tracer off (no X-Ray SDK import), `sdk`
turns Powertools' Tracer on as well, `off` records nothing and grants no X-Ray actions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from infra.components.config import ContextError, InfraConfig
from infra.components.functions import LambdaTracing
from tests.infra.conftest import Synth, synthesise
from tests.infra.helpers import actions, function, function_role, role_statements

pytestmark = pytest.mark.infra

HANDLERS = ("functions.webhooks.app.handler", "functions.summaries.app.handler")


@pytest.fixture(scope="module")
def untraced_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesise(Path(tmp_path_factory.mktemp("cdk-untraced")), {"lambdaTracing": "off"})


def xray_actions(synth: Synth, properties: dict[str, Any]) -> set[str]:
    statements = role_statements(synth, function_role(properties))
    return {a for s in statements for a in actions(s) if a.startswith("xray:")}


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        (None, LambdaTracing.ACTIVE),
        ("", LambdaTracing.ACTIVE),
        ("sdk", LambdaTracing.SDK),
        ("OFF", LambdaTracing.OFF),
    ],
)
def test_the_context_value_picks_the_mode(raw: str | None, mode: LambdaTracing) -> None:
    app = cdk.App(context={} if raw is None else {"lambdaTracing": raw})

    assert LambdaTracing(InfraConfig.from_context(app.node).lambda_tracing) is mode


def test_an_unknown_mode_stops_the_synth() -> None:
    with pytest.raises(ContextError, match="lambdaTracing") as raised:
        InfraConfig.from_context(cdk.App(context={"lambdaTracing": "xray"}).node)
    assert "'active', 'sdk' or 'off'" in str(raised.value)


@pytest.mark.parametrize(
    ("mode", "lambda_mode", "trace_disabled"),
    [
        (LambdaTracing.ACTIVE, lambda_.Tracing.ACTIVE, "true"),
        (LambdaTracing.SDK, lambda_.Tracing.ACTIVE, "false"),
        (LambdaTracing.OFF, lambda_.Tracing.DISABLED, "true"),
    ],
)
def test_each_mode_sets_the_function_and_the_code_together(
    mode: LambdaTracing, lambda_mode: lambda_.Tracing, trace_disabled: str
) -> None:
    assert mode.lambda_mode == lambda_mode
    assert mode.environment == {"POWERTOOLS_TRACE_DISABLED": trace_disabled}


@pytest.mark.parametrize("handler", HANDLERS)
def test_by_default_lambda_traces_and_the_code_loads_no_xray_sdk(default_synth: Synth, handler: str) -> None:
    _, props = function(default_synth, handler)

    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert xray_actions(default_synth, props) >= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


@pytest.mark.parametrize("handler", HANDLERS)
def test_tracing_off_records_nothing_and_grants_no_xray(untraced_synth: Synth, handler: str) -> None:
    _, props = function(untraced_synth, handler)

    assert props.get("TracingConfig", {"Mode": "PassThrough"}) == {"Mode": "PassThrough"}
    assert props["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert xray_actions(untraced_synth, props) == set()
