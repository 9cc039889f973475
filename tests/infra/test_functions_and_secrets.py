"""Lambdas: the tested runtime, arm64, their own roles, and only the secrets each one needs."""

from __future__ import annotations

import json

import pytest

from infra.components.bundling import LAMBDA_RUNTIME
from tests.infra.conftest import FULL_CONTEXT, Synth
from tests.infra.helpers import actions, function, function_role, refers_to, role_statements, secret_ids

pytestmark = pytest.mark.infra

WEBHOOKS = "functions.webhooks.app.handler"
SUMMARIES = "functions.summaries.app.handler"


@pytest.mark.parametrize("handler", [WEBHOOKS, SUMMARIES])
def test_function_runtime_architecture_tracing_logs(synth: Synth, handler: str) -> None:
    _, props = function(synth, handler)
    assert props["Runtime"] == LAMBDA_RUNTIME.name == "python3.11"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "callscribe"
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert synth.raw["Resources"][log_group]["Properties"]["RetentionInDays"] == 30


def test_contract_environment(synth: Synth) -> None:
    _, webhooks = function(synth, WEBHOOKS)
    env = webhooks["Environment"]["Variables"]
    assert {
        "CALLS_TABLE",
        "TRANSCRIPTS_TABLE",
        "STREAM_URL",
        "WEBHOOK_BASE_URL",
        "TWILIO_API_BASE_URL",
        "TWILIO_SECRET_ARN",
        "CALL_ROUTES",
    } <= set(env)
    assert env["STREAM_URL"] == "wss://stream.example.com/media"
    assert env["WEBHOOK_BASE_URL"] == "https://hooks.example.com"
    assert json.loads(env["CALL_ROUTES"]) == FULL_CONTEXT["callRoutes"]
    assert env["LISTEN_ALLOWED_URLS"] == "https://voice.team.example/twiml/*"  # checked at synth
    assert env["POWERTOOLS_SERVICE_NAME"] == "callscribe-webhooks"
    assert env["TWILIO_FROM_NUMBER"] == "+15550100"
    assert env["OUTBOUND_ALLOWED_PREFIXES"] == "+1,+44"  # checked at synth, as the webhooks read it
    assert "EVENT_BUS_NAME" not in env  # the request path only writes: the outbox announces
    _, summaries = function(synth, SUMMARIES)
    env = summaries["Environment"]["Variables"]
    assert {
        "CALLS_TABLE",
        "TRANSCRIPTS_TABLE",
        "IDEMPOTENCY_TABLE",
        "ANTHROPIC_SECRET_ARN",
    } <= set(env)
    assert "EVENT_BUS_NAME" not in env
    assert env["SUMMARY_MODEL"] == "claude-test-model"


def test_no_secret_value_in_any_environment(synth: Synth) -> None:
    """Secrets travel as ARNs (Refs to the secret resources), never as values."""
    secrets = set(secret_ids(synth).values())
    environments = [
        f["Properties"].get("Environment", {}).get("Variables", {})
        for f in synth.resources("AWS::Lambda::Function").values()
    ]
    for task in synth.resources("AWS::ECS::TaskDefinition").values():
        for container in task["Properties"]["ContainerDefinitions"]:
            assert "Secrets" not in container
            environments.append({e["Name"]: e["Value"] for e in container["Environment"]})
    for env in environments:
        for name, value in env.items():
            assert not any(word in name for word in ("TOKEN", "API_KEY", "PASSWORD"))
            if name.endswith("_SECRET_ARN"):
                assert value in [{"Ref": s} for s in secrets]


def test_no_tier_in_the_request_path_may_put_events(synth: Synth) -> None:
    """The call's events come from the outbox; webhooks and summaries only write the record."""
    for handler in (WEBHOOKS, SUMMARIES):
        statements = role_statements(synth, function_role(function(synth, handler)[1]))
        assert not any(a.startswith("events:") for s in statements for a in actions(s)), handler


def test_webhooks_reads_only_the_twilio_secret(synth: Synth) -> None:
    secrets = secret_ids(synth)
    statements = role_statements(synth, function_role(function(synth, WEBHOOKS)[1]))
    assert refers_to(statements, secrets["twilio"])
    assert not refers_to(statements, secrets["deepgram"])
    assert not refers_to(statements, secrets["anthropic"])


def test_summaries_reads_only_the_anthropic_secret(synth: Synth) -> None:
    secrets = secret_ids(synth)
    statements = role_statements(synth, function_role(function(synth, SUMMARIES)[1]))
    assert refers_to(statements, secrets["anthropic"])
    assert not refers_to(statements, secrets["twilio"])
    assert not refers_to(statements, secrets["deepgram"])


def test_function_roles_have_no_managed_policies_and_no_admin_actions(synth: Synth) -> None:
    for handler in (WEBHOOKS, SUMMARIES):
        role_id = function_role(function(synth, handler)[1])
        role = synth.raw["Resources"][role_id]["Properties"]
        assert "ManagedPolicyArns" not in role
        for statement in role_statements(synth, role_id):
            assert not any(a == "*" or a.endswith(":*") for a in actions(statement)), statement


def test_only_summaries_touches_the_idempotency_table(synth: Synth) -> None:
    idempotency = next(
        k
        for k, v in synth.resources("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == "id"
    )
    assert refers_to(role_statements(synth, function_role(function(synth, SUMMARIES)[1])), idempotency)
    assert not refers_to(role_statements(synth, function_role(function(synth, WEBHOOKS)[1])), idempotency)


def test_secrets_are_placeholders_and_retained(synth: Synth) -> None:
    secrets = secret_ids(synth)
    for name, logical_id in secrets.items():
        resource = synth.raw["Resources"][logical_id]
        assert resource["DeletionPolicy"] == "Retain"
        if name == "agent_tools":
            continue  # generated by Secrets Manager, not pasted by the operator
        assert set(json.loads(resource["Properties"]["SecretString"]).values()) == {"REPLACE_ME"}


def test_agent_tools_key_is_generated_and_only_the_streamer_reads_it(synth: Synth) -> None:
    secrets = secret_ids(synth)
    generated = synth.raw["Resources"][secrets["agent_tools"]]["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "signing_secret"
    for handler in (WEBHOOKS, SUMMARIES):
        statements = role_statements(synth, function_role(function(synth, handler)[1]))
        assert not refers_to(statements, secrets["agent_tools"])


def _table_actions(synth: Synth, role_id: str, key_attribute: str) -> set[str]:
    """Every DynamoDB action a role may take on the table whose hash key is `key_attribute`."""
    table = next(
        k
        for k, v in synth.resources("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == key_attribute
        and (key_attribute != "call_sid" or len(v["Properties"]["KeySchema"]) == 1)
    )
    granted: set[str] = set()
    for statement in role_statements(synth, role_id):
        if refers_to([statement], table):
            granted |= {a for a in actions(statement) if a.startswith("dynamodb:")}
    return granted


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (WEBHOOKS, {"dynamodb:GetItem", "dynamodb:UpdateItem"}),
        (SUMMARIES, {"dynamodb:GetItem", "dynamodb:UpdateItem"}),
    ],
)
def test_functions_get_only_the_call_record_actions_their_code_uses(
    synth: Synth, handler: str, expected: set[str]
) -> None:
    # No PutItem/DeleteItem/BatchWriteItem: a bug cannot blank or delete a call record.
    assert _table_actions(synth, function_role(function(synth, handler)[1]), "call_sid") == expected
