"""Lambda packaging without docker: pip with Lambda's platform tags into the asset folder.

`PythonFunction` needs docker at synth; this local bundler needs only pip, so `cdk synth` works on
any machine with the project's virtualenv. Each bundle holds one function's folder, the shared
package and that function's dependencies, with versions taken from pyproject.toml so the Lambda runs
the same ranges the tests ran against.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
LAMBDA_PYTHON_VERSION = "3.14"
# Lambda's arm64 Python 3.12+ runtimes run Amazon Linux 2023 (glibc 2.34): any of these wheels load.
_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


class BundlingError(RuntimeError):
    """pip could not build the bundle: synth stops instead of deploying a broken function."""


def pinned_requirements(names: Sequence[str], pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The requirement strings in pyproject's runtime dependencies for these distribution names."""
    declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    by_name = {_distribution(req): req for req in declared}
    missing = [name for name in names if _distribution(name) not in by_name]
    if missing:
        raise BundlingError(f"{missing} not in pyproject.toml [project].dependencies")
    return [by_name[_distribution(name)] for name in names]


def _distribution(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    if match is None:
        raise BundlingError(f"cannot read requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


@jsii.implements(cdk.ILocalBundling)
class LocalPipBundling:
    """Builds `functions/<name>/` + `shared/` + pip dependencies into CDK's asset output folder."""

    def __init__(self, function_name: str, requirements: Sequence[str]) -> None:
        self.function_name = function_name
        self.requirements = list(requirements)

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage | None = None, **_: object) -> bool:
        out = Path(output_dir)
        self._pip_install(out)
        functions = out / "functions"
        functions.mkdir(exist_ok=True)
        package_init = REPO_ROOT / "functions" / "__init__.py"
        if package_init.exists():
            shutil.copy2(package_init, functions / "__init__.py")
        else:
            (functions / "__init__.py").write_text("")
        shutil.copytree(
            REPO_ROOT / "functions" / self.function_name,
            functions / self.function_name,
            ignore=_IGNORED,
            dirs_exist_ok=True,
        )
        shutil.copytree(REPO_ROOT / "shared", out / "shared", ignore=_IGNORED, dirs_exist_ok=True)
        return True

    def _pip_install(self, out: Path) -> None:
        platforms = [arg for platform in _PLATFORMS for arg in ("--platform", platform)]
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(out),
            "--implementation",
            "cp",
            "--python-version",
            LAMBDA_PYTHON_VERSION,
            *platforms,
            "--only-binary=:all:",
            "--no-compile",
            "--upgrade",
            *self.requirements,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(
                f"pip could not bundle {self.function_name} for Lambda arm64: {result.stderr.strip()}"
            )


def function_code(function_name: str, dependencies: Sequence[str]) -> lambda_.Code:
    """Asset for one function. Hashed on the bundle's output, so the source tree is never fingerprinted
    (and when tests skip bundling, CDK uses a cheap stand-in hash)."""
    source = REPO_ROOT / "functions" / function_name
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            image=LAMBDA_RUNTIME.bundling_image,
            local=LocalPipBundling(function_name, pinned_requirements(dependencies)),
        ),
    )
