"""The stream endpoint Twilio dials: wss:// on the first deploy (CloudFront), or the operator's domain.

The default synth is a first-time deployer's (no domain): CloudFront in front of an ALB that admits
only CloudFront. The full synth keeps the own-domain path (HTTPS on the ALB, no distribution).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.edge import ORIGIN_FACING_PREFIX_LIST, ORIGIN_HEADER
from tests.infra.conftest import Synth
from tests.infra.helpers import function

pytestmark = pytest.mark.infra

# AWS-managed policy ids (the same in every account and region).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
WEBHOOKS_HANDLER = "functions.webhooks.app.handler"


def _stream_distributions(synth: Synth) -> dict[str, dict[str, Any]]:
    """The stream edge's distributions (the console has one of its own: test_console.py)."""
    return {
        logical_id: resource["Properties"]["DistributionConfig"]
        for logical_id, resource in synth.resources("AWS::CloudFront::Distribution").items()
        if resource["Properties"]["DistributionConfig"]["Comment"].startswith("callscribe: Twilio")
    }


def _distribution(synth: Synth) -> tuple[str, dict[str, Any]]:
    ((logical_id, config),) = _stream_distributions(synth).items()
    return logical_id, config


def _container_env(synth: Synth) -> dict[str, Any]:
    (container,) = synth.one("AWS::ECS::TaskDefinition")["ContainerDefinitions"]
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def _stream_urls(synth: Synth) -> dict[str, Any]:
    """STREAM_URL wherever the stack sets it: the container, every Lambda that has one, the output."""
    urls = {
        "container": _container_env(synth)["STREAM_URL"],
        "output": synth.raw["Outputs"]["StreamUrl"]["Value"],
    }
    for logical_id, resource in synth.resources("AWS::Lambda::Function").items():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        if "STREAM_URL" in variables:
            urls[logical_id] = variables["STREAM_URL"]
    return urls


def _secret_reference(value: Any) -> str:
    """The secret a `{{resolve:secretsmanager:…}}` dynamic reference names (its logical id)."""
    parts = value["Fn::Join"][1]
    assert parts[0] == "{{resolve:secretsmanager:"
    assert parts[2].startswith(":SecretString:")
    return str(parts[1]["Ref"])


def _load_balancer_group(synth: Synth) -> str:
    alb = synth.one("AWS::ElasticLoadBalancingV2::LoadBalancer")
    (group,) = alb["SecurityGroups"]
    return str(group["Fn::GetAtt"][0])


def _ingress(synth: Synth, group: str) -> list[dict[str, Any]]:
    """Inbound rules of a group: inline ones and separate SecurityGroupIngress resources."""
    rules = list(synth.raw["Resources"][group]["Properties"].get("SecurityGroupIngress", []))
    for resource in synth.resources("AWS::EC2::SecurityGroupIngress").values():
        if resource["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}:
            rules.append(resource["Properties"])
    return rules


# ---- default: CloudFront ------------------------------------------------------------------------------


def test_stream_url_is_wss_on_the_distributions_name_everywhere(default_synth: Synth) -> None:
    distribution, _ = _distribution(default_synth)
    expected = {"Fn::Join": ["", ["wss://", {"Fn::GetAtt": [distribution, "DomainName"]}, "/media"]]}
    urls = _stream_urls(default_synth)
    webhooks, _ = function(default_synth, WEBHOOKS_HANDLER)
    assert {"container", "output", webhooks} <= set(urls)
    assert urls == dict.fromkeys(urls, expected)


def test_distribution_passes_websockets_uncached_over_https_only(default_synth: Synth) -> None:
    _, config = _distribution(default_synth)
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    # every viewer header (X-Twilio-Signature, Sec-WebSocket-*) and the query string; not Host
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert "GET" in behavior["AllowedMethods"]  # the WebSocket upgrade
    assert config["HttpVersion"] == "http1.1"
    assert config["PriceClass"] == "PriceClass_100"
    assert "Aliases" not in config  # its own *.cloudfront.net name and certificate
    assert "ViewerCertificate" not in config


def test_origin_is_the_alb_over_http_with_the_secret_header(default_synth: Synth) -> None:
    _, config = _distribution(default_synth)
    (origin,) = config["Origins"]
    alb = next(iter(default_synth.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")))
    assert origin["DomainName"] == {"Fn::GetAtt": [alb, "DNSName"]}
    custom = origin["CustomOriginConfig"]
    assert (custom["OriginProtocolPolicy"], custom["HTTPPort"]) == ("http-only", 80)
    assert custom["OriginReadTimeout"] >= 60
    assert "ResponseCompletionTimeout" not in origin  # a call's WebSocket must have no total cap
    (header,) = origin["OriginCustomHeaders"]
    assert header["HeaderName"] == ORIGIN_HEADER
    secret = _secret_reference(header["HeaderValue"])
    generated = default_synth.raw["Resources"][secret]["Properties"]["GenerateSecretString"]
    # an ALB header condition: at most 128 characters, and * ? would be wildcards
    assert generated["ExcludePunctuation"] is True
    assert 32 <= generated["PasswordLength"] <= 128


def test_alb_takes_only_cloudfront_origin_facing_addresses(default_synth: Synth) -> None:
    rules = _ingress(default_synth, _load_balancer_group(default_synth))
    assert rules, "the ALB must be reachable from CloudFront"
    assert all("CidrIp" not in rule and "CidrIpv6" not in rule for rule in rules)  # no 0.0.0.0/0
    (rule,) = rules
    assert (rule["FromPort"], rule["ToPort"]) == (80, 80)
    lookup, attribute = rule["SourcePrefixListId"]["Fn::GetAtt"]
    assert attribute == "PrefixLists.0.PrefixListId"
    call = json.loads(default_synth.raw["Resources"][lookup]["Properties"]["Create"])
    assert call["action"] == "describeManagedPrefixLists"
    assert call["parameters"]["Filters"] == [
        {"Name": "prefix-list-name", "Values": [ORIGIN_FACING_PREFIX_LIST]}
    ]


def test_listener_refuses_requests_without_the_origin_header(default_synth: Synth) -> None:
    listeners = default_synth.resources("AWS::ElasticLoadBalancingV2::Listener")
    ((listener_id, listener),) = listeners.items()
    props = listener["Properties"]
    assert (props["Port"], props["Protocol"]) == (80, "HTTP")
    (default_action,) = props["DefaultActions"]
    assert default_action["Type"] == "fixed-response"
    assert default_action["FixedResponseConfig"]["StatusCode"] == "403"
    (rule,) = [
        r["Properties"] for r in default_synth.resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()
    ]
    assert rule["ListenerArn"] == {"Ref": listener_id}
    target_group = next(iter(default_synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup")))
    assert rule["Actions"] == [{"TargetGroupArn": {"Ref": target_group}, "Type": "forward"}]
    conditions = {c["Field"]: c for c in rule["Conditions"]}
    header = conditions["http-header"]["HttpHeaderConfig"]
    assert header["HttpHeaderName"] == ORIGIN_HEADER
    # the very secret CloudFront sends
    _, config = _distribution(default_synth)
    sent = config["Origins"][0]["OriginCustomHeaders"][0]["HeaderValue"]
    assert [_secret_reference(v) for v in header["Values"]] == [_secret_reference(sent)]
    assert set(conditions["path-pattern"]["PathPatternConfig"]["Values"]) == {"/media", "/media/"}


def test_distribution_logs_to_a_bucket_that_takes_acls(default_synth: Synth) -> None:
    _, config = _distribution(default_synth)
    bucket = config["Logging"]["Bucket"]["Fn::GetAtt"][0]
    props = default_synth.raw["Resources"][bucket]["Properties"]
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerPreferred"}]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert "DestinationBucketName" in props["LoggingConfiguration"]  # its own access logs


def test_cloudfront_findings_are_fixed_or_acknowledged_with_reasons(default_synth: Synth) -> None:
    """CFR3 (logging) is fixed; the rest are acknowledged on the distribution (reasons in edge.py)."""
    report = json.loads((default_synth.outdir / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    suppressed = {v["ruleName"] for v in plugin["suppressedViolations"]}
    assert {"AwsSolutions-CFR1", "AwsSolutions-CFR2", "AwsSolutions-CFR4", "AwsSolutions-CFR5"} <= suppressed
    assert "AwsSolutions-CFR3" not in suppressed
    assert "AwsSolutions-EC23" not in suppressed  # nothing is open to the world


def test_outputs_name_the_distribution(default_synth: Synth) -> None:
    distribution, _ = _distribution(default_synth)
    assert default_synth.raw["Outputs"]["StreamDistributionId"]["Value"] == {"Ref": distribution}


# ---- own domain: HTTPS on the ALB, unchanged -------------------------------------------------------


def test_own_domain_keeps_wss_on_the_domain_and_no_distribution(synth: Synth) -> None:
    urls = _stream_urls(synth)
    webhooks, _ = function(synth, WEBHOOKS_HANDLER)
    assert {"container", "output", webhooks} <= set(urls)
    assert urls == dict.fromkeys(urls, "wss://stream.example.com/media")
    assert not _stream_distributions(synth)
    assert not synth.resources("Custom::AWS")
    assert "StreamDistributionId" not in synth.raw["Outputs"]
    ports = {
        r["Properties"]["Port"]: r["Properties"]["Protocol"]
        for r in synth.resources("AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert ports == {443: "HTTPS", 80: "HTTP"}  # 80 redirects (test_streamer.py)


def _alb_attributes(synth: Synth) -> dict[str, str]:
    alb = synth.one("AWS::ElasticLoadBalancingV2::LoadBalancer")
    return {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}


@pytest.mark.parametrize(("which", "hops"), [("default_synth", "2"), ("synth", "1")])
def test_the_streamer_trusts_one_forwarded_address_per_proxy_in_front(
    which: str, hops: str, request: pytest.FixtureRequest
) -> None:
    """CloudFront then the ALB each append to X-Forwarded-For (the ALB alone on the own-domain path):
    the streamer's per-address bound counts the address the first of them saw, nothing the client
    wrote, which holds only while the ALB appends."""
    synth: Synth = request.getfixturevalue(which)
    assert _container_env(synth)["TRUSTED_PROXY_HOPS"] == hops
    assert _alb_attributes(synth)["routing.http.xff_header_processing.mode"] == "append"


def test_in_an_opt_in_region_the_distribution_logs_nowhere_rather_than_fail() -> None:
    """CloudFront delivers no standard logs to buckets in opt-in regions: no bucket, no Logging."""
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_elasticloadbalancingv2 as elbv2
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from infra.components.config import InfraConfig
    from infra.components.edge import CloudFrontEdge

    stack = cdk.Stack(cdk.App(), "OptIn", env=cdk.Environment(region="eu-south-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    alb = elbv2.ApplicationLoadBalancer(stack, "Alb", vpc=vpc, internet_facing=True)
    edge = CloudFrontEdge(
        stack, "Edge", config=InfraConfig(), load_balancer=alb, access_logs=s3.Bucket(stack, "AccessLogs")
    )
    assert edge.log_bucket is None
    template = Template.from_stack(stack)
    (distribution,) = template.find_resources("AWS::CloudFront::Distribution").values()
    assert "Logging" not in distribution["Properties"]["DistributionConfig"]
    template.resource_count_is("AWS::S3::Bucket", 1)  # only the access-log bucket passed in
