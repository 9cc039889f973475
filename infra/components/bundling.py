"""Lambda packaging without docker: pip installs the function's lock into the asset folder.

`PythonFunction` needs docker at synth; this local bundler needs only pip, so `cdk synth` works on
any machine with the deploy environment. Each bundle holds one function's folder, the shared package
and exactly what the function's lock file names (infra/locks/<function>.txt, `make lock`): pip runs
with `--require-hashes --no-deps`, for Lambda's platform (arm64, CPython 3.11, manylinux2014 wheels
only), so the same lock gives the same bundle and the same asset hash on any day. When synth runs on
the Lambda's own Python (3.11), the bundle also ships its bytecode, compiled with unchecked-hash
invalidation and `/var/task` paths, so a cold start loads `.pyc` instead of compiling every library
(/var/task is read-only: Lambda cannot cache it); the `.pyc` carry no timestamps or build paths, so
the hash stays reproducible. On any other Python the bundle ships source only (docs/deploy.md).
"""

from __future__ import annotations

import compileall
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra.dependencies import (
    LAMBDA_DEPENDENCIES,
    LAMBDA_PIP_PLATFORM,
    PYTHON_VERSION,
    REPO_ROOT,
    lambda_lock,
)

# The Python the tests run on (tests/infra/test_locks.py checks both); docs/deploy.md, "What is
# deployed", says until when Lambda supports it and what moving on takes.
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_11
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


class BundlingError(RuntimeError):
    """pip could not build the bundle: synth stops instead of deploying a broken function."""


@jsii.implements(cdk.ILocalBundling)
class LocalPipBundling:
    """Builds `functions/<name>/` + `shared/` + pip dependencies into CDK's asset output folder."""

    def __init__(self, function_name: str, lock: Path | None = None) -> None:
        if function_name not in LAMBDA_DEPENDENCIES:
            raise BundlingError(f"{function_name!r} is not in infra/dependencies.py LAMBDA_DEPENDENCIES")
        self.function_name = function_name
        self.lock = lock or lambda_lock(function_name)

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
        compile_bytecode(out)
        return True

    def pip_command(self, out: Path) -> list[str]:
        """Exactly the lock's pins, each checked against its hashes, as wheels for Lambda's platform."""
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--target",
            str(out),
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--platform",
            LAMBDA_PIP_PLATFORM,
            "--only-binary=:all:",
            "--no-compile",
            "--no-deps",
            "--require-hashes",
            "--requirement",
            str(self.lock),
        ]

    def _pip_install(self, out: Path) -> None:
        if not self.lock.is_file():
            raise BundlingError(f"{self.lock} is missing: run `make lock` and commit it")
        result = subprocess.run(self.pip_command(out), capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(
                f"pip could not bundle {self.function_name} for Lambda arm64 from {self.lock.name}: "
                f"{result.stderr.strip()}"
            )


def function_code(function_name: str) -> lambda_.Code:
    """Asset for one function. Hashed on the bundle's output, so the source tree is never fingerprinted
    (and when tests skip bundling, CDK uses a cheap stand-in hash)."""
    source = REPO_ROOT / "functions" / function_name
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            image=LAMBDA_RUNTIME.bundling_image,
            local=LocalPipBundling(function_name),
        ),
    )


LAMBDA_TASK_ROOT = "/var/task"


def compile_bytecode(bundle: Path, python: tuple[int, int] = sys.version_info[:2]) -> bool:
    """Compile every module of `bundle` as the Lambda's Python will load it: False (source only)
    when this interpreter is not the Lambda's version, whose bytecode the runtime would ignore."""
    if ".".join(map(str, python)) != PYTHON_VERSION:
        print(
            f"callscribe: bundling on Python {python[0]}.{python[1]}, not the Lambdas' {PYTHON_VERSION}: "
            "the bundle ships no bytecode (cold starts compile it)",
            file=sys.stderr,
        )
        return False
    ok = compileall.compile_dir(
        str(bundle),
        quiet=1,
        workers=0,
        stripdir=str(bundle),
        prependdir=LAMBDA_TASK_ROOT,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise BundlingError(f"some modules in {bundle} do not compile")
    return True
