"""`make lock`: compile the hashed lock files of everything deployed, with uv, from pyproject's ranges.

Writes infra/locks/runtime.txt (every runtime dependency, resolved once), one lock per Lambda
(infra/locks/<function>.in -> .txt, from infra/dependencies.py), streamer/requirements.lock (from
streamer/requirements.txt) and infra/locks/deploy.txt (what synth imports, for any deployer's OS).
Each unit's lock is constrained by runtime.txt, so a library has one version everywhere.

Without --upgrade, versions already locked stay where pyproject's ranges still allow them (a new
dependency adds only itself and what it needs); --upgrade moves everything to the newest allowed.
`python scripts/lock.py --constraints` prints the runtime and deploy pins without hashes, which
`make install` gives pip as constraints so the tests run the versions AWS runs.
Needs uv (the dev extra) and PyPI.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.dependencies import (
    DEPLOY_INPUT,
    DEPLOY_LOCK,
    LAMBDA_DEPENDENCIES,
    LOCK_DIR,
    LOCK_PLATFORM,
    PYTHON_VERSION,
    REPO_ROOT,
    RUNTIME_LOCK,
    STREAMER_LOCK,
    STREAMER_REQUIREMENTS,
    deploy_input_text,
    lambda_input,
    lambda_input_text,
    lambda_lock,
    read_lock,
)

# The streamer image is built for arm64 by default and for x86_64 with streamerArm64=false: its lock
# must resolve to the same pins on both (it holds every platform's wheel hashes).
_OTHER_STREAMER_PLATFORM = "x86_64-manylinux2014"


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def _compile(
    source: Path,
    output: Path,
    *,
    platform: str | None,
    constraints: Sequence[Path] = (),
    upgrade: bool,
) -> None:
    """One `uv pip compile`, run from the repository root so the files name each other relatively."""
    command = [
        sys.executable,
        "-m",
        "uv",
        "pip",
        "compile",
        _relative(source),
        "--output-file",
        _relative(output) if output.is_relative_to(REPO_ROOT) else str(output),
        "--python-version",
        PYTHON_VERSION,
        *(("--python-platform", platform) if platform else ("--universal",)),
        "--generate-hashes",
        "--only-binary",
        ":all:",
        "--custom-compile-command",
        "make lock",
        "--quiet",
        *(arg for constraint in constraints for arg in ("--constraint", _relative(constraint))),
        *(("--upgrade",) if upgrade else ()),
    ]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"uv could not lock {_relative(source)}:\n{done.stderr.strip()}")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _check_streamer_on_both_architectures(upgrade: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        other = Path(scratch) / "streamer-x86_64.txt"
        _compile(
            STREAMER_REQUIREMENTS,
            other,
            platform=_OTHER_STREAMER_PLATFORM,
            constraints=[RUNTIME_LOCK],
            upgrade=upgrade,
        )
        arm = {name: pin.version for name, pin in read_lock(STREAMER_LOCK).items()}
        x86 = {name: pin.version for name, pin in read_lock(other).items()}
    if arm != x86:
        differing = sorted(set(arm.items()) ^ set(x86.items()))
        raise SystemExit(f"the streamer resolves differently on arm64 and x86_64: {differing}")


def lock(upgrade: bool) -> None:
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    _compile(REPO_ROOT / "pyproject.toml", RUNTIME_LOCK, platform=LOCK_PLATFORM, upgrade=upgrade)
    for name in LAMBDA_DEPENDENCIES:
        _write_if_changed(lambda_input(name), lambda_input_text(name))
        _compile(
            lambda_input(name),
            lambda_lock(name),
            platform=LOCK_PLATFORM,
            constraints=[RUNTIME_LOCK],
            upgrade=upgrade,
        )
    _compile(
        STREAMER_REQUIREMENTS,
        STREAMER_LOCK,
        platform=LOCK_PLATFORM,
        constraints=[RUNTIME_LOCK],
        upgrade=upgrade,
    )
    _check_streamer_on_both_architectures(upgrade)
    _write_if_changed(DEPLOY_INPUT, deploy_input_text())
    _compile(DEPLOY_INPUT, DEPLOY_LOCK, platform=None, constraints=[RUNTIME_LOCK], upgrade=upgrade)
    # A function taken out of LAMBDA_DEPENDENCIES leaves no lock behind.
    keep = {RUNTIME_LOCK, DEPLOY_INPUT, DEPLOY_LOCK}
    keep |= {lambda_input(name) for name in LAMBDA_DEPENDENCIES} | {
        lambda_lock(name) for name in LAMBDA_DEPENDENCIES
    }
    for stale in sorted(set(LOCK_DIR.glob("*.in")) | set(LOCK_DIR.glob("*.txt"))):
        if stale not in keep:
            stale.unlink()


def constraints() -> str:
    """name==version lines (markers kept, hashes dropped): pip refuses unhashed requirements once a
    constraint carries hashes, and the tests' environment also holds tools no lock covers."""
    lines = []
    for path in (RUNTIME_LOCK, DEPLOY_LOCK):
        for pin in read_lock(path).values():
            lines.append(f"{pin.name}=={pin.version}" + (f"; {pin.marker}" if pin.marker else ""))
    return "\n".join(sorted(set(lines))) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest allowed version")
    parser.add_argument(
        "--constraints", action="store_true", help="print the pins without hashes (for pip -c) and exit"
    )
    args = parser.parse_args(argv)
    if args.constraints:
        sys.stdout.write(constraints())
        return
    lock(upgrade=args.upgrade)


if __name__ == "__main__":
    main()
