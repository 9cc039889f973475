"""Context validation: a bad value stops synth with a message naming it, before anything deploys."""

from __future__ import annotations

from typing import Any

import pytest

from infra.components.config import ContextError, InfraConfig

pytestmark = pytest.mark.infra


def _config(**context: Any) -> InfraConfig:
    import aws_cdk as cdk

    return InfraConfig.from_context(cdk.App(context=context).node)


def test_defaults_deploy_a_working_stack() -> None:
    config = _config()
    assert config.min_tasks == 2
    assert config.deregistration_delay_seconds >= 600
    assert config.alb_idle_timeout_seconds >= 300
    assert config.drain_seconds <= config.stop_timeout_seconds <= 120
    assert not config.secure_stream
    assert config.edge == "cloudfront"  # Twilio needs wss://, and no domain is needed for it
    assert config.stream_price_class == "PriceClass_100"
    assert config.console_price_class == "PriceClass_100"
    # threat protection scores sign-ins before it acts on them (AWS's advice for a new pool)
    assert config.people_threat_protection == "audit"
    assert _config(peopleThreatProtection="ENFORCED").people_threat_protection == "enforced"


def test_strings_from_the_command_line_are_parsed() -> None:
    config = _config(
        deregistrationDelaySeconds="1200", streamerArm64="false", callRoutes='{"*": {"voicemail": true}}'
    )
    assert config.deregistration_delay_seconds == 1200
    assert config.streamer_arm64 is False
    assert config.call_routes == '{"*": {"voicemail": true}}'


def test_call_routes_object_in_cdk_json_becomes_json() -> None:
    assert _config(callRoutes={"+15550100": {"forwardTo": "+15550199"}}).call_routes == (
        '{"+15550100": {"forwardTo": "+15550199"}}'
    )


def test_transcript_redaction_is_on_by_default_and_patterns_become_json() -> None:
    assert _config().redaction_environment() == {"TRANSCRIPT_REDACTION": "true"}
    config = _config(transcriptRedaction="false", redactionPatterns={"order": "ORD-\\d+"})
    assert config.redaction_environment() == {
        "TRANSCRIPT_REDACTION": "false",
        "TRANSCRIPT_REDACTION_PATTERNS": '{"order": "ORD-\\\\d+"}',
    }


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"deregistrationDelaySeconds": 60}, "deregistrationDelaySeconds=60 must be between 600"),
        ({"minTasks": 1}, "minTasks=1 must be between 2"),
        ({"minTasks": 5, "maxTasks": 3}, "minTasks 5 exceeds maxTasks 3"),
        ({"stopTimeoutSeconds": 300}, "stopTimeoutSeconds=300 must be between 30 and 120"),
        ({"streamDrainSeconds": 100, "stopTimeoutSeconds": 120}, "ECS would SIGKILL the streamer"),
        ({"streamDomainName": "stream.example.com"}, "streamDomainName and streamCertificateArn go together"),
        ({"hostedZoneId": "Z1"}, "hostedZoneId and hostedZoneName go together"),
        ({"maxCallsPerTask": "lots"}, "maxCallsPerTask='lots' is not an integer"),
        ({"streamerArm64": "maybe"}, "streamerArm64='maybe' is not a boolean"),
        ({"callRoutes": "{not json"}, "callRoutes is not valid JSON"),
        ({"outboundAllowedPrefixes": "+1,44"}, "outboundAllowedPrefixes='+1,44': not E.164 prefixes"),
        ({"callRoutes": "[" * 100_000 + "]" * 100_000}, "callRoutes is not valid JSON: nested deeper"),
        ({"redactionPatterns": {"bad": "("}}, "pattern 'bad' is not a valid regular expression"),
        ({"redactionPatterns": {"slow": "(a+)+$"}}, "pattern 'slow' has only repetitions of variable count"),
        ({"redactionPatterns": "{not json"}, "not JSON"),
        ({"transcriptRedaction": "maybe"}, "transcriptRedaction='maybe' is not a boolean"),
        ({"streamEdge": "nginx"}, "streamEdge='nginx': Input should be 'cloudfront' or 'alb'"),
        (
            {"streamEdge": "cloudfront", "streamDomainName": "s.example.com", "streamCertificateArn": "arn"},
            "streamDomainName/streamCertificateArn goes with streamEdge=alb",
        ),
        ({"streamPriceClass": "cheap"}, "streamPriceClass='cheap': Input should be 'PriceClass_100'"),
        ({"consoleDomainName": "console.example.com"}, "consoleDomainName and consoleCertificateArn"),
        (
            {
                "consoleDomainName": "console.example.com",
                "consoleCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
            },
            "is not an ACM certificate ARN in us-east-1",
        ),
        (
            {"consoleWebAclArn": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/y"},
            "is not a CloudFront-scope WAF web ACL ARN",
        ),
        (
            {"peopleThreatProtection": "off"},
            "peopleThreatProtection='off': Input should be 'audit' or 'enforced'",
        ),
    ],
)
def test_bad_context_is_refused(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ContextError, match=message.replace("(", r"\(").replace("+", r"\+")):
        _config(**context)


@pytest.mark.parametrize(
    ("context", "edge"),
    [
        ({}, "cloudfront"),
        ({"streamDomainName": "s.example.com", "streamCertificateArn": "arn"}, "alb"),
        ({"streamEdge": "alb"}, "alb"),  # plain ws://: a smoke test's choice, never the default
        ({"streamEdge": "cloudfront"}, "cloudfront"),
        ({"streamEdge": ""}, "cloudfront"),
    ],
)
def test_the_stream_edge_is_cloudfront_unless_the_alb_has_a_domain_or_is_chosen(
    context: dict[str, Any], edge: str
) -> None:
    assert _config(**context).edge == edge


def test_log_retention_rounds_up_to_an_allowed_value() -> None:
    from aws_cdk import aws_logs as logs

    assert _config(logRetentionDays=30).log_retention == logs.RetentionDays.ONE_MONTH
    assert _config(logRetentionDays=45).log_retention == logs.RetentionDays.TWO_MONTHS


def test_errors_name_the_key_the_value_and_what_was_expected() -> None:
    with pytest.raises(ContextError) as raised:
        _config(maxCallsPerTask="lots", streamerArm64="maybe", alarmEmail=["a@example.com"], natGateways=3)
    message = str(raised.value)
    # every problem at once, so a deploy is not fixed one key per synth
    assert (
        "context maxCallsPerTask='lots' is not an integer (expected a whole number from 1 to 1000)" in message
    )
    assert "context streamerArm64='maybe' is not a boolean (expected true or false)" in message
    assert "context alarmEmail=['a@example.com'] is not text (expected a string)" in message
    assert "context natGateways=3 must be between 1 and 2" in message


def test_empty_values_mean_the_default() -> None:
    """`-c key=` on the command line clears what cdk.json sets."""
    config = _config(stackName="", minTasks="", streamerArm64="", summariesConcurrency="0")
    assert config.stack_name == "Callscribe"
    assert config.min_tasks == 2
    assert config.streamer_arm64 is True
    assert config.summaries_concurrency is None  # 0 reserves nothing, like unset


def test_every_context_key_is_documented() -> None:
    from pathlib import Path

    documented = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()
    keys = [field.alias for field in InfraConfig.model_fields.values()]
    assert keys, "the model reads context through aliases"
    assert [key for key in keys if f"`{key}`" not in documented] == []
