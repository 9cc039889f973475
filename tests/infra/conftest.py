"""Synthesise the CDK app once per session, exactly as `cdk synth` would (cdk.json's context), but
without bundling (no pip, no network) and with every optional feature switched on (the streamer on
its own domain), so each construct's full shape can be asserted. A second, default-context synth
checks what a first-time deployer gets (no domains: CloudFront's wss://), and a third the ALB chosen
without a certificate (plain ws:// with a warning, a smoke test's path) with Claude through Amazon
Bedrock (`BEDROCK_CONTEXT`: no Anthropic secret; `bedrock_synth` is the same synth, named for what its
tests read), so the provider's template costs no fourth synth.

cfn-lint takes ~4-5 s of CPU per template. When the session runs the cfn-lint test, each of the three
templates is linted in a background process from the moment it is synthesised (`TemplateLints`), so
the linting overlaps the other infra tests instead of running after them; the test reads the results.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
LINT_TEST = "test_cfn_lint_reports_no_errors"  # tests/infra/test_compliance.py
LISTEN_TWIML_URL = "https://voice.team.example/twiml/incoming"  # a team's TwiML app (listen-in)
CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
FULL_CONTEXT: dict[str, Any] = {
    "streamDomainName": "stream.example.com",
    "streamCertificateArn": CERT_ARN,
    "apiDomainName": "hooks.example.com",
    "apiCertificateArn": CERT_ARN,
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "hostedZoneName": "example.com",
    "alarmEmail": "oncall@example.com",
    "callRoutes": {"*": {"voicemail": True}, "+15550111": {"listen": {"twimlUrl": LISTEN_TWIML_URL}}},
    "listenAllowedUrls": ["https://voice.team.example/twiml/*"],
    "deregistrationDelaySeconds": 1800,
    "twilioFromNumber": "+15550100",
    "outboundAllowedPrefixes": "+1, +44",
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
    "exportRetentionDays": 14,
    "analyticsRetentionDays": 400,
    "consoleDomainName": "console.example.com",
    "consoleCertificateArn": CERT_ARN,
    "consoleWebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/console/a1b2c3",
    "consolePriceClass": "PriceClass_All",
    "peopleThreatProtection": "enforced",
}


# The third synth's model side: Bedrock, the summaries on the default (US) profile, the agent on a
# global profile, and the forced-tool structured output.
BEDROCK_CONTEXT: dict[str, Any] = {
    "modelProvider": "bedrock",
    "agentModel": "global.anthropic.claude-sonnet-5-5",
    "bedrockStructuredOutput": "tool",
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


@dataclass(frozen=True)
class LintResult:
    templates: list[str]
    returncode: int
    stdout: str  # the parseable report
    stderr: str


class TemplateLints:
    """`cfn-lint --format parseable` on each synthesised assembly's templates, one background process
    per assembly, started by `start` (the synth fixtures, when the session runs LINT_TEST) or on
    first `result`."""

    def __init__(self, workdir: Path, wanted: bool) -> None:
        self.workdir = workdir
        self.wanted = wanted
        self._running: dict[Path, tuple[list[str], subprocess.Popen[bytes], IO[bytes], IO[bytes]]] = {}

    def start(self, synthesised: Synth) -> None:
        if synthesised.outdir in self._running:
            return
        templates = sorted(str(p) for p in synthesised.outdir.glob("*.template.json"))
        # files, not pipes: nobody reads the output until the test asks for it
        name = synthesised.outdir.name
        out = (self.workdir / f"{name}.out").open("w+b")
        err = (self.workdir / f"{name}.err").open("w+b")
        process = subprocess.Popen(
            [str(CFN_LINT), "--format", "parseable", *templates], stdout=out, stderr=err
        )
        self._running[synthesised.outdir] = (templates, process, out, err)

    def result(self, synthesised: Synth) -> LintResult:
        self.start(synthesised)
        templates, process, out, err = self._running[synthesised.outdir]
        returncode = process.wait()
        out.seek(0)
        err.seek(0)
        return LintResult(templates, returncode, out.read().decode(), err.read().decode())

    def close(self) -> None:
        for _, process, out, err in self._running.values():
            if process.poll() is None:  # the session ended before the test read it
                process.kill()
                process.wait()
            out.close()
            err.close()


@pytest.fixture(scope="session")
def template_lints(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TemplateLints]:
    wanted = any(item.name == LINT_TEST for item in request.session.items)
    lints = TemplateLints(tmp_path_factory.mktemp("cfn-lint"), wanted)
    yield lints
    lints.close()


def _synth_and_lint(outdir: Path, context: dict[str, Any], lints: TemplateLints) -> Synth:
    synthesised = synthesise(outdir, context)
    if lints.wanted:
        lints.start(synthesised)
    return synthesised


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, template_lints: TemplateLints) -> Synth:
    return _synth_and_lint(tmp_path_factory.mktemp("cdk-full"), FULL_CONTEXT, template_lints)


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory, template_lints: TemplateLints) -> Synth:
    return _synth_and_lint(tmp_path_factory.mktemp("cdk-default"), {}, template_lints)


@pytest.fixture(scope="session")
def plain_alb_synth(tmp_path_factory: pytest.TempPathFactory, template_lints: TemplateLints) -> Synth:
    return _synth_and_lint(
        tmp_path_factory.mktemp("cdk-plain-alb"), {"streamEdge": "alb", **BEDROCK_CONTEXT}, template_lints
    )


@pytest.fixture(scope="session")
def bedrock_synth(plain_alb_synth: Synth) -> Synth:
    """The stack with modelProvider=bedrock (the plain-ALB synth: see the module docstring)."""
    return plain_alb_synth
