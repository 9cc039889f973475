"""The people's sign-in and the live feed in the template: the Cognito pool, its groups and client, the
AppSync Events API (who may connect, subscribe and publish, the namespace's subscribe handler), and
the call feed on the calls table's stream.

The subscribe handler is also run (node, with `util` stubbed as AppSync's throws) against the
identities AppSync would hand it, so the group check is tested as code, not only as text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from infra.components.feed import SUBSCRIBE_HANDLER
from shared import stack_outputs
from shared.access import SUPERVISORS, VIEWERS
from shared.feed import NAMESPACE
from tests.infra.conftest import Synth
from tests.infra.helpers import actions, function, function_role, logical_id_of, role_statements

pytestmark = pytest.mark.infra

CALL_FEED = "functions.call_feed.app.handler"


def _pool(synth: Synth) -> tuple[str, dict[str, Any]]:
    ((logical_id, pool),) = synth.resources("AWS::Cognito::UserPool").items()
    return logical_id, pool


def _event_api(synth: Synth) -> tuple[str, dict[str, Any]]:
    ((logical_id, api),) = synth.resources("AWS::AppSync::Api").items()
    return logical_id, api["Properties"]


# ---- the user pool ----------------------------------------------------------------------------------


def test_the_pool_takes_no_sign_ups_and_signs_people_in_by_email(synth: Synth) -> None:
    _, pool = _pool(synth)
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["UsernameAttributes"] == ["email"]
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}
    assert props["AutoVerifiedAttributes"] == ["email"]
    # a changed email signs in only once verified
    assert props["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert props["AccountRecoverySetting"] == {
        "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
    }
    template = props["AdminCreateUserConfig"]["InviteMessageTemplate"]
    assert "{username}" in template["EmailMessage"]
    assert "{####}" in template["EmailMessage"]


def test_the_password_policy_is_strong(synth: Synth) -> None:
    _, pool = _pool(synth)
    assert pool["Properties"]["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "PasswordHistorySize": 5,
        "TemporaryPasswordValidityDays": 3,
    }


def test_the_pool_is_retained_on_the_plus_plan_with_threat_protection_as_chosen(
    synth: Synth, default_synth: Synth
) -> None:
    for built, mode in ((default_synth, "AUDIT"), (synth, "ENFORCED")):  # peopleThreatProtection
        _, pool = _pool(built)
        props = pool["Properties"]
        assert (props["UserPoolTier"], props["UserPoolAddOns"]) == ("PLUS", {"AdvancedSecurityMode": mode})
        assert props["MfaConfiguration"] == "OFF"  # the console answers no MFA challenge (docs/deploy.md)
        assert props["DeletionProtection"] == "ACTIVE"
        assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_enforced_threat_protection_blocks_compromised_passwords_and_high_risk(synth: Synth) -> None:
    pool_id, _ = _pool(synth)
    risk = synth.one("AWS::Cognito::UserPoolRiskConfigurationAttachment")
    assert (risk["UserPoolId"], risk["ClientId"]) == ({"Ref": pool_id}, "ALL")
    assert risk["CompromisedCredentialsRiskConfiguration"] == {
        "Actions": {"EventAction": "BLOCK"},
        "EventFilter": ["SIGN_IN", "PASSWORD_CHANGE"],
    }
    actions_by_risk = risk["AccountTakeoverRiskConfiguration"]["Actions"]
    assert {level: action["EventAction"] for level, action in actions_by_risk.items()} == {
        "HighAction": "BLOCK",
        "MediumAction": "NO_ACTION",
        "LowAction": "NO_ACTION",
    }
    assert not any(action["Notify"] for action in actions_by_risk.values())  # no SES sender to notify with


def test_the_two_groups(synth: Synth) -> None:
    pool_id, _ = _pool(synth)
    groups = {
        g["GroupName"]: g
        for g in (r["Properties"] for r in synth.resources("AWS::Cognito::UserPoolGroup").values())
    }
    assert set(groups) == {VIEWERS, SUPERVISORS}
    assert all(group["UserPoolId"] == {"Ref": pool_id} for group in groups.values())


def test_the_console_client_signs_in_with_a_password_and_refreshes_without_a_secret(synth: Synth) -> None:
    pool_id, _ = _pool(synth)
    client = synth.one("AWS::Cognito::UserPoolClient")
    assert client["UserPoolId"] == {"Ref": pool_id}
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlowsUserPoolClient"] is False
    assert client["EnableTokenRevocation"] is True  # the console revokes its refresh token at sign-out
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["TokenValidityUnits"] == {
        "AccessToken": "minutes",
        "IdToken": "minutes",
        "RefreshToken": "minutes",
    }
    assert (client["IdTokenValidity"], client["AccessTokenValidity"], client["RefreshTokenValidity"]) == (
        60,
        60,
        12 * 60,
    )


def test_the_pool_and_client_are_the_outputs_the_cli_reads(synth: Synth) -> None:
    pool_id, _ = _pool(synth)
    client_id = logical_id_of(synth, "AWS::Cognito::UserPoolClient", lambda _: True)
    outputs = synth.raw["Outputs"]
    assert outputs[stack_outputs.USER_POOL_ID]["Value"] == {"Ref": pool_id}
    assert outputs[stack_outputs.USER_POOL_CLIENT_ID]["Value"] == {"Ref": client_id}


# ---- the live feed ----------------------------------------------------------------------------------


def test_people_connect_and_subscribe_with_the_pool_and_only_iam_publishes(synth: Synth) -> None:
    pool_id, _ = _pool(synth)
    _, api = _event_api(synth)
    config = api["EventConfig"]
    assert config["AuthProviders"] == [
        {
            "AuthType": "AMAZON_COGNITO_USER_POOLS",
            "CognitoConfig": {"AwsRegion": "us-east-1", "UserPoolId": {"Ref": pool_id}},
        },
        {"AuthType": "AWS_IAM"},
    ]  # no API key
    assert config["ConnectionAuthModes"] == [{"AuthType": "AMAZON_COGNITO_USER_POOLS"}]
    assert config["DefaultSubscribeAuthModes"] == [{"AuthType": "AMAZON_COGNITO_USER_POOLS"}]
    assert config["DefaultPublishAuthModes"] == [{"AuthType": "AWS_IAM"}]
    assert not synth.resources("AWS::AppSync::ApiKey")
    namespace = synth.one("AWS::AppSync::ChannelNamespace")
    assert namespace["Name"] == NAMESPACE
    assert namespace["SubscribeAuthModes"] == [{"AuthType": "AMAZON_COGNITO_USER_POOLS"}]
    assert namespace["PublishAuthModes"] == [{"AuthType": "AWS_IAM"}]
    assert namespace["CodeHandlers"] == SUBSCRIBE_HANDLER
    assert namespace.get("HandlerConfigs", {}) == {}  # code handlers, no data source


def test_the_feed_logs_errors_to_its_own_log_group(synth: Synth) -> None:
    api_id, api = _event_api(synth)
    log_config = api["EventConfig"]["LogConfig"]
    assert log_config["LogLevel"] == "ERROR"  # never event payloads: they are transcripts
    role = log_config["CloudWatchLogsRoleArn"]["Fn::GetAtt"][0]
    group_id = logical_id_of(
        synth,
        "AWS::Logs::LogGroup",
        lambda p: (
            isinstance(p.get("LogGroupName"), dict) and "/aws/appsync/apis/" in json.dumps(p["LogGroupName"])
        ),
    )
    group = synth.raw["Resources"][group_id]["Properties"]
    assert group["LogGroupName"] == {
        "Fn::Join": ["", ["/aws/appsync/apis/", {"Fn::GetAtt": [api_id, "ApiId"]}]]
    }
    assert group["RetentionInDays"] == 30
    statements = role_statements(synth, role)
    assert {s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"]) for s in statements} == {
        "logs:CreateLogGroup",
        ("logs:CreateLogStream", "logs:PutLogEvents"),
    }
    assert all(group_id in json.dumps(s["Resource"]) for s in statements)
    assert not synth.resources("Custom::LogRetention")


def _publishers(synth: Synth) -> dict[str, Any]:
    """Every role allowed appsync:EventPublish, with the resource it may publish to."""
    found = {}
    for resource in synth.resources("AWS::IAM::Policy").values():
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if "appsync:EventPublish" in actions(statement):
                for role in resource["Properties"]["Roles"]:
                    found[role["Ref"]] = statement["Resource"]
    return found


def test_exactly_the_streamer_and_the_call_feed_publish_to_the_namespace(synth: Synth) -> None:
    api_id, _ = _event_api(synth)
    (task,) = synth.resources("AWS::ECS::TaskDefinition").values()
    task_role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    call_feed_role = function_role(function(synth, CALL_FEED)[1])
    publishers = _publishers(synth)
    assert set(publishers) == {task_role, call_feed_role}
    for resource in publishers.values():
        assert resource == {
            "Fn::Join": [
                "",
                [
                    "arn:aws:appsync:us-east-1:",
                    {"Ref": "AWS::AccountId"},
                    ":apis/",
                    {"Fn::GetAtt": [api_id, "ApiId"]},
                    f"/channelNamespace/{NAMESPACE}",
                ],
            ]
        }


def test_the_publishers_get_the_feeds_url_and_region(synth: Synth) -> None:
    api_id, _ = _event_api(synth)
    url = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [api_id, "Dns.Http"]}]]}
    (task,) = synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = [c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "streamer"]
    streamer = {e["Name"]: e["Value"] for e in container["Environment"]}
    _, call_feed = function(synth, CALL_FEED)
    for environment in (streamer, call_feed["Environment"]["Variables"]):
        assert (environment["FEED_HTTP_URL"], environment["FEED_REGION"]) == (url, "us-east-1")


def test_the_feeds_endpoints_are_the_outputs_the_cli_reads(synth: Synth) -> None:
    api_id, _ = _event_api(synth)
    outputs = synth.raw["Outputs"]
    assert outputs[stack_outputs.FEED_HTTP_HOST]["Value"] == {"Fn::GetAtt": [api_id, "Dns.Http"]}
    assert outputs[stack_outputs.FEED_REALTIME_URL]["Value"] == {
        "Fn::Join": ["", ["wss://", {"Fn::GetAtt": [api_id, "Dns.Realtime"]}, "/event/realtime"]]
    }


# ---- the subscribe handler, as code ------------------------------------------------------------------

# What AppSync Events' APPSYNC_JS runtime refuses (its "supported runtime features"): a handler using
# one would fail every subscribe at run time, never at deploy.
_UNSUPPORTED = {
    "try/catch/finally/throw": r"\b(try|catch|finally|throw)\b",
    "while loops": r"\bwhile\s*\(",
    "classic for loops": r"\bfor\s*\([^)]*;",
    "++ and --": r"\+\+|--",
    "the in operator": r"\bin\s+[A-Za-z_(]",
    "continue": r"\bcontinue\b",
}


def test_the_handler_uses_only_what_appsync_js_runs() -> None:
    code = SUBSCRIBE_HANDLER.replace("for (const", "for_of(const")  # for-of is supported
    assert [name for name, pattern in _UNSUPPORTED.items() if re.search(pattern, code)] == []
    assert code.startswith("import { util } from '@aws-appsync/utils';")
    assert "export function onSubscribe(ctx)" in code
    assert "onPublish" not in code  # events pass through unchanged


_HARNESS = """
const util = { unauthorized() { throw new Error('Unauthorized'); } };
%s
const identities = JSON.parse(process.argv[1]);
const answers = identities.map((identity) => {
  const info = { channel: { path: '/calls/live', segments: ['calls', 'live'] } };
  try { onSubscribe({ identity, info }); return 'ok'; } catch (error) { return error.message; }
});
process.stdout.write(JSON.stringify(answers));
"""

# Identities as AppSync's Cognito auth hands them to the handler (groups from `cognito:groups`).
_IDENTITIES = {
    "a viewer": ({"sub": "s1", "groups": [VIEWERS], "claims": {"cognito:groups": [VIEWERS]}}, "ok"),
    "a supervisor and viewer": ({"sub": "s2", "groups": [SUPERVISORS, VIEWERS]}, "ok"),
    "groups only in the claims": ({"sub": "s3", "claims": {"cognito:groups": [VIEWERS]}}, "ok"),
    "a supervisor who is no viewer": ({"sub": "s4", "groups": [SUPERVISORS]}, "Unauthorized"),
    "no group": ({"sub": "s5", "groups": None, "claims": {}}, "Unauthorized"),
    "an empty list": ({"sub": "s6", "groups": []}, "Unauthorized"),
    "a string, not a list": ({"sub": "s7", "groups": VIEWERS}, "Unauthorized"),
    "a name that contains it": ({"sub": "s8", "groups": [f"x-{VIEWERS}"]}, "Unauthorized"),
    "no identity": (None, "Unauthorized"),
}


def test_the_handler_refuses_every_identity_without_the_viewers_group() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the console's JavaScript tests need it too)")
    body = SUBSCRIBE_HANDLER.replace("import { util } from '@aws-appsync/utils';", "")
    body = body.replace("export function", "function")
    identities = [identity for identity, _ in _IDENTITIES.values()]
    result = subprocess.run(
        [node, "--input-type=module", "-e", _HARNESS % body, json.dumps(identities)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    answers = dict(zip(_IDENTITIES, json.loads(result.stdout), strict=True))
    assert answers == {name: expected for name, (_, expected) in _IDENTITIES.items()}


# ---- the call feed ----------------------------------------------------------------------------------


def test_the_call_feed_reads_the_calls_tables_stream_as_a_live_view(synth: Synth) -> None:
    function_id, _ = function(synth, CALL_FEED)
    calls = logical_id_of(synth, "AWS::DynamoDB::Table", lambda p: "StreamSpecification" in p)
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    dead_letters = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [calls, "StreamArn"]}
    assert {key: mapping[key] for key in (
        "StartingPosition", "BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor",
        "BisectBatchOnFunctionError", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
    )} == {
        "StartingPosition": "LATEST",  # a live view: nothing older than the mapping
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 0,
        "ParallelizationFactor": 1,  # a call's changes in order
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 2,
        "MaximumRecordAgeInSeconds": 600,
    }  # fmt: skip
    # the handler answers {"updates": n}, not per-record failures
    assert "FunctionResponseTypes" not in mapping
    queue_props = synth.raw["Resources"][dead_letters]["Properties"]
    assert queue_props["SqsManagedSseEnabled"] is True
    assert synth.raw["Outputs"]["CallFeedDeadLetterQueueUrl"]["Value"] == {"Ref": dead_letters}


def test_the_call_feed_may_read_the_stream_publish_and_dead_letter_nothing_else(synth: Synth) -> None:
    _, props = function(synth, CALL_FEED)
    assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "callscribe-call-feed"
    calls = logical_id_of(synth, "AWS::DynamoDB::Table", lambda p: "StreamSpecification" in p)
    granted = {
        frozenset(actions(s)): json.dumps(s["Resource"]) for s in role_statements(synth, function_role(props))
    }
    assert set(granted) == {
        frozenset({"logs:CreateLogStream", "logs:PutLogEvents"}),
        frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}),
        frozenset({"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}),
        frozenset({"dynamodb:ListStreams"}),
        frozenset({"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}),
        frozenset({"appsync:EventPublish"}),
    }
    assert granted[
        frozenset({"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"})
    ] == (json.dumps({"Fn::GetAtt": [calls, "StreamArn"]}))
    assert granted[frozenset({"dynamodb:ListStreams"})] == '"*"'  # no resource-level permission exists
    assert (
        "CallFeedDeadLetters"
        in granted[frozenset({"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"})]
    )
