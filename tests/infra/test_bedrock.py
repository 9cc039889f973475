"""Claude through Amazon Bedrock (context modelProvider=bedrock): the roles may invoke exactly the two
models the code is told to ask for (the summaries Lambda InvokeModel, the streamer's agent
InvokeModelWithResponseStream), no Anthropic secret exists or is granted, and contexts Bedrock
would refuse at every call stop the synth instead. With the default provider nothing of Bedrock is
in the template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.config import ContextError, InfraConfig
from tests.infra.conftest import Synth
from tests.infra.helpers import function, function_role, role_statements, secret_ids

pytestmark = pytest.mark.infra

SUMMARIES = "functions.summaries.app.handler"


def _profile_arn(profile: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            ["arn:aws:bedrock:us-east-1:", {"Ref": "AWS::AccountId"}, f":inference-profile/{profile}"],
        ]
    }


def _bedrock_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if "bedrock:" in json.dumps(s.get("Action"))]


def _task(synth: Synth) -> dict[str, Any]:
    (task,) = synth.resources("AWS::ECS::TaskDefinition").values()
    return dict(task["Properties"])


def _task_role(synth: Synth) -> str:
    return str(_task(synth)["TaskRoleArn"]["Fn::GetAtt"][0])


def _container_env(synth: Synth) -> dict[str, Any]:
    (container,) = _task(synth)["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def test_the_summaries_role_invokes_its_inference_profile_and_the_model_only_through_it(
    bedrock_synth: Synth,
) -> None:
    statements = role_statements(bedrock_synth, function_role(function(bedrock_synth, SUMMARIES)[1]))
    profile = _profile_arn("us.anthropic.claude-haiku-5-5")
    assert _bedrock_statements(statements) == [
        {"Action": "bedrock:InvokeModel", "Effect": "Allow", "Resource": profile},
        {
            "Action": "bedrock:InvokeModel",
            "Condition": {"ArnEquals": {"bedrock:InferenceProfileArn": profile}},
            "Effect": "Allow",
            "Resource": "arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-5-5",
        },
    ]


def test_the_agent_streams_from_its_global_profile_and_nothing_else(bedrock_synth: Synth) -> None:
    statements = role_statements(bedrock_synth, _task_role(bedrock_synth))
    profile = _profile_arn("global.anthropic.claude-sonnet-5-5")
    assert _bedrock_statements(statements) == [
        {"Action": "bedrock:InvokeModelWithResponseStream", "Effect": "Allow", "Resource": profile},
        {
            "Action": "bedrock:InvokeModelWithResponseStream",
            "Condition": {"ArnEquals": {"bedrock:InferenceProfileArn": profile}},
            "Effect": "Allow",
            "Resource": [  # a global profile's destinations: any Region, and named without one
                "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-5-5",
                "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-5-5",
            ],
        },
    ]


def test_no_other_role_may_invoke_a_model(bedrock_synth: Synth) -> None:
    allowed = {function_role(function(bedrock_synth, SUMMARIES)[1]), _task_role(bedrock_synth)}
    for policy in bedrock_synth.resources("AWS::IAM::Policy").values():
        roles = {r["Ref"] for r in policy["Properties"].get("Roles", [])}
        if _bedrock_statements(policy["Properties"]["PolicyDocument"]["Statement"]):
            assert roles <= allowed, roles


def test_the_code_is_told_the_models_it_was_granted(bedrock_synth: Synth) -> None:
    env = function(bedrock_synth, SUMMARIES)[1]["Environment"]["Variables"]
    assert {k: v for k, v in env.items() if "MODEL" in k or "BEDROCK" in k or "ANTHROPIC" in k} == {
        "MODEL_PROVIDER": "bedrock",
        "BEDROCK_REGION": "us-east-1",
        "SUMMARY_MODEL": "us.anthropic.claude-haiku-5-5",
        "BEDROCK_STRUCTURED_OUTPUT": "tool",
    }
    container = _container_env(bedrock_synth)
    assert {k: v for k, v in container.items() if "MODEL" in k or "BEDROCK" in k or "ANTHROPIC" in k} == {
        "MODEL_PROVIDER": "bedrock",
        "BEDROCK_REGION": "us-east-1",
        "AGENT_MODEL": "global.anthropic.claude-sonnet-5-5",
    }


def test_no_anthropic_secret_is_created_granted_or_output(bedrock_synth: Synth) -> None:
    secret_ids(bedrock_synth, without=("anthropic",))  # exactly the others
    assert not [key for key in bedrock_synth.raw["Outputs"] if key.startswith("Anthropic")]
    template = json.dumps(bedrock_synth.raw)
    assert "ANTHROPIC_SECRET_ARN" not in template
    assert "callscribe: Anthropic" not in template


def test_with_anthropics_api_nothing_of_bedrock_is_in_the_template(
    default_synth: Synth, synth: Synth
) -> None:
    for built in (default_synth, synth):
        template = json.dumps(built.raw)
        assert "bedrock:" not in template
        assert "MODEL_PROVIDER" not in template  # the code's default provider
        assert "anthropic" in secret_ids(built)
    assert _container_env(synth).get("AGENT_MODEL") is None  # unset: the code's default


def _config(**context: Any) -> InfraConfig:
    import aws_cdk as cdk

    return InfraConfig.from_context(cdk.App(context=context).node)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"modelProvider": "bedrock", "anthropicSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:a"},
            "modelProvider=bedrock never reads",
        ),
        ({"bedrockRegion": "eu-west-1"}, "go with modelProvider=bedrock"),
        ({"modelProvider": "bedrock", "bedrockRegion": "Frankfurt"}, "bedrockRegion='Frankfurt'"),
        ({"modelProvider": "vertex"}, "modelProvider='vertex'"),
        (
            {"modelProvider": "bedrock", "summaryModel": "claude-haiku-5-5"},
            "summaryModel.*not a Claude model id",
        ),
        ({"agentModel": "us.anthropic.claude-haiku-5-5"}, "agentModel.*set MODEL_PROVIDER=bedrock"),
        ({"modelProvider": "bedrock", "bedrockStructuredOutput": "json"}, "bedrockStructuredOutput='json'"),
    ],
)
def test_a_context_bedrock_would_refuse_stops_the_synth(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ContextError, match=message):
        _config(**context)


def test_a_geographic_profile_must_be_called_from_its_geography() -> None:
    """The default profile is the US one: an EU Region needs the EU profile (or a global one)."""
    from infra.components.bedrock import BedrockModels

    with pytest.raises(ContextError, match=r"summaryModel='us\.anthropic\.claude-haiku-5-5'.*eu-west-1"):
        BedrockModels.of(_config(modelProvider="bedrock"), "eu-west-1")
    eu = _config(
        modelProvider="bedrock",
        summaryModel="eu.anthropic.claude-haiku-5-5",
        agentModel="global.anthropic.claude-haiku-5-5",
    )
    models = BedrockModels.of(eu, "eu-central-1")
    assert models is not None
    assert (models.region, models.summary.model_id) == ("eu-central-1", "eu.anthropic.claude-haiku-5-5")
    assert BedrockModels.of(_config(), "eu-west-1") is None  # Anthropic's API: nothing to grant


def test_an_in_region_foundation_model_is_one_statement_in_the_bedrock_region() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    from infra.components.bedrock import INVOKE, BedrockModels

    app = cdk.App(context={"@aws-cdk/core:enablePartitionLiterals": True})
    stack = cdk.Stack(app, "S", env=cdk.Environment(region="us-east-1"))
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    model = "anthropic.claude-haiku-4-5-20251001-v1:0"
    config = _config(modelProvider="bedrock", bedrockRegion="us-west-2", summaryModel=model)
    models = BedrockModels.of(config, stack.region)
    assert models is not None
    models.grant_invoke(stack, role, models.summary, [INVOKE])
    template = app.synth().get_stack_by_name("S").template
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "bedrock:InvokeModel",
            "Effect": "Allow",
            "Resource": f"arn:aws:bedrock:us-west-2::foundation-model/{model}",
        }
    ]
