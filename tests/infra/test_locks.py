"""The lock files: compiled from what pyproject and infra/dependencies.py say now, hashed, one version
of each library everywhere, the Python the tests run on, and the bundles and the image built from them.

Offline: nothing here resolves or downloads (`make lock` does, with uv). A failure that says "run
`make lock`" means an input changed since the locks were compiled: run it and commit the locks.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from base64 import urlsafe_b64encode
from hashlib import sha256
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.components.bundling import LAMBDA_RUNTIME, BundlingError, LocalPipBundling
from infra.dependencies import (
    DEPLOY_INPUT,
    DEPLOY_LOCK,
    LAMBDA_DEPENDENCIES,
    LAMBDA_PIP_PLATFORM,
    LOCK_DIR,
    PYTHON_VERSION,
    REPO_ROOT,
    RUNTIME_LOCK,
    STREAMER_LOCK,
    STREAMER_REQUIREMENTS,
    Pin,
    declared_requirements,
    deploy_input_text,
    direct_names,
    lambda_input,
    lambda_input_text,
    lambda_lock,
    read_lock,
    runtime_requirements,
)

pytestmark = pytest.mark.infra

RUN_MAKE_LOCK = "run `make lock` and commit the locks"
# The target every lock but deploy.txt is resolved for (deploy.txt is universal: any deployer's OS).
TARGET = {
    "python_version": PYTHON_VERSION,
    "python_full_version": f"{PYTHON_VERSION}.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "extra": "",
}


def _unit_locks() -> dict[str, Path]:
    """Every lock a deployed unit installs, by a readable name."""
    locks = {f"{name} Lambda": lambda_lock(name) for name in LAMBDA_DEPENDENCIES}
    return {**locks, "streamer image": STREAMER_LOCK, "deploy environment": DEPLOY_LOCK}


def _applies(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate(TARGET)


def test_each_lock_input_is_what_pyproject_and_the_registry_say_now() -> None:
    """A range changed in pyproject, or a library added to a function's line, changes its input."""
    for name in LAMBDA_DEPENDENCIES:
        assert lambda_input(name).read_text() == lambda_input_text(name), f"{name}: {RUN_MAKE_LOCK}"
    assert DEPLOY_INPUT.read_text() == deploy_input_text(), f"deploy: {RUN_MAKE_LOCK}"


def test_every_function_has_a_line_in_the_registry_and_a_lock() -> None:
    """A new functions/<name>/app.py without its line would be deployed with no bundle to import."""
    functions = {p.parent.name for p in (REPO_ROOT / "functions").glob("*/app.py")}
    assert functions == set(LAMBDA_DEPENDENCIES), "add the function's line to infra/dependencies.py"
    expected = {lambda_lock(n) for n in functions} | {lambda_input(n) for n in functions}
    expected |= {RUNTIME_LOCK, DEPLOY_INPUT, DEPLOY_LOCK}
    assert set(LOCK_DIR.glob("*.txt")) | set(LOCK_DIR.glob("*.in")) == expected, RUN_MAKE_LOCK


def test_runtime_lock_pins_every_runtime_dependency_within_its_range() -> None:
    runtime = read_lock(RUNTIME_LOCK)
    for requirement in map(Requirement, runtime_requirements().values()):
        if not _applies(requirement):
            continue  # e.g. audioop-lts, only for Python >= 3.13
        pin = runtime.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is not in runtime.txt: {RUN_MAKE_LOCK}"
        assert requirement.specifier.contains(pin.version, prereleases=True), (requirement, pin.version)


@pytest.mark.parametrize("unit", sorted(_unit_locks()))
def test_each_unit_lock_pins_its_inputs_within_pyprojects_ranges(unit: str) -> None:
    lock = _unit_locks()[unit]
    pins = read_lock(lock)
    source = {DEPLOY_LOCK: DEPLOY_INPUT, STREAMER_LOCK: STREAMER_REQUIREMENTS}.get(
        lock, lock.with_suffix(".in")
    )
    for name in direct_names(source.read_text().splitlines()):
        assert name in pins, f"{unit}: {name} is not locked: {RUN_MAKE_LOCK}"
    declared = {canonicalize_name(k): Requirement(v) for k, v in declared_requirements().items()}
    for pin in pins.values():
        requirement = declared.get(canonicalize_name(pin.name))
        if requirement is not None:
            assert requirement.specifier.contains(pin.version, prereleases=True), (unit, requirement, pin)


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, *sorted(_unit_locks().values())], ids=lambda p: p.name)
def test_every_pin_carries_sha256_hashes(lock: Path) -> None:
    pins = read_lock(lock)
    assert pins
    for pin in pins.values():
        assert pin.hashes, pin
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), pin


def test_a_library_has_one_version_in_every_unit() -> None:
    """Each unit is compiled against runtime.txt: the webhooks, the summaries and the streamer never
    run two versions of pydantic, and the Lambdas and the streamer hold nothing runtime.txt lacks."""
    runtime = read_lock(RUNTIME_LOCK)
    for unit, lock in _unit_locks().items():
        for pin in read_lock(lock).values():
            if lock != DEPLOY_LOCK:
                assert pin.name in runtime, f"{unit}: {pin.name} is not in runtime.txt: {RUN_MAKE_LOCK}"
            if pin.name in runtime:
                assert pin.version == runtime[pin.name].version, (unit, pin, runtime[pin.name].version)


def test_the_streamers_ranges_are_pyprojects() -> None:
    """streamer/requirements.txt is the image's input; a range that drifted from pyproject's would be
    locked and shipped without any test having run it."""
    declared = {canonicalize_name(k): Requirement(v) for k, v in runtime_requirements().items()}
    for line in STREAMER_REQUIREMENTS.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in declared, f"{name}: declare it in pyproject.toml's dependencies too"
        assert requirement.specifier == declared[name].specifier, (requirement, declared[name])


def test_the_tests_run_the_versions_aws_runs() -> None:
    """`make install` installs with the runtime lock as constraints; an environment built otherwise
    tests code AWS does not run (re-run `make install` after `make lock`)."""
    differing = {}
    for pin in read_lock(RUNTIME_LOCK).values():
        try:
            installed = metadata.version(pin.name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != pin.version:
            differing[pin.name] = (pin.version, installed)
    assert not differing, f"locked vs installed here: {differing}"


def test_lambdas_and_the_image_run_the_python_the_tests_run_on() -> None:
    assert sys.version_info[:2] == tuple(int(p) for p in PYTHON_VERSION.split("."))
    assert LAMBDA_RUNTIME.name == f"python{PYTHON_VERSION}"
    dockerfile = (REPO_ROOT / "streamer" / "Dockerfile").read_text()
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert re.fullmatch(rf"python:{re.escape(PYTHON_VERSION)}\.\d+-slim-\w+@sha256:[0-9a-f]{{64}}", image)
    assert re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE) == ["${PYTHON_IMAGE}"] * 2


def test_the_image_installs_exactly_its_lock() -> None:
    dockerfile = (REPO_ROOT / "streamer" / "Dockerfile").read_text()
    assert "COPY streamer/requirements.lock /tmp/requirements.lock" in dockerfile
    (install,) = [line for line in dockerfile.splitlines() if "pip install" in line]
    for option in ("--require-hashes", "--no-deps", "--only-binary=:all:", "-r /tmp/requirements.lock"):
        assert option in install


def test_bundles_install_their_function_lock_for_lambdas_platform(tmp_path: Path) -> None:
    command = LocalPipBundling("webhooks").pip_command(tmp_path)
    assert command[command.index("--requirement") + 1] == str(lambda_lock("webhooks"))
    assert command[command.index("--python-version") + 1] == PYTHON_VERSION
    assert command[command.index("--platform") + 1] == LAMBDA_PIP_PLATFORM
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:", "--no-compile"} <= set(command)
    assert not any(arg.startswith(("aws-", "boto3", "pydantic")) for arg in command)  # no ranges


def _wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, so pip's hash checking runs offline."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": b"VALUE = 1\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={urlsafe_b64encode(sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in files.items()
    ]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    path = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


@pytest.mark.parametrize("tampered", [False, True], ids=["hash-matches", "hash-differs"])
def test_bundling_refuses_a_wheel_whose_hash_is_not_the_locked_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tampered: bool
) -> None:
    """The real pip command against a local index: the locked hash installs, any other stops synth."""
    index = tmp_path / "index"
    index.mkdir()
    wheel = _wheel(index, "callscribe-probe", "1.0")
    digest = sha256(wheel.read_bytes()).hexdigest()
    lock = tmp_path / "probe.txt"
    lock.write_text(f"callscribe-probe==1.0 \\\n    --hash=sha256:{'0' * 64 if tampered else digest}\n")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.setenv("PIP_CONSTRAINT", "")
    out = tmp_path / "bundle"
    bundler = LocalPipBundling("webhooks", lock=lock)
    if tampered:
        with pytest.raises(BundlingError, match=r"(?i)hash"):
            bundler._pip_install(out)
        assert not (out / "callscribe_probe").exists()
    else:
        bundler._pip_install(out)
        assert (out / "callscribe_probe" / "__init__.py").read_text() == "VALUE = 1\n"


def test_a_missing_lock_stops_the_synth(tmp_path: Path) -> None:
    with pytest.raises(BundlingError, match="make lock"):
        LocalPipBundling("webhooks", lock=tmp_path / "absent.txt")._pip_install(tmp_path)


def test_lock_reader_reads_markers_hashes_and_annotations(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# header\n"
        "colorama==0.4.6 ; sys_platform == 'win32' \\\n"
        f"    --hash=sha256:{'a' * 64} \\\n"
        f"    --hash=sha256:{'b' * 64}\n"
        "    # via click\n"
        "Typing_Extensions==4.16.0 \\\n"
        f"    --hash=sha256:{'c' * 64}\n"
        "    # via\n    #   -c infra/locks/runtime.txt\n"
    )
    assert read_lock(lock) == {
        "colorama": Pin(
            "colorama", "0.4.6", (f"sha256:{'a' * 64}", f"sha256:{'b' * 64}"), "sys_platform == 'win32'"
        ),
        "typing-extensions": Pin("typing-extensions", "4.16.0", (f"sha256:{'c' * 64}",), None),
    }


def test_make_install_constrains_the_environment_to_the_locks() -> None:
    """What `make install` hands pip: every runtime and deploy pin, without hashes (pip would then
    demand hashes for the test tools too)."""
    done = subprocess.run(
        [sys.executable, "scripts/lock.py", "--constraints"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert not any("--hash" in line for line in lines)
    pins = {**read_lock(RUNTIME_LOCK), **read_lock(DEPLOY_LOCK)}
    assert {line.split("==")[0] for line in lines} == set(pins)
    for line in lines:
        name, version = line.split(";")[0].split("==")
        assert pins[name].version == version
