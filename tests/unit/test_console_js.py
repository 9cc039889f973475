"""The console's pure modules and its live-feed client, under node's own test runner
(`tests/console_js/*.test.mjs`): the same ES modules the browser loads, no browser, timers mocked.
node is a prerequisite of the project (README), as for the CDK."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_console_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js 20+ (the README's prerequisites)", pytrace=False)
    result = subprocess.run(
        [node, "--test", "tests/console_js/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
