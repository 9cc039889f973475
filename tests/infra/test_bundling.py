"""Lambda bundles: the right code beside the locked dependencies, built without docker.

pip needs the network for the real wheels, so the dependency half of a real bundle is exercised by
`make synth`, not here; tests/infra/test_locks.py checks the locks and the pip command (with a local
wheel, offline), these what goes in beside the dependencies and where their ranges come from.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import shutil
from pathlib import Path

import pytest

from infra.components.bundling import REPO_ROOT, BundlingError, LocalPipBundling, compile_bytecode
from infra.dependencies import (
    LAMBDA_DEPENDENCIES,
    DependencyError,
    lambda_lock,
    pinned_requirements,
    read_lock,
)

pytestmark = pytest.mark.infra


def test_requirements_come_from_pyproject_ranges() -> None:
    requirements = pinned_requirements(["aws-lambda-powertools", "pynamodb", "twilio", "pydantic"])
    assert requirements[0].startswith("aws-lambda-powertools[tracer,parser]>=")
    assert all(any(op in r for op in (">=", "<")) for r in requirements)


def test_an_undeclared_dependency_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DependencyError, match=r"not in pyproject\.toml"):
        pinned_requirements(["left-pad"])


def test_a_function_without_a_registry_line_has_no_bundle() -> None:
    with pytest.raises(BundlingError, match="LAMBDA_DEPENDENCIES"):
        LocalPipBundling("no_such_function")


def test_recordings_bundle_declares_its_http_client() -> None:
    """urllib3 is the recordings Lambda's own HTTP client, not left to botocore's dependency on it."""
    assert "urllib3" in LAMBDA_DEPENDENCIES["recordings"]


def test_bundle_holds_one_function_the_shared_package_and_no_caches(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The code half of try_bundle, with pip replaced: it is the only step that needs the network."""
    installs: list[Path] = []
    monkeypatch.setattr(LocalPipBundling, "_pip_install", lambda self, out: installs.append(out))
    bundler = LocalPipBundling("webhooks")
    assert bundler.try_bundle(str(tmp_path)) is True
    assert installs == [tmp_path]
    assert (tmp_path / "functions" / "__init__.py").exists()
    assert (tmp_path / "functions" / "webhooks" / "app.py").exists()
    assert not (tmp_path / "functions" / "summaries").exists()
    assert (tmp_path / "shared" / "settings.py").exists()
    # no cache copied from the working tree: only the bytecode the bundler compiled for Lambda
    assert {p.suffix for p in tmp_path.rglob("__pycache__/*")} <= {".pyc"}
    assert not [p for p in tmp_path.rglob("__pycache__/*") if ".cpython-311." not in p.name]
    expected = {p.relative_to(REPO_ROOT / "shared") for p in (REPO_ROOT / "shared").rglob("*.py")}
    assert {p.relative_to(tmp_path / "shared") for p in (tmp_path / "shared").rglob("*.py")} == expected


# Imports the function's app with every installed distribution outside its bundle hidden: what a
# cold start in Lambda sees. Optional imports (pynamodb's blinker) fall back as they would there.
_BUNDLE_ONLY_PROBE = """
import importlib.abc, json, sys
from importlib import metadata
allowed = set(json.loads(sys.argv[1]))
owners = metadata.packages_distributions()

class OutsideTheBundle(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.split(".")[0]
        dists = {d.lower().replace("_", "-") for d in owners.get(top, [])}
        if dists and not dists & allowed:
            raise ModuleNotFoundError(f"No module named {top!r} (not in the bundle)", name=top)
        return None

sys.meta_path.insert(0, OutsideTheBundle())
importlib.import_module(sys.argv[2])
"""


@pytest.mark.parametrize("function", sorted(LAMBDA_DEPENDENCIES))
def test_every_library_a_lambda_imports_at_init_is_in_its_bundle(function: str) -> None:
    """A library the function's code imports but its bundle lacks is an ImportError at the first cold
    start in AWS, which no local run shows (the virtualenv has everything). The bundle installs its
    lock (infra/locks/<function>.txt) and nothing else, so the lock is what may be imported."""
    import subprocess
    import sys

    bundled = set(read_lock(lambda_lock(function)))
    allowed = sorted({*bundled, "callscribe"})  # callscribe: the code itself (shared/, functions/)
    done = subprocess.run(
        [sys.executable, "-c", _BUNDLE_ONLY_PROBE, json.dumps(allowed), f"functions.{function}.app"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _pyc_digest(bundle: Path) -> str:
    digest = hashlib.sha256()
    for pyc in sorted(bundle.rglob("*.pyc")):
        digest.update(str(pyc.relative_to(bundle)).encode() + pyc.read_bytes())
    return digest.hexdigest()


def test_the_bundle_ships_bytecode_as_lambda_loads_it(tmp_path: Path) -> None:
    """Cold starts load `.pyc` instead of compiling every module (/var/task is read-only, so Lambda
    cannot cache them); no timestamps or build paths in them, so two builds hash the same."""
    builds = []
    for name in ("one", "other"):
        bundle = tmp_path / name / "bundle"
        shutil.copytree(REPO_ROOT / "shared", bundle / "shared", ignore=shutil.ignore_patterns("__pycache__"))
        assert compile_bytecode(bundle, python=(3, 11))
        builds.append(bundle)
    assert _pyc_digest(builds[0]) == _pyc_digest(builds[1])
    pyc = builds[0] / "shared" / "__pycache__" / "settings.cpython-311.pyc"
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked: never compared with the (read-only) source
    code = marshal.loads(pyc.read_bytes()[16:])  # noqa: S302 - bytecode this test just compiled
    assert code.co_filename == "/var/task/shared/settings.py"  # tracebacks name the deployed file


def test_on_another_python_the_bundle_ships_source_only(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text("x = 1\n")
    assert not compile_bytecode(tmp_path, python=(3, 12))
    assert not list(tmp_path.rglob("*.pyc"))
