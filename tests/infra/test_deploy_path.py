"""The deploy path as docs/deploy.md gives it: `make synth` runs the pinned CDK CLI, which runs
cdk.json's `python3 infra/app.py` with the deploy environment's python3, not the machine's.

The machine's own `python3` here is a stub that fails the way a system Python without aws_cdk does;
the deploy environment is this test's interpreter behind a `python3` that only turns Lambda bundling
off in the context the CLI hands the app (bundling pip-installs from PyPI: tests/infra/test_locks.py
covers the pip command offline, `make synth` the real thing). Everything else is what a deployer
runs: the Makefile target, CONTEXT passed through, the CLI checking the cloud assembly it reads back,
cdk-nag. Needs make, node and npm (`npm ci` from the pinned package-lock.json on first run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.dependencies import DEPLOY_LOCK
from tests.infra.conftest import REPO_ROOT

pytestmark = pytest.mark.infra

# What the CLI passes the app its context in (aws-cdk's cxapi CONTEXT_ENV), and the key that tells
# the app which stacks to bundle (cxapi BUNDLING_STACKS; the CLI sets ["**"] for synth and deploy).
_CONTEXT_ENV = "CDK_CONTEXT_JSON"
_BUNDLING_STACKS = "aws:cdk:bundling-stacks"

_NO_BUNDLING = f"""import json, os, sys
context = json.loads(os.environ.get({_CONTEXT_ENV!r}) or "{{}}")
context[{_BUNDLING_STACKS!r}] = []
os.environ[{_CONTEXT_ENV!r}] = json.dumps(context)
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("npm") is None, reason="needs make and npm")
def test_make_synth_runs_the_app_with_the_deploy_environment_not_the_system_python(tmp_path: Path) -> None:
    system = tmp_path / "system-bin"
    system.mkdir()
    _executable(
        system / "python3",
        "#!/bin/sh\necho \"No module named 'aws_cdk' (the machine's python3)\" >&2\nexit 1\n",
    )
    deploy_env = tmp_path / "deploy-env"
    (deploy_env / "bin").mkdir(parents=True)
    (deploy_env / "no_bundling.py").write_text(_NO_BUNDLING)
    _executable(
        deploy_env / "bin" / "python3",
        f'#!/bin/sh\nexec "{sys.executable}" "{deploy_env}/no_bundling.py" "$@"\n',
    )
    stamp = deploy_env / ".installed"
    stamp.touch()
    os.utime(stamp, (DEPLOY_LOCK.stat().st_mtime + 1,) * 2)  # installed after the lock: make skips pip
    out = tmp_path / "cdk.out"
    environment = {
        **os.environ,
        "PATH": f"{system}{os.pathsep}{os.environ['PATH']}",
        "AWS_EC2_METADATA_DISABLED": "true",  # no credentials here: do not wait for an instance role
        "CDK_DISABLE_CLI_TELEMETRY": "true",  # offline, the CLI waits ~20 s to send it at exit
    }
    environment.pop("PYTHONPATH", None)  # the app puts the repository first on sys.path itself
    for inherited in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # when the suite itself runs under `make test`
        environment.pop(inherited, None)

    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "synth",
            f"DEPLOY_VENV={deploy_env}",
            "CONTEXT=-c alarmEmail=oncall@example.com -c region=eu-west-1",
            f"ARGS=--output {out} --no-notices",
        ],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "the machine's python3" not in done.stderr
    template = json.loads((out / "Callscribe.template.json").read_text())
    resources = template["Resources"].values()
    runtimes = {r["Properties"]["Runtime"] for r in resources if r["Type"] == "AWS::Lambda::Function"}
    assert "python3.11" in runtimes
    emails = [r["Properties"]["Endpoint"] for r in resources if r["Type"] == "AWS::SNS::Subscription"]
    assert emails == ["oncall@example.com"]  # CONTEXT reached the app
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["artifacts"]["Callscribe"]["environment"] == "aws://unknown-account/eu-west-1"
