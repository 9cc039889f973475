"""The console in the template: its private bucket behind the distribution's origin access control,
`/api/*` to the people's read API, the security headers (the CSP the console needs), the files and
`config.json` the deployment copies, and the outputs.

Nothing here reads the console's own files beyond `index.html` being among them: they come from
`console/` as it is, and change without this file changing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.components.console import content_security_policy
from shared import stack_outputs
from tests.infra.conftest import Synth
from tests.infra.helpers import logical_id_of, rest_api

pytestmark = pytest.mark.infra

# AWS-managed policy ids (the same in every account and region).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
URL_SUFFIX = {"Ref": "AWS::URLSuffix"}


def _distribution(synth: Synth) -> tuple[str, dict[str, Any]]:
    logical_id = logical_id_of(
        synth,
        "AWS::CloudFront::Distribution",
        lambda p: p["DistributionConfig"]["Comment"] == "callscribe: the people's console and its /api",
    )
    return logical_id, synth.raw["Resources"][logical_id]["Properties"]["DistributionConfig"]


def _origins(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {origin["Id"]: origin for origin in config["Origins"]}


def _files_bucket(synth: Synth) -> str:
    """The bucket the distribution's S3 origin reads."""
    _, config = _distribution(synth)
    (s3_origin,) = [o for o in config["Origins"] if "S3OriginConfig" in o]
    return str(s3_origin["DomainName"]["Fn::GetAtt"][0])


def _text(value: Any) -> str:
    """A joined CloudFormation string with its references as `<LogicalId.Attribute>`."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1] if "Fn::Join" in value else [value]
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif "Ref" in part:
            out.append(f"<{part['Ref']}>")
        else:
            logical_id, attribute = part["Fn::GetAtt"]
            out.append(f"<{logical_id}.{attribute}>")
    return "".join(out)


def test_the_bucket_is_private_and_read_only_through_origin_access_control(default_synth: Synth) -> None:
    synth = default_synth
    distribution_id, config = _distribution(synth)
    bucket = _files_bucket(synth)
    (s3_origin,) = [o for o in config["Origins"] if "S3OriginConfig" in o]
    assert s3_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    oac = s3_origin["OriginAccessControlId"]["Fn::GetAtt"][0]
    assert synth.raw["Resources"][oac]["Properties"]["OriginAccessControlConfig"] == {
        "Name": synth.raw["Resources"][oac]["Properties"]["OriginAccessControlConfig"]["Name"],
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    assert not synth.resources("AWS::CloudFront::CloudFrontOriginAccessIdentity")
    props = synth.raw["Resources"][bucket]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "console-bucket/"
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    (reader,) = [s for s in policy if s["Effect"] == "Allow"]
    assert reader["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert reader["Action"] == "s3:GetObject"
    assert _text(reader["Condition"]["StringEquals"]["AWS:SourceArn"]).endswith(
        f":distribution/<{distribution_id}>"
    )
    # TLS only, as every bucket of the stack
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
    )
    # a copy of console/: deleted with the stack (the deployment empties it first)
    assert synth.raw["Resources"][bucket]["DeletionPolicy"] == "Delete"


def test_the_files_are_served_over_https_from_index_html(default_synth: Synth) -> None:
    _, config = _distribution(default_synth)
    assert config["DefaultRootObject"] == "index.html"
    default = config["DefaultCacheBehavior"]
    assert _origins(config)[default["TargetOriginId"]]["S3OriginConfig"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["AllowedMethods"] == ["GET", "HEAD"]
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert config["HttpVersion"] == "http2and3"
    assert config["PriceClass"] == "PriceClass_100"  # consolePriceClass
    assert _text(config["Logging"]["Bucket"]).endswith(".RegionalDomainName>")
    assert config["Logging"]["Prefix"] == "console-cdn/"
    assert "WebACLId" not in config  # consoleWebAclArn unset: CFR2 acknowledged


def test_api_goes_to_the_people_api_stage_uncached_with_the_viewers_authorization(
    default_synth: Synth,
) -> None:
    synth = default_synth
    _, config = _distribution(synth)
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert api["AllowedMethods"] == ["GET", "HEAD"]  # the read API is GET only
    assert api["CachePolicyId"] == CACHING_DISABLED
    # every viewer header but Host: Authorization reaches the Cognito authoriser (CloudFront forwards
    # it from this policy only when caching is disabled)
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    origin = _origins(config)[api["TargetOriginId"]]
    people_api = rest_api(synth, "Callscribe-people")
    assert _text(origin["DomainName"]) == f"<{people_api}>.execute-api.us-east-1.<AWS::URLSuffix>"
    assert "OriginPath" not in origin  # /api/calls reaches stage `api`, resource /calls
    assert origin["CustomOriginConfig"] == {
        "OriginProtocolPolicy": "https-only",
        "OriginSSLProtocols": ["TLSv1.2"],
    }
    assert api["ResponseHeadersPolicyId"] == config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]


def test_the_security_headers_carry_the_consoles_csp(default_synth: Synth) -> None:
    synth = default_synth
    _, config = _distribution(synth)
    policy_id = config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]["Ref"]
    headers = synth.raw["Resources"][policy_id]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    feed = logical_id_of(synth, "AWS::AppSync::Api", lambda _: True)
    recordings = logical_id_of(synth, "AWS::S3::Bucket", lambda p: "KMSMasterKeyID" in json.dumps(p))
    assert security["ContentSecurityPolicy"]["Override"] is True
    assert _text(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]) == content_security_policy(
        cognito_origin="https://cognito-idp.us-east-1.<AWS::URLSuffix>",
        realtime_host=f"<{feed}.Dns.Realtime>",
        recordings_host=f"<{recordings}.RegionalDomainName>",
    )
    assert security["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 63072000,
        "IncludeSubdomains": True,
        "Override": True,
    }
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ReferrerPolicy"] == {"ReferrerPolicy": "no-referrer", "Override": True}
    custom = {h["Header"]: h["Value"] for h in headers["CustomHeadersConfig"]["Items"]}
    assert custom == {
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def test_the_csp_is_the_one_the_console_asks_for() -> None:
    """CONSOLE_INTERFACE.md's policy, word for word: nothing inline, nothing from elsewhere."""
    assert content_security_policy(
        cognito_origin="https://cognito-idp.eu-west-1.amazonaws.com",
        realtime_host="abc.appsync-realtime-api.eu-west-1.amazonaws.com",
        recordings_host="rec.s3.eu-west-1.amazonaws.com",
    ) == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com "
        "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com; "
        "media-src 'self' https://rec.s3.eu-west-1.amazonaws.com; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def _deployment(synth: Synth) -> dict[str, Any]:
    return synth.one("Custom::CDKBucketDeployment")


def test_the_deployment_copies_the_console_and_invalidates_the_cache(default_synth: Synth) -> None:
    synth = default_synth
    distribution_id, _ = _distribution(synth)
    deployment = _deployment(synth)
    assert deployment["DestinationBucketName"] == {"Ref": _files_bucket(synth)}
    assert (deployment["Prune"], deployment["RetainOnDelete"]) == (True, False)
    assert deployment["SystemMetadata"] == {"cache-control": "no-cache"}  # no hashed names: revalidate
    assert deployment["DistributionId"] == {"Ref": distribution_id}
    assert deployment["DistributionPaths"] == ["/*"]
    files, config = (
        default_synth.outdir / f"asset.{key.removesuffix('.zip')}" for key in deployment["SourceObjectKeys"]
    )
    assert (files / "index.html").is_file()  # console/, whatever else it holds
    assert not (files / "config.json").exists()  # a local run's copy is never shipped
    assert [p.name for p in config.iterdir()] == ["config.json"]


def _config_json(synth: Synth) -> dict[str, Any]:
    """The deployed config.json, each value CloudFormation fills in at deploy read as `<…>` text."""
    deployment = _deployment(synth)
    key = deployment["SourceObjectKeys"][1].removesuffix(".zip")
    text = (synth.outdir / f"asset.{key}" / "config.json").read_text()
    for marker, value in deployment["SourceMarkers"][1].items():
        text = text.replace(marker, _text(value))
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_config_json_holds_exactly_what_the_console_reads(default_synth: Synth) -> None:
    synth = default_synth
    pool = logical_id_of(synth, "AWS::Cognito::UserPool", lambda _: True)
    client = logical_id_of(synth, "AWS::Cognito::UserPoolClient", lambda _: True)
    feed = logical_id_of(synth, "AWS::AppSync::Api", lambda _: True)
    assert _config_json(synth) == {
        "region": "us-east-1",
        "userPoolId": f"<{pool}>",
        "userPoolClientId": f"<{client}>",
        "cognitoUrl": "https://cognito-idp.us-east-1.<AWS::URLSuffix>/",
        "apiUrl": "/api",
        "feed": {
            "httpHost": f"<{feed}.Dns.Http>",
            "realtimeUrl": f"wss://<{feed}.Dns.Realtime>/event/realtime",
        },
    }


def test_the_console_is_an_output_with_its_distribution_and_bucket(default_synth: Synth) -> None:
    distribution_id, _ = _distribution(default_synth)
    outputs = default_synth.raw["Outputs"]
    assert _text(outputs[stack_outputs.CONSOLE_URL]["Value"]) == f"https://<{distribution_id}.DomainName>"
    assert outputs["ConsoleDistributionId"]["Value"] == {"Ref": distribution_id}
    assert outputs["ConsoleBucketName"]["Value"] == {"Ref": _files_bucket(default_synth)}


def test_a_domain_of_ones_own_gets_tls_1_2_a_dns_alias_and_the_web_acl(synth: Synth) -> None:
    from tests.infra.conftest import CERT_ARN, FULL_CONTEXT

    distribution_id, config = _distribution(synth)
    assert config["Aliases"] == ["console.example.com"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERT_ARN,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert config["WebACLId"] == FULL_CONTEXT["consoleWebAclArn"]
    assert config["PriceClass"] == "PriceClass_All"
    (alias,) = [
        r["Properties"]
        for r in synth.resources("AWS::Route53::RecordSet").values()
        if r["Properties"]["Name"] == "console.example.com."
    ]
    assert alias["AliasTarget"]["DNSName"] == {"Fn::GetAtt": [distribution_id, "DomainName"]}
    assert synth.raw["Outputs"][stack_outputs.CONSOLE_URL]["Value"] == "https://console.example.com"


def test_the_console_files_come_from_the_repositorys_console_folder() -> None:
    from infra.components.console import CONSOLE_DIR
    from infra.dependencies import REPO_ROOT

    assert CONSOLE_DIR == REPO_ROOT / "console"


def test_a_checkout_without_the_console_stops_the_synth(tmp_path: Path) -> None:
    """Deploying a distribution with nothing to serve would be a console that 403s: refused at synth."""
    import aws_cdk as cdk

    from infra.components.console import ConsoleMissingError, ConsoleSite

    stack = cdk.Stack(cdk.App(), "Probe", env=cdk.Environment(region="us-east-1"))
    with pytest.raises(ConsoleMissingError, match=re.escape(f"{tmp_path}/index.html is missing")):
        ConsoleSite(
            stack,
            "Console",
            config=None,  # type: ignore[arg-type]  # refused before anything is read
            access_logs=None,  # type: ignore[arg-type]
            people=None,  # type: ignore[arg-type]
            feed=None,  # type: ignore[arg-type]
            api=None,  # type: ignore[arg-type]
            recordings=None,  # type: ignore[arg-type]
            console_dir=tmp_path,
        )
