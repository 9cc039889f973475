"""The streamer service: built to keep long calls alive through deploys and scaling."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import CERT_ARN, Synth
from tests.infra.helpers import actions, role_statements, secret_ids

pytestmark = pytest.mark.infra


def _attributes(props: dict[str, Any], key: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in props[key]}


def _container(synth: Synth) -> dict[str, Any]:
    (container,) = synth.one("AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    return dict(container)


def test_vpc_spans_two_azs_with_private_task_subnets(synth: Synth) -> None:
    subnets = synth.resources("AWS::EC2::Subnet").values()
    public = [s for s in subnets if s["Properties"]["MapPublicIpOnLaunch"]]
    private = [s for s in subnets if not s["Properties"]["MapPublicIpOnLaunch"]]
    assert len(public) == 2
    assert len(private) == 2
    assert len(synth.resources("AWS::EC2::FlowLog")) == 1


def test_cluster_has_container_insights(synth: Synth) -> None:
    cluster = synth.one("AWS::ECS::Cluster")
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]


def test_service_keeps_two_tasks_and_rolls_back_failed_deploys(synth: Synth) -> None:
    service = synth.one("AWS::ECS::Service")
    assert service["DesiredCount"] == 2
    assert service["LaunchType"] == "FARGATE"
    config = service["DeploymentConfiguration"]
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert config["MinimumHealthyPercent"] == 100
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"


def test_alb_idle_timeout_outlives_silences(synth: Synth) -> None:
    alb = synth.one("AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = _attributes(alb, "LoadBalancerAttributes")
    assert int(attributes["idle_timeout.timeout_seconds"]) >= 300
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"


def test_target_group_drains_calls_and_checks_healthz(synth: Synth) -> None:
    group = synth.one("AWS::ElasticLoadBalancingV2::TargetGroup")
    assert group["HealthCheckPath"] == "/healthz"
    assert group["Matcher"] == {"HttpCode": "200"}
    assert group["TargetType"] == "ip"
    assert group["Port"] == 8080
    # configured by context deregistrationDelaySeconds=1800 in the full synth
    assert _attributes(group, "TargetGroupAttributes")["deregistration_delay.timeout_seconds"] == "1800"


def test_default_deregistration_delay_is_at_least_ten_minutes(default_synth: Synth) -> None:
    group = default_synth.one("AWS::ElasticLoadBalancingV2::TargetGroup")
    assert int(_attributes(group, "TargetGroupAttributes")["deregistration_delay.timeout_seconds"]) >= 600


def test_https_listener_with_the_context_certificate(synth: Synth) -> None:
    listeners = [r["Properties"] for r in synth.resources("AWS::ElasticLoadBalancingV2::Listener").values()]
    https = next(listener for listener in listeners if listener["Port"] == 443)
    assert https["Protocol"] == "HTTPS"
    assert https["Certificates"] == [{"CertificateArn": CERT_ARN}]
    http = next(listener for listener in listeners if listener["Port"] == 80)
    assert http["DefaultActions"][0]["Type"] == "redirect"
    records = {
        r["Properties"]["Name"]: r["Properties"] for r in synth.resources("AWS::Route53::RecordSet").values()
    }
    assert records["stream.example.com."]["Type"] == "A"
    assert "AliasTarget" in records["stream.example.com."]


def test_container_lifecycle_and_environment(synth: Synth) -> None:
    container = _container(synth)
    assert container["StopTimeout"] == 120
    assert container["PortMappings"][0]["ContainerPort"] == 8080
    assert container["ReadonlyRootFilesystem"] is True
    assert "HealthCheck" not in container  # a full task must not be killed by its own check
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["STREAM_URL"] == "wss://stream.example.com/media"
    assert env["PORT"] == "8080"
    assert int(env["DRAIN_SECONDS"]) <= container["StopTimeout"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "callscribe-streamer"
    assert {
        "CALLS_TABLE",
        "TRANSCRIPTS_TABLE",
        "MAX_CALLS",
        "DEEPGRAM_URL",
        "TWILIO_SECRET_ARN",
        "DEEPGRAM_SECRET_ARN",
    } <= set(env)
    log_options = container["LogConfiguration"]["Options"]
    group = log_options["awslogs-group"]["Ref"]
    assert synth.raw["Resources"][group]["Properties"]["RetentionInDays"] == 30


def test_image_is_built_at_deploy_from_the_streamer_dockerfile(synth: Synth) -> None:
    import json

    assets = json.loads((synth.outdir / "Callscribe.assets.json").read_text())
    (image,) = assets["dockerImages"].values()
    assert image["source"]["dockerFile"] == "streamer/Dockerfile"
    assert image["source"]["platform"] == "linux/arm64"
    task = synth.one("AWS::ECS::TaskDefinition")
    assert task["RuntimePlatform"]["CpuArchitecture"] == "ARM64"


def test_task_role_reads_vendor_secrets_and_writes_segments(synth: Synth) -> None:
    task = synth.one("AWS::ECS::TaskDefinition")
    statements = role_statements(synth, task["TaskRoleArn"]["Fn::GetAtt"][0])
    text = str(statements)
    for secret in secret_ids(synth).values():
        assert secret in text
    assert any("dynamodb:PutItem" in actions(s) for s in statements)  # one conditional put per segment
    assert not any("dynamodb:BatchWriteItem" in actions(s) for s in statements)  # batches are unconditional
    # the write that ends the transcript is announced by the outbox: the streamer has no access to the bus
    assert not any(a.startswith("events:") for s in statements for a in actions(s))


def test_autoscaling_on_active_calls_and_cpu(synth: Synth) -> None:
    target = synth.one("AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 10)
    policies = [
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    ]
    custom = next(p for p in policies if "CustomizedMetricSpecification" in p)
    metric = custom["CustomizedMetricSpecification"]
    assert (metric["Namespace"], metric["MetricName"], metric["Statistic"]) == (
        "callscribe",
        "ActiveCalls",
        "Average",
    )
    assert metric["Dimensions"] == [{"Name": "service", "Value": "callscribe-streamer"}]
    assert custom["TargetValue"] == 70  # 70 % of MAX_CALLS=100
    cpu = next(p for p in policies if "PredefinedMetricSpecification" in p)
    assert cpu["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"


def test_the_alb_without_a_certificate_is_plain_ws_with_a_warning(plain_alb_synth: Synth) -> None:
    """Only when chosen (streamEdge=alb, no domain): the default is CloudFront (test_stream_edge.py)."""
    from aws_cdk.assertions import Annotations, Match

    listeners = [
        r["Properties"] for r in plain_alb_synth.resources("AWS::ElasticLoadBalancingV2::Listener").values()
    ]
    assert [(listener["Port"], listener["Protocol"]) for listener in listeners] == [(80, "HTTP")]
    assert listeners[0]["DefaultActions"][0]["Type"] == "forward"
    value = plain_alb_synth.raw["Outputs"]["StreamUrl"]["Value"]
    assert value["Fn::Join"][1][0] == "ws://"
    assert [  # the console's distribution only
        d["Properties"]["DistributionConfig"]["Comment"]
        for d in plain_alb_synth.resources("AWS::CloudFront::Distribution").values()
    ] == ["callscribe: the people's console and its /api"]
    Annotations.from_stack(plain_alb_synth.stack).has_warning(
        "/Callscribe/Streamer",
        Match.string_like_regexp("Twilio refuses"),
    )


def test_infra_imports_the_streamers_names_without_its_runtime() -> None:
    """infra reads the streamer's paths and metric names (streamer/contract.py) at synth; the
    streamer's runtime dependencies must not come along (a synth machine need not have them)."""
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys; import infra.app; "
        "heavy = {'websockets', 'deepgram', 'anthropic', 'uvloop', 'streamer.server', 'streamer.session'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
