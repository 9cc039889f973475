"""The callscribe CDK app (`cdk.json`: `python3 infra/app.py`, a contract: the Makefile's deploy
targets run the pinned CLI with .venv-deploy's python3 first on PATH, so that string finds aws_cdk).

Synthesises offline: no docker (Lambda code is bundled locally with pip, the streamer image is built
at deploy) and no AWS credentials (the stack is account-agnostic, so nothing is looked up).
cdk-nag's AwsSolutions checks run on every synth; an unacknowledged finding fails it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# `python3 infra/app.py` puts infra/ first on sys.path; the app imports `infra.*` and `shared.*`
# from the repository root instead, so nothing in infra/ can shadow a library.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO_ROOT / "infra"]
sys.path.insert(0, str(REPO_ROOT))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.components.config import InfraConfig  # noqa: E402
from infra.stack import CallscribeStack  # noqa: E402

DEFAULT_REGION = "us-east-1"


def build_app(app: cdk.App | None = None) -> tuple[cdk.App, CallscribeStack]:
    """The app with its stack and the cdk-nag checks; tests call this with their own App."""
    app = app or cdk.App()
    config = InfraConfig.from_context(app.node)
    # Region-pinned (ALB access logging needs the region's log-delivery principal), account-agnostic
    # (so no context lookups: the VPC takes its two AZs from Fn::GetAZs and synth needs no credentials).
    region = app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    stack = CallscribeStack(
        app,
        config.stack_name,
        config=config,
        env=cdk.Environment(region=str(region)),
        description="callscribe: Twilio calls with live Deepgram transcripts and Claude summaries",
    )
    cdk.Tags.of(stack).add("project", "callscribe")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
