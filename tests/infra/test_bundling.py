"""Lambda bundles: the right code beside the locked dependencies, built without docker.

pip needs the network for the real wheels, so the dependency half of a real bundle is exercised by
`make synth`, not here; tests/infra/test_locks.py checks the locks and the pip command (with a local
wheel, offline), these what goes in beside the dependencies and where their ranges come from.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.components.bundling import REPO_ROOT, BundlingError, LocalPipBundling
from infra.dependencies import LAMBDA_DEPENDENCIES, DependencyError, pinned_requirements

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
        LocalPipBundling("console_api")


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
    assert not list(tmp_path.rglob("__pycache__"))
    expected = {p.relative_to(REPO_ROOT / "shared") for p in (REPO_ROOT / "shared").rglob("*.py")}
    assert {p.relative_to(tmp_path / "shared") for p in (tmp_path / "shared").rglob("*.py")} == expected
