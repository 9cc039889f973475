"""Stack outputs: what an operator's commands take. Every output has a plain key that docs/deploy.md
lists, every `$(out Key)` in docs/ names a real one, and the values are the resources the docs'
commands act on (the streamer's cluster and service, the export workflow, each secret by a name a
person can find, each Lambda, the dead-letter queues, the tables, the buckets)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import REPO_ROOT, Synth
from tests.infra.helpers import function, logical_id_of, secret_ids

pytestmark = pytest.mark.infra

DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"
_OUT = re.compile(r"\$\(out (\w+)\)")


def _documented() -> set[str]:
    """The keys of the table under docs/deploy.md's "## Stack outputs"."""
    text = DEPLOY_DOC.read_text()
    section = text.split("\n## Stack outputs\n", 1)[1].split("\n## ", 1)[0]
    first_cells = re.findall(r"^\| (`[^|]+) \|", section, flags=re.MULTILINE)
    return {key for cell in first_cells for key in re.findall(r"`(\w+)`", cell)}


def _keys(*synths: Synth) -> set[str]:
    return {key for built in synths for key in built.raw["Outputs"]}


def test_every_output_is_documented_and_every_documented_output_exists(
    synth: Synth, default_synth: Synth, plain_alb_synth: Synth
) -> None:
    produced = _keys(synth, default_synth, plain_alb_synth)
    documented = _documented()
    assert produced - documented == set(), "add these to docs/deploy.md, Stack outputs"
    assert documented - produced == set(), "docs/deploy.md lists outputs the stack does not have"


def test_output_keys_are_plain_names(synth: Synth, default_synth: Synth) -> None:
    """A CfnOutput declared inside a construct gets a hashed suffix nobody can type."""
    for key in _keys(synth, default_synth):
        assert not re.search(r"[0-9A-F]{8}$", key), key


def test_every_out_reference_in_the_docs_names_an_output(
    synth: Synth, default_synth: Synth, plain_alb_synth: Synth
) -> None:
    produced = _keys(synth, default_synth, plain_alb_synth)
    referenced = {
        (doc.name, key)
        for doc in sorted((REPO_ROOT / "docs").glob("*.md"))
        for key in _OUT.findall(doc.read_text())
    }
    assert {key for _, key in referenced} >= {
        "StreamerClusterName",
        "StreamerServiceName",
        "TwilioSecretName",
    }
    assert {(doc, key) for doc, key in referenced if key not in produced} == set()


def _commands(doc: Path) -> list[str]:
    """The `aws …` lines of a doc's fenced bash blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), flags=re.DOTALL):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            if command.lstrip().startswith("aws "):
                commands.append(command.split(" #", 1)[0])
    return commands


def test_the_deploy_docs_commands_take_outputs_not_placeholders() -> None:
    """Every resource an `aws` command in docs/deploy.md names comes from an output (or is a value
    only the operator has: a secret, in single quotes)."""
    commands = _commands(DEPLOY_DOC)
    assert len(commands) >= 10
    for command in commands:
        unquoted = re.sub(r"'[^']*'", "''", command)
        assert "…" not in unquoted, command
        assert not re.search(r"<[^>]+>", unquoted), command


def _output(built: Synth, key: str) -> Any:
    return built.raw["Outputs"][key]["Value"]


def test_the_streamer_outputs_what_update_service_takes(default_synth: Synth) -> None:
    cluster = logical_id_of(default_synth, "AWS::ECS::Cluster", lambda _: True)
    service = logical_id_of(default_synth, "AWS::ECS::Service", lambda _: True)
    assert _output(default_synth, "StreamerClusterName") == {"Ref": cluster}
    assert _output(default_synth, "StreamerServiceName") == {"Fn::GetAtt": [service, "Name"]}


def test_the_export_workflow_and_the_dashboard_are_outputs(default_synth: Synth) -> None:
    workflow = logical_id_of(default_synth, "AWS::StepFunctions::StateMachine", lambda _: True)
    assert _output(default_synth, "AnalystExportWorkflowArn") == {"Ref": workflow}
    dashboard = logical_id_of(default_synth, "AWS::CloudWatch::Dashboard", lambda _: True)
    assert _output(default_synth, "DashboardName") == {"Ref": dashboard}
    assert default_synth.raw["Resources"][dashboard]["Properties"]["DashboardName"] == "Callscribe-operations"
    assert _output(default_synth, "DashboardUrl") == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#dashboards/dashboard/Callscribe-operations"
    )


@pytest.mark.parametrize("name", ["webhooks", "summaries", "recordings", "sweeper"])
def test_each_lambda_outputs_its_name_and_log_group(default_synth: Synth, name: str) -> None:
    logical_id, props = function(default_synth, f"functions.{name}.app.handler")
    key = name.capitalize()
    assert _output(default_synth, f"{key}FunctionName") == {"Ref": logical_id}
    assert _output(default_synth, f"{key}LogGroupName") == props["LoggingConfig"]["LogGroup"]


def test_secrets_are_named_for_people_and_output_by_name_and_arn(default_synth: Synth) -> None:
    names = {
        "twilio": "Twilio",
        "deepgram": "Deepgram",
        "anthropic": "Anthropic",
        "agent_tools": "AgentTools",
    }
    for purpose, logical_id in secret_ids(default_synth).items():
        expected = f"Callscribe/{purpose.replace('_', '-')}"
        assert default_synth.raw["Resources"][logical_id]["Properties"]["Name"] == expected
        assert _output(default_synth, f"{names[purpose]}SecretName") == expected
        assert _output(default_synth, f"{names[purpose]}SecretArn") == {"Ref": logical_id}
    origin = logical_id_of(
        default_synth,
        "AWS::SecretsManager::Secret",
        lambda p: p["Description"].startswith("callscribe: X-Origin"),
    )
    assert default_synth.raw["Resources"][origin]["Properties"]["Name"] == "Callscribe/stream-origin-value"
    assert _output(default_synth, "StreamOriginSecretArn") == {"Ref": origin}


def test_imported_secrets_keep_their_context_keys_and_are_output_too() -> None:
    """`twilioSecretArn` & co. still import an existing secret; its outputs are the given ARN and the
    name in it, and the secrets not imported are named after the stack."""
    import aws_cdk as cdk

    from infra.components.config import InfraConfig
    from infra.components.secrets import ProductSecrets

    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/twilio-prod-AbCdEf"
    app = cdk.App(context={"twilioSecretArn": arn, "stackName": "Calls-Eu"})
    stack = cdk.Stack(app, "Calls-Eu", env=cdk.Environment(region="us-east-1"))
    ProductSecrets(stack, "Secrets", config=InfraConfig.from_context(app.node))
    template = app.synth().get_stack_by_name("Calls-Eu").template
    outputs = {key: value["Value"] for key, value in template["Outputs"].items()}
    assert outputs["TwilioSecretArn"] == arn
    assert outputs["TwilioSecretName"] == "team/twilio-prod"
    secrets = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::SecretsManager::Secret"
    ]
    assert sorted(s["Name"] for s in secrets) == [
        "Calls-Eu/agent-tools",
        "Calls-Eu/anthropic",
        "Calls-Eu/deepgram",
    ]
    assert outputs["DeepgramSecretName"] == "Calls-Eu/deepgram"


def test_the_cloudfront_path_outputs_what_rotating_the_origin_secret_takes(
    default_synth: Synth, synth: Synth
) -> None:
    rule = logical_id_of(default_synth, "AWS::ElasticLoadBalancingV2::ListenerRule", lambda _: True)
    assert _output(default_synth, "StreamOriginRuleArn") == {"Ref": rule}
    for key in (
        "StreamOriginRuleArn",
        "StreamOriginSecretName",
        "StreamLogsBucketName",
        "StreamDistributionId",
    ):
        assert key not in synth.raw["Outputs"]  # the own-domain path has no CloudFront


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("CallsTableName", "AWS::DynamoDB::Table"),
        ("SummariesDeadLetterQueueUrl", "AWS::SQS::Queue"),
        ("RecordingsDeadLetterQueueUrl", "AWS::SQS::Queue"),
        ("EventBusName", "AWS::Events::EventBus"),
        ("AccessLogsBucketName", "AWS::S3::Bucket"),
        ("RecordingsKeyArn", "AWS::KMS::Key"),
    ],
)
def test_what_operating_and_tearing_down_act_on_is_output(default_synth: Synth, key: str, kind: str) -> None:
    value = _output(default_synth, key)
    logical_id = value.get("Ref") or value["Fn::GetAtt"][0]
    assert default_synth.raw["Resources"][logical_id]["Type"] == kind
