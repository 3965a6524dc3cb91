"""tasks.py: locked installs, the lock files themselves, and --latest."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev lock has tomli for 3.10
    import tomli as tomllib

DEV_LOCK = ROOT / "requirements" / "dev.lock"
DEMO_LOCK = ROOT / "requirements" / "demo.lock"
BUILD_IN = ROOT / "requirements" / "build.in"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PLATFORMS = {"linux": ("Linux", "posix"), "darwin": ("Darwin", "posix"), "win32": ("Windows", "nt")}


def load_tasks(monkeypatch: pytest.MonkeyPatch, *argv: str, venv: Path | None = None) -> ModuleType:
    """A fresh copy of tasks.py, as ``python3 tasks.py ARGV...`` would see it."""
    monkeypatch.setattr(sys, "argv", ["tasks.py", *argv])
    if venv is None:
        monkeypatch.delenv("PACKSYNC_VENV", raising=False)  # .ci/run sets it for its 3.10 run
    else:
        monkeypatch.setenv("PACKSYNC_VENV", str(venv))
    spec = importlib.util.spec_from_file_location("tasks_under_test", ROOT / "tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the lock files ----------------------------------------------------------------------------


def read_lock(path: Path) -> list[tuple[Requirement, frozenset[str]]]:
    """Each pinned requirement of a pip requirements file with hashes, and its hashes."""
    entries = []
    logical = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, *hashes = line.split(" --hash=")
        entries.append((Requirement(requirement.strip()), frozenset(h.strip() for h in hashes)))
    return entries


def environments() -> list[dict[str, str]]:
    """Marker environments of every supported Python on each platform the locks are universal for."""
    found = []
    for python in PYTHONS:
        for platform, (system, os_name) in PLATFORMS.items():
            found.append(
                {
                    "python_version": python,
                    "python_full_version": f"{python}.0",
                    "sys_platform": platform,
                    "platform_system": system,
                    "os_name": os_name,
                    "platform_machine": "x86_64",
                    "implementation_name": "cpython",
                    "platform_python_implementation": "CPython",
                    "extra": "",
                }
            )
    return found


def active_pins(path: Path, env: dict[str, str]) -> dict[str, tuple[str, frozenset[str]]]:
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for requirement, hashes in read_lock(path):
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{path.name} pins {name} twice for {env['python_version']}"
        (spec,) = requirement.specifier
        assert spec.operator == "==", requirement
        pins[name] = (spec.version, hashes)
    return pins


def project_requirements() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build_in = [line.split("#")[0].strip() for line in BUILD_IN.read_text().splitlines()]
    return {
        "runtime": [Requirement(r) for r in project["project"]["dependencies"]],
        "dev": [Requirement(r) for r in project["project"]["optional-dependencies"]["dev"]],
        "build": [Requirement(r) for r in [*project["build-system"]["requires"], *filter(None, build_in)]],
    }


def assert_satisfied(path: Path, requirements: list[Requirement]) -> None:
    for env in environments():
        pins = active_pins(path, env)
        for requirement in requirements:
            if requirement.marker is not None and not requirement.marker.evaluate(env):
                continue
            name = canonicalize_name(requirement.name)
            where = f"{path.name}, Python {env['python_version']} on {env['sys_platform']}"
            assert name in pins, f"{where}: no pin for {requirement}; run python3 tasks.py lock"
            version = pins[name][0]
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{where}: {name}=={version} does not satisfy {requirement}; run python3 tasks.py lock"
            )


def test_the_dev_lock_pins_everything_pyproject_asks_for_on_every_supported_python() -> None:
    wanted = project_requirements()
    assert_satisfied(DEV_LOCK, wanted["runtime"] + wanted["dev"] + wanted["build"])


def test_the_demo_lock_has_the_run_time_dependencies_and_the_build_backend_only() -> None:
    wanted = project_requirements()
    assert_satisfied(DEMO_LOCK, wanted["runtime"] + wanted["build"])
    tools = {"pytest", "hypothesis", "ruff", "mypy", "types-pyyaml", "types-jsonschema", "pre-commit"}
    tools.add("check-jsonschema")
    assert tools <= {canonicalize_name(r.name) for r in wanted["dev"]}
    for env in environments():
        assert not tools & set(active_pins(DEMO_LOCK, env)), env["python_version"]


def test_the_demo_lock_pins_the_same_files_as_the_dev_lock() -> None:
    # the demo and the tests run the same versions of what they share
    for env in environments():
        dev = active_pins(DEV_LOCK, env)
        for name, pin in active_pins(DEMO_LOCK, env).items():
            assert dev.get(name) == pin, f"{name} on {env['python_version']}/{env['sys_platform']}"


def test_every_pin_has_hashes_and_the_locks_say_how_to_refresh_them() -> None:
    for path in (DEV_LOCK, DEMO_LOCK):
        entries = read_lock(path)
        assert len(entries) > 10
        for requirement, hashes in entries:
            assert hashes and all(h.startswith("sha256:") for h in hashes), requirement
        assert "#    python3 tasks.py lock\n" in path.read_text()


# --- installing ----------------------------------------------------------------------------------


def test_locked_installs_take_exactly_the_lock_and_build_packsync_with_the_locked_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks = load_tasks(monkeypatch, "test")
    dev = tasks.install_commands("dev", "PY")
    assert [c[3:] for c in dev] == [
        ["install", "--quiet", "--disable-pip-version-check", "--require-hashes", "-r", str(DEV_LOCK)],
        ["install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
    ]
    assert all(c[:3] == ["PY", "-m", "pip"] for c in dev)
    base = tasks.install_commands("base", "PY")
    assert base[0][-2:] == ["-r", str(DEMO_LOCK)] and base[1] == dev[1]


def test_latest_installs_the_newest_releases_unpinned(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = load_tasks(monkeypatch, "test", "--latest", "-k", "loader")
    assert tasks.LATEST and tasks.ARGS == ["-k", "loader"]  # --latest is not passed on to pytest
    assert tasks.VENV == ROOT / ".venv-latest"
    (command,) = tasks.install_commands("latest", "PY")
    assert "--upgrade" in command and "eager" in command and command[-2:] == ["-e", f"{ROOT}[dev]"]
    assert not any("lock" in part for part in command)
    plain = load_tasks(monkeypatch, "test", "-k", "loader")
    assert not plain.LATEST and plain.VENV == ROOT / ".venv" and plain.ARGS == ["-k", "loader"]
    chosen = load_tasks(monkeypatch, "test", "--latest", venv=Path("/somewhere/else")).VENV
    assert chosen == Path("/somewhere/else")  # PACKSYNC_VENV decides


def test_the_lock_task_regenerates_both_locks_with_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = load_tasks(monkeypatch, "lock", "--upgrade")
    dev, demo = tasks.lock_commands("uv", "PY", tasks.ARGS)
    for command in (dev, demo):
        assert command[:4] == ["uv", "pip", "compile", "pyproject.toml"]
        assert "requirements/build.in" in command
        for flag in ("--universal", "--generate-hashes", "--upgrade"):
            assert flag in command
        assert command[command.index("--python-version") + 1] == "3.10"
    assert dev[-2:] == ["-o", "requirements/dev.lock"] and "--extra" in dev
    assert demo[-2:] == ["-o", "requirements/demo.lock"] and "--extra" not in demo
    assert demo[demo.index("--constraints") + 1] == "requirements/dev.lock"


class FakeEnvironment:
    """tasks.setup with its virtual environment and commands replaced by a record of them."""

    def __init__(self, tasks: ModuleType, monkeypatch: pytest.MonkeyPatch, *, pip_check: int = 0) -> None:
        self.tasks = tasks
        self.calls: list[Any] = []
        self.pip_check = pip_check
        monkeypatch.setattr(tasks, "_create_venv", self.create)
        monkeypatch.setattr(tasks, "run", self.run)
        monkeypatch.setattr(tasks, "report_unlocked_versions", lambda: self.calls.append("report"))

    def create(self, clear: bool) -> None:
        self.calls.append(("create", clear))
        self.tasks.BIN.mkdir(parents=True, exist_ok=True)
        self.tasks.PY.write_text("")

    def run(self, cmd: list[str], check: bool = True) -> int:
        args = cmd[3:]
        self.calls.append(" ".join(a for a in args if not a.startswith("--quiet") and "version-check" not in a))
        return self.pip_check if args[0] == "check" else 0

    def take(self) -> list[Any]:
        calls, self.calls = self.calls, []
        return calls


def test_setup_installs_once_and_again_only_when_the_lock_or_pyproject_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = load_tasks(monkeypatch, "test", venv=tmp_path / "env")
    fake = FakeEnvironment(tasks, monkeypatch)
    install = [
        f"install --require-hashes -r {DEV_LOCK}",
        f"install --no-deps --no-build-isolation -e {ROOT}",
        "check",
    ]
    tasks.setup()
    assert fake.take() == [("create", False), *install]
    tasks.setup()
    tasks.setup(dev=False)  # the demo runs in the dev environment: same pins
    assert fake.take() == []

    # A new lock: a new, empty environment, so that nothing the old one installed stays.
    lock = tmp_path / "dev.lock"
    lock.write_text(DEV_LOCK.read_text() + "\n# refreshed\n")
    monkeypatch.setattr(tasks, "DEV_LOCK", lock)
    tasks.setup()
    assert fake.take() == [("create", True), f"install --require-hashes -r {lock}", *install[1:]]

    # pyproject.toml changed (say, a tool setting): packsync is reinstalled in place.
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((ROOT / "pyproject.toml").read_text() + "\n# edited\n")
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    tasks.setup()
    calls = fake.take()
    assert ("create", True) not in calls and calls[-1] == "check"


def test_the_demo_environment_gets_the_dev_tools_when_a_test_needs_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = load_tasks(monkeypatch, "demo", venv=tmp_path / "env")
    fake = FakeEnvironment(tasks, monkeypatch)
    tasks.setup(dev=False)
    assert fake.take()[1] == f"install --require-hashes -r {DEMO_LOCK}"
    tasks.setup()
    assert fake.take()[0] == f"install --require-hashes -r {DEV_LOCK}"  # in place: the pins are the same


def test_a_lock_that_misses_a_dependency_of_pyproject_stops_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = load_tasks(monkeypatch, "test", venv=tmp_path / "env")
    FakeEnvironment(tasks, monkeypatch, pip_check=1)
    with pytest.raises(SystemExit) as stopped:
        tasks.setup()
    assert "requirements/dev.lock" in str(stopped.value) and "python3 tasks.py lock" in str(stopped.value)
    assert not tasks.STAMP.exists()  # the next run tries again


def test_latest_upgrades_on_every_run_and_says_what_is_newer_than_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = load_tasks(monkeypatch, "test", "--latest", venv=tmp_path / "env")
    fake = FakeEnvironment(tasks, monkeypatch)
    upgrade = f"install --upgrade --upgrade-strategy eager -e {ROOT}[dev]"
    tasks.setup()
    assert fake.take() == [("create", False), upgrade, "report"]
    tasks.setup()
    assert fake.take() == [upgrade, "report"]

    pins = tasks.locked_versions(DEV_LOCK)
    assert pins["pyyaml"] and pins["types-pyyaml"]
    (pyyaml,) = pins["pyyaml"]
    freeze = f"PyYAML=={pyyaml}\nruff==999.0\nbrand_new==1.0\n-e git+https://example.com/x#egg=x\n"
    newer = tasks.unlocked_versions(freeze, pins)
    assert newer[0].startswith("ruff 999.0 (locked: ") and newer[1] == "brand_new 1.0 (locked: not in the lock)"
    assert len(newer) == 2


# --- the repository ------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
@pytest.mark.parametrize("directory", [".venv", ".venv-latest", ".venv-py310"])
def test_the_virtual_environments_are_not_committed(directory: str) -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", f"{directory}/bin/python"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{directory} is not in .gitignore"


def test_ci_run_tests_through_tasks_py_so_with_the_lock() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "python3 tasks.py test" in script
    assert 'PACKSYNC_VENV=.venv-py310 "$py310" tasks.py test' in script
    assert "pip install" not in script
