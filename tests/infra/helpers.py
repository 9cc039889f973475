"""Small readers over a synthesised template (plain dicts), shared by the infra tests."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synth


def function(synth: Synth, handler: str) -> tuple[str, dict[str, Any]]:
    """(logical id, properties) of the Lambda function with this handler."""
    for logical_id, resource in synth.resources("AWS::Lambda::Function").items():
        if resource["Properties"].get("Handler") == handler:
            return logical_id, resource["Properties"]
    raise AssertionError(f"no function with handler {handler}")


def logical_id_of(synth: Synth, kind: str, predicate: Any) -> str:
    matches = [k for k, v in synth.resources(kind).items() if predicate(v["Properties"])]
    assert len(matches) == 1, f"{kind}: expected one match, found {matches}"
    return matches[0]


def role_statements(synth: Synth, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy attached to the role."""
    statements: list[dict[str, Any]] = []
    for resource in synth.resources("AWS::IAM::Policy").values():
        roles = resource["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def function_role(properties: dict[str, Any]) -> str:
    return str(properties["Role"]["Fn::GetAtt"][0])


def refers_to(statements: list[dict[str, Any]], logical_id: str) -> bool:
    return logical_id in json.dumps(statements)


SECRET_DESCRIPTIONS = {
    "twilio": "callscribe: Twilio",
    "deepgram": "callscribe: Deepgram",
    "anthropic": "callscribe: Anthropic",
    "agent_tools": "callscribe: HMAC key",
}


def secret_ids(synth: Synth, *, without: tuple[str, ...] = ()) -> dict[str, str]:
    """Secret logical ids by purpose (the three vendors and the agent tools' HMAC key), told apart by
    their description; exactly these, less `without` (the Anthropic one on Bedrock)."""
    found = {}
    prefixes = {name: prefix for name, prefix in SECRET_DESCRIPTIONS.items() if name not in without}
    for logical_id, resource in synth.resources("AWS::SecretsManager::Secret").items():
        description = resource["Properties"]["Description"]
        for name, prefix in SECRET_DESCRIPTIONS.items():
            if description.startswith(prefix):
                found[name] = logical_id
    assert set(found) == set(prefixes), found
    return found


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def rule_targeting(synth: Synth, handler: str) -> dict[str, Any]:
    """Properties of the one EventBridge rule whose target is the function with this handler."""
    function_id, _ = function(synth, handler)
    (rule,) = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r["Properties"].get("Targets", []))
    ]
    return dict(rule)


def rest_api(synth: Synth, name: str) -> str:
    """Logical id of the REST API named `name` (`Callscribe-webhooks`, `Callscribe-people`)."""
    return logical_id_of(synth, "AWS::ApiGateway::RestApi", lambda p: p.get("Name") == name)


def api_resources(synth: Synth, kind: str, api: str) -> dict[str, dict[str, Any]]:
    """Properties of every `kind` (a stage, a validator, a method...) of the REST API `api`."""
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in synth.resources(kind).items()
        if resource["Properties"].get("RestApiId") == {"Ref": api}
    }


def api_methods(synth: Synth, api: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The REST API's methods by (HTTP method, full resource path)."""
    resources = api_resources(synth, "AWS::ApiGateway::Resource", api)
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            props = resources[logical_id]
            parent = props["ParentId"]
            prefix = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
            paths[logical_id] = f"{prefix}/{props['PathPart']}"
        return paths[logical_id]

    return {
        (props["HttpMethod"], path_of(props["ResourceId"]["Ref"])): props
        for props in api_resources(synth, "AWS::ApiGateway::Method", api).values()
    }


def grants_by_resource(synth: Synth, handler: str) -> dict[str, set[str]]:
    """Action set per resource (as JSON) of every statement of the function's role, minus the ones
    every function gets (its log group, X-Ray)."""
    granted: dict[str, set[str]] = {}
    for statement in role_statements(synth, function_role(function(synth, handler)[1])):
        found = actions(statement)
        if found <= {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        }:
            continue
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            granted.setdefault(json.dumps(resource, sort_keys=True), set()).update(found)
    return granted
