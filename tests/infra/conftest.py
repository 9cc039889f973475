"""Synthesise the CDK app once per session, exactly as `cdk synth` would (cdk.json's context), but
without bundling (no pip, no network) and with every optional feature switched on (the streamer on
its own domain), so each construct's full shape can be asserted. A second, default-context synth
checks what a first-time deployer gets (no domains: CloudFront's wss://), and a third the ALB chosen
without a certificate (plain ws:// with a warning, a smoke test's path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
FULL_CONTEXT: dict[str, Any] = {
    "streamDomainName": "stream.example.com",
    "streamCertificateArn": CERT_ARN,
    "apiDomainName": "hooks.example.com",
    "apiCertificateArn": CERT_ARN,
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "hostedZoneName": "example.com",
    "alarmEmail": "oncall@example.com",
    "callRoutes": {"*": {"voicemail": True}},
    "deregistrationDelaySeconds": 1800,
    "twilioFromNumber": "+15550100",
    "summaryModel": "claude-test-model",
    "summariesConcurrency": 10,
    "deleteTwilioRecordings": True,
    "recordingsConcurrency": 5,
    "sweepSchedule": "rate(10 minutes)",
    "sweepAfterSeconds": 300,
    "deepgramModel": "nova-2-phonecall",
    "deepgramLanguage": "en-GB",
    "deepgramSmartFormat": False,
    "deepgramPunctuate": True,
    "deepgramRedact": "pci,ssn",
    "deepgramKeyterm": "callscribe",
    "prices": {"twilio_inbound_per_minute": 0.0095, "as_of": "2026-12-01"},
    "redactionPatterns": {"member_id": "M-\\d{6}"},
}


@dataclass(frozen=True)
class Synth:
    """One synthesised stack: its template (plain dicts), the assembly folder, and the stack."""

    raw: dict[str, Any]
    outdir: Path
    stack: Any

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.raw["Resources"]
        return {k: v for k, v in resources.items() if v["Type"] == kind}

    def one(self, kind: str) -> dict[str, Any]:
        found = list(self.resources(kind).values())
        assert len(found) == 1, f"expected one {kind}, found {len(found)}"
        return dict(found[0]["Properties"])


def synthesise(outdir: Path, extra_context: dict[str, Any]) -> Synth:
    import aws_cdk as cdk

    from infra.app import build_app

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    context.update({"aws:cdk:bundling-stacks": [], "region": "us-east-1", **extra_context})
    app, stack = build_app(cdk.App(context=context, outdir=str(outdir)))
    assembly = app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    raw = assembly.get_stack_artifact(stack.artifact_id).template
    return Synth(raw=raw, outdir=outdir, stack=stack)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesise(tmp_path_factory.mktemp("cdk-full"), FULL_CONTEXT)


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesise(tmp_path_factory.mktemp("cdk-default"), {})


@pytest.fixture(scope="session")
def plain_alb_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesise(tmp_path_factory.mktemp("cdk-plain-alb"), {"streamEdge": "alb"})
