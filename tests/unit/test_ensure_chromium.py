"""scripts/ensure_chromium.sh, which `make install`, `make test` and `.ci/run` rely on for the browser
tests' Chromium: it finds one, installs Debian's package as root when none is there, and otherwise
fails with the commands that fix it. Run with a PATH of stand-ins (`id`, `apt-get`, `chromium`), so
nothing is installed and the answer does not depend on this machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure_chromium.sh"
BASH = shutil.which("bash") or "/bin/bash"
LN = shutil.which("ln") or "/bin/ln"

CHROMIUM = '#!/bin/sh\necho "Chromium 130.0.0.0 built on Debian"\n'


def _stand_in(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body)
    path.chmod(0o755)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """Only what the script may use besides the stand-ins a test adds."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("cat", "head"):
        found = shutil.which(tool)
        assert found is not None
        (folder / tool).symlink_to(found)
    return folder


def run(bin_dir: Path, *, uid: int, **env: str) -> subprocess.CompletedProcess[str]:
    _stand_in(bin_dir, "id", f'#!/bin/sh\n[ "$1" = "-u" ] && echo {uid}\n')
    return subprocess.run(
        [BASH, str(SCRIPT)],
        env={"PATH": str(bin_dir), "HOME": str(bin_dir.parent), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_chromium_on_path_is_used(bin_dir: Path) -> None:
    _stand_in(bin_dir, "chromium", CHROMIUM)
    result = run(bin_dir, uid=1000)
    assert result.returncode == 0, result.stderr
    assert f"Chromium 130.0.0.0 built on Debian ({bin_dir / 'chromium'})" in result.stdout


def test_as_root_a_missing_chromium_is_installed_from_debian(bin_dir: Path, tmp_path: Path) -> None:
    calls = tmp_path / "apt-calls"
    package = _stand_in(tmp_path, "chromium-package", CHROMIUM)  # what the install puts on PATH
    _stand_in(
        bin_dir,
        "apt-get",
        f'#!/bin/sh\necho "$@" >> {calls}\n'
        f'[ "$1" = "install" ] && {LN} -s {package} {bin_dir}/chromium\nexit 0\n',
    )
    result = run(bin_dir, uid=0)
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]
    assert "browser tests use Chromium 130" in result.stdout


def test_without_root_it_fails_saying_how_to_install(bin_dir: Path, tmp_path: Path) -> None:
    calls = tmp_path / "apt-calls"
    _stand_in(bin_dir, "apt-get", f'#!/bin/sh\necho "$@" >> {calls}\n')
    result = run(bin_dir, uid=1000)
    assert result.returncode == 1
    assert "cannot install it (that needs root and apt-get)" in result.stderr
    assert "sudo apt-get install -y chromium" in result.stderr
    assert "CALLSCRIBE_CHROMIUM" in result.stderr
    assert not calls.exists()


def test_a_failed_install_fails_with_the_same_help(bin_dir: Path) -> None:
    _stand_in(bin_dir, "apt-get", '#!/bin/sh\necho "E: Unable to locate package chromium" >&2\nexit 100\n')
    result = run(bin_dir, uid=0)
    assert result.returncode == 1
    assert "E: Unable to locate package chromium" in result.stderr
    assert "installing Debian's chromium with apt-get failed" in result.stderr
    assert "sudo apt-get install -y chromium" in result.stderr


def test_a_configured_binary_must_exist(bin_dir: Path, tmp_path: Path) -> None:
    _stand_in(bin_dir, "chromium", CHROMIUM)  # not used: the configured one wins
    result = run(bin_dir, uid=0, CALLSCRIBE_CHROMIUM=str(tmp_path / "nowhere" / "chrome"))
    assert result.returncode == 1
    assert "is not an executable file" in result.stderr

    chrome = _stand_in(tmp_path, "chrome", '#!/bin/sh\necho "Google Chrome 131"\n')
    result = run(bin_dir, uid=1000, CALLSCRIBE_CHROMIUM=str(chrome))
    assert result.returncode == 0, result.stderr
    assert f"Google Chrome 131 ({chrome})" in result.stdout
