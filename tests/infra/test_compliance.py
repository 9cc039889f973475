"""cdk-nag passes with every acknowledgment reasoned, and cfn-lint finds no errors."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import Synth, TemplateLints

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("which", ["synth", "default_synth", "plain_alb_synth"])
def test_cdk_nag_passes_and_every_acknowledgment_has_a_reason(
    which: str, request: pytest.FixtureRequest
) -> None:
    synthesised: Synth = request.getfixturevalue(which)
    report = json.loads((synthesised.outdir / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    assert plugin["pluginName"] == "AwsSolutions"
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    assert plugin["suppressedViolations"], "the checks ran (some findings are acknowledged)"
    for suppressed in plugin["suppressedViolations"]:
        assert len(suppressed["reason"]) > 40, suppressed["ruleName"]


def test_cfn_lint_reports_no_errors(
    synth: Synth, default_synth: Synth, plain_alb_synth: Synth, template_lints: TemplateLints
) -> None:
    """Every template through cfn-lint (each started in the background once synthesised: conftest)."""
    results = [template_lints.result(s) for s in (synth, default_synth, plain_alb_synth)]
    assert [len(r.templates) for r in results] == [1, 1, 1]
    for result in results:
        errors = [line for line in result.stdout.splitlines() if ":E" in line]
        # exit 0: clean; 4: warnings only (CDK's explicit DependsOn gives W3005)
        assert result.returncode in (0, 4), result.stdout + result.stderr
        assert errors == []
