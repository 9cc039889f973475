"""The people's read API in the template: every method behind the people's Cognito authoriser, the
stage the console's `/api/*` maps onto, and a Lambda role that is exactly its ports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.console_api.app import RESOURCES
from infra.components.people_api import BURST_LIMIT, LIST_QUERY, RATE_LIMIT
from shared.dal.tables import CALLS_BY_DAY_INDEX
from tests.infra.conftest import Synth
from tests.infra.helpers import (
    actions,
    api_methods,
    api_resources,
    function,
    function_role,
    logical_id_of,
    rest_api,
    role_statements,
)

pytestmark = pytest.mark.infra

PEOPLE_API = "Callscribe-people"
CONSOLE_API = "functions.console_api.app.handler"
URL_SUFFIX = {"Ref": "AWS::URLSuffix"}


def _api(synth: Synth) -> str:
    return rest_api(synth, PEOPLE_API)


def _one(synth: Synth, kind: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, props),) = api_resources(synth, kind, _api(synth)).items()
    return logical_id, props


def test_the_routes_are_the_lambdas_and_every_method_needs_a_pool_token(synth: Synth) -> None:
    authorizer_id, authorizer = _one(synth, "AWS::ApiGateway::Authorizer")
    pool = logical_id_of(synth, "AWS::Cognito::UserPool", lambda _: True)
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["ProviderARNs"] == [{"Fn::GetAtt": [pool, "Arn"]}]
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    function_id, _ = function(synth, CONSOLE_API)
    methods = api_methods(synth, _api(synth))
    assert set(methods) == {("GET", path) for path in RESOURCES}
    for method in methods.values():
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["AuthorizerId"] == {"Ref": authorizer_id}
        assert "AuthorizationScopes" not in method  # no scopes: the authoriser takes ID tokens
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert function_id in json.dumps(method["Integration"]["Uri"])


def test_parameters_are_declared_and_validated(synth: Synth) -> None:
    validator_id, validator = _one(synth, "AWS::ApiGateway::RequestValidator")
    assert validator["ValidateRequestParameters"] is True
    methods = api_methods(synth, _api(synth))
    assert all(m["RequestValidatorId"] == {"Ref": validator_id} for m in methods.values())
    assert methods[("GET", "/calls")]["RequestParameters"] == {
        f"method.request.querystring.{name}": False for name in LIST_QUERY
    }
    assert methods[("GET", "/calls/{callSid}")]["RequestParameters"] == {
        "method.request.path.callSid": True,
        "method.request.querystring.limit": False,
        "method.request.querystring.cursor": False,
    }
    assert methods[("GET", "/calls/{callSid}/recording")]["RequestParameters"] == {
        "method.request.path.callSid": True
    }


def test_the_stage_is_api_throttled_logged_and_traced(synth: Synth) -> None:
    _, stage = _one(synth, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == "api"  # CloudFront's /api/* forwards the path as it is
    assert stage["TracingEnabled"] is True
    assert "DestinationArn" in stage["AccessLogSetting"]
    line = json.loads(stage["AccessLogSetting"]["Format"])  # who read which call, never a phone number
    assert (line["sub"], line["path"], line["status"]) == (
        "$context.authorizer.claims.sub",
        "$context.path",
        "$context.status",
    )
    assert "querystring" not in json.dumps(line).lower()
    (settings,) = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (RATE_LIMIT, BURST_LIMIT)
    assert (settings["LoggingLevel"], settings["DataTraceEnabled"]) == ("ERROR", False)
    api = synth.raw["Resources"][_api(synth)]["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    url = synth.raw["Outputs"]["PeopleApiUrl"]["Value"]["Fn::Join"][1]
    assert "".join(part if isinstance(part, str) else "<token>" for part in url) == (
        "https://<token>.execute-api.us-east-1.<token>/<token>/"  # the stage's name is a reference
    )
    assert url[-2] == {"Ref": _one(synth, "AWS::ApiGateway::Stage")[0]}


def test_the_stage_waits_for_the_accounts_logging_role(synth: Synth) -> None:
    """Access and execution logs need the region's API Gateway CloudWatch role, which the webhooks API
    sets: created in the same deploy, the stage must come after it."""
    stage_id, _ = _one(synth, "AWS::ApiGateway::Stage")
    account = logical_id_of(synth, "AWS::ApiGateway::Account", lambda _: True)
    assert account in synth.raw["Resources"][stage_id]["DependsOn"]


def test_the_gateways_own_answers_are_never_cached(synth: Synth) -> None:
    responses = {
        props["ResponseType"]: props
        for props in api_resources(synth, "AWS::ApiGateway::GatewayResponse", _api(synth)).values()
    }
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX"}  # the authoriser's 401 is a 4XX
    for response in responses.values():
        assert response["ResponseParameters"] == {"gatewayresponse.header.Cache-Control": "'no-store'"}


def test_the_lambda_may_do_exactly_what_its_ports_do(synth: Synth) -> None:
    _, props = function(synth, CONSOLE_API)
    assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "callscribe-console-api"
    calls = logical_id_of(synth, "AWS::DynamoDB::Table", lambda p: "StreamSpecification" in p)
    transcripts = logical_id_of(
        synth,
        "AWS::DynamoDB::Table",
        lambda p: len(p["KeySchema"]) == 2 and p["KeySchema"][1]["AttributeName"] == "segment_key",
    )
    bucket = logical_id_of(synth, "AWS::S3::Bucket", lambda p: "KMSMasterKeyID" in json.dumps(p))
    key = logical_id_of(synth, "AWS::KMS::Key", lambda p: "recordings" in p.get("Description", ""))
    variables = props["Environment"]["Variables"]
    assert (variables["CALLS_TABLE"], variables["TRANSCRIPTS_TABLE"], variables["RECORDINGS_BUCKET"]) == (
        {"Ref": calls},
        {"Ref": transcripts},
        {"Ref": bucket},
    )
    statements = role_statements(synth, function_role(props))
    granted = sorted(
        (sorted(actions(s)), json.dumps(s["Resource"]), json.dumps(s.get("Condition"))) for s in statements
    )
    expected = [
        (["dynamodb:GetItem"], {"Fn::GetAtt": [calls, "Arn"]}, None),
        (
            ["dynamodb:Query"],
            {"Fn::Join": ["", [{"Fn::GetAtt": [calls, "Arn"]}, f"/index/{CALLS_BY_DAY_INDEX}"]]},
            None,
        ),
        (["dynamodb:Query"], {"Fn::GetAtt": [transcripts, "Arn"]}, None),
        (["s3:GetObject"], {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/recordings/*"]]}, None),
        (
            ["kms:Decrypt"],
            {"Fn::GetAtt": [key, "Arn"]},
            {
                "StringEquals": {
                    "kms:ViaService": {"Fn::Join": ["", ["s3.us-east-1.", {"Ref": "AWS::URLSuffix"}]]}
                }
            },
        ),
    ]
    own = [s for s in granted if not s[0][0].startswith(("logs:", "xray:"))]
    assert own == sorted((a, json.dumps(r), json.dumps(c)) for a, r, c in expected)
    assert {a for s in granted for a in s[0] if a.startswith(("logs:", "xray:"))} == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
