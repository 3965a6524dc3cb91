"""Project tasks that need nothing but Python 3.10+: python3 tasks.py TASK (demo, test, bench, mutate, lint,
setup, lock, release-check).

Each task creates (or refreshes) a virtual environment in .venv with packsync and
its development tools installed at the versions pinned in requirements/dev.lock
(the demo: requirements/demo.lock, without the development tools), then runs.

--latest (python3 tasks.py test --latest): the same task in .venv-latest, with the
newest releases that pyproject.toml allows instead of the pinned ones.

python3 tasks.py lock [--upgrade | --upgrade-package NAME ...] regenerates the lock
files with uv (installed into .venv when missing): without --upgrade, pins that
still satisfy pyproject.toml are kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import venv
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent
REQUIREMENTS = ROOT / "requirements"
DEV_LOCK = REQUIREMENTS / "dev.lock"  # pyproject.toml with its dev extra, and BUILD_IN
DEMO_LOCK = REQUIREMENTS / "demo.lock"  # pyproject.toml's run-time dependencies, and BUILD_IN
BUILD_IN = REQUIREMENTS / "build.in"  # what building packsync (editable) needs
LOCK_PYTHON = "3.10"  # the oldest supported Python; the locks are universal, so they hold for every newer one

# --latest may come anywhere after the task's name; every other argument goes to the task.
LATEST = "--latest" in sys.argv[2:]
ARGS = [arg for arg in sys.argv[2:] if arg != "--latest"]


def venv_dir(latest: bool = LATEST, environ: Mapping[str, str] = os.environ) -> Path:
    """The virtual environment of this run: $PACKSYNC_VENV, else .venv (.venv-latest with --latest)."""
    chosen = environ.get("PACKSYNC_VENV")
    if chosen:
        return Path(chosen)
    return ROOT / (".venv-latest" if latest else ".venv")


VENV = venv_dir()
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".packsync-stamp"


def _digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def stamp(mode: str) -> str:
    """What an environment in ``mode`` (dev, base or latest) was installed from.

    Three fields: the mode; the environment (the Python and, unless latest, the content of
    both lock files), which when it changes makes a new virtual environment; and the project
    (pyproject.toml), which when it changes reinstalls packsync in place.
    """
    python = sys.version.encode()
    env = (
        _digest(python, b"latest")
        if mode == "latest"
        else _digest(python, DEV_LOCK.read_bytes(), DEMO_LOCK.read_bytes())
    )
    return f"{mode} {env} {_digest((ROOT / 'pyproject.toml').read_bytes())}"


def is_current(installed: str, wanted: str) -> bool:
    """Whether an environment stamped ``installed`` serves a task that wants ``wanted``.

    A dev environment serves the demo too (same pins, plus the development tools). A latest
    environment is never current: each run takes the newest releases again.
    """
    have, want = installed.split(), wanted.split()
    if len(have) != 3 or have[1:] != want[1:] or want[0] == "latest":
        return False
    return have[0] == want[0] or (have[0], want[0]) == ("dev", "base")


def install_commands(mode: str, python: Path | str) -> list[list[str]]:
    """The pip commands that install packsync in ``mode`` into the environment of ``python``."""
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if mode == "latest":
        return [[*pip, "--upgrade", "--upgrade-strategy", "eager", "-e", f"{ROOT}[dev]"]]
    lock = DEV_LOCK if mode == "dev" else DEMO_LOCK
    return [
        # Exactly the pinned files: every distribution must match a hash of the lock.
        [*pip, "--require-hashes", "-r", str(lock)],
        # packsync itself, built by the locked hatchling; its dependencies are all in place.
        [*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
    ]


def _create_venv(clear: bool) -> None:
    print(f"{'recreating' if clear else 'creating'} the virtual environment {VENV}", flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=clear).create(VENV)
    except Exception as exc:  # e.g. Debian without python3-venv
        sys.exit(f"cannot create a virtual environment ({exc}); on Debian/Ubuntu: apt-get install python3-venv")


def setup(dev: bool = True) -> None:
    """Create the virtual environment and install packsync (with its dev tools when ``dev``).

    Skipped when the environment is already current for the lock files and pyproject.toml.
    """
    if sys.version_info < (3, 10):  # noqa: UP036 - tasks.py may be run by an older python3
        sys.exit(f"packsync needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    # With --latest, the demo too gets the development tools: one environment of newest releases.
    mode = "latest" if LATEST else "dev" if dev else "base"
    wanted = stamp(mode)
    installed = STAMP.read_text() if STAMP.exists() and PY.exists() else ""
    if is_current(installed, wanted):
        return
    if not PY.exists():
        _create_venv(clear=VENV.exists())
    elif installed and installed.split()[1:2] != wanted.split()[1:2]:
        # Other pins or another Python: start from an empty environment, so that nothing a
        # previous lock installed stays behind.
        _create_venv(clear=True)
    what = {"dev": "and its development tools", "base": "", "latest": "and the newest releases of its dependencies"}
    print(f"installing packsync {what[mode]}".rstrip(), flush=True)
    for command in install_commands(mode, PY):
        run(command)
    if mode == "latest":
        report_unlocked_versions()
    # A lock older than a dependency added to pyproject.toml installs without complaint; pip check does not.
    if mode != "latest" and run([str(PY), "-m", "pip", "check", "--disable-pip-version-check"], check=False):
        lock = (DEV_LOCK if mode == "dev" else DEMO_LOCK).relative_to(ROOT)
        sys.exit(f"{lock} lacks what pyproject.toml asks for (above); refresh the lock files: python3 tasks.py lock")
    STAMP.write_text(wanted)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = DEV_LOCK) -> dict[str, set[str]]:
    """Every version a lock file pins, by normalized name (several when they differ by Python)."""
    pins: dict[str, set[str]] = {}
    for match in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", lock.read_text(), re.MULTILINE):
        pins.setdefault(_normal(match[1]), set()).add(match[2])
    return pins


def unlocked_versions(freeze: str, pins: dict[str, set[str]]) -> list[str]:
    """The lines of ``pip freeze`` output whose version is not one the lock pins."""
    found = []
    for line in freeze.splitlines():
        name, sep, version = line.partition("==")
        if sep and version not in pins.get(_normal(name), set()):
            locked = ", ".join(sorted(pins.get(_normal(name), set()))) or "not in the lock"
            found.append(f"{name} {version} (locked: {locked})")
    return found


def report_unlocked_versions() -> None:
    """Show what --latest tests that the lock does not pin: the releases that are new since."""
    freeze = subprocess.run(
        [str(PY), "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = unlocked_versions(freeze, locked_versions())
    lock = DEV_LOCK.relative_to(ROOT)
    print(f"versions other than {lock}'s: " + ("; ".join(found) if found else "none"), flush=True)


def run(cmd: list[str], check: bool = True) -> int:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call(cmd, cwd=ROOT)
    if check and code != 0:
        sys.exit(code)
    return code


def demo() -> None:
    """The whole flow on the example packs, against the embedded sandbox (no key, no network)."""
    setup(dev=False)
    packsync = str(BIN / "packsync")
    state = ROOT / ".packsync" / "sandbox.db"
    # start from an empty sandbox account each time, and forget what was sent to the last one
    sent = ROOT / ".packsync" / "state" / "sandbox.json"
    for leftover in (state, state.with_name("sandbox.db-wal"), state.with_name("sandbox.db-shm"), sent):
        leftover.unlink(missing_ok=True)
    run([packsync, "validate"])
    run([packsync, "render", "pet-portraits", "--prompt", "autumn-park", "--set", "fur_color=golden fur"])
    # The default target of packsync.yaml is the embedded sandbox: started and stopped by packsync.
    run([packsync, "plan"])
    run([packsync, "apply", "--auto-approve"])
    run([packsync, "plan", "--detailed-exitcode"])  # exit 0: nothing left to change
    run([packsync, "packs"])


def lint() -> None:
    setup()
    run([str(BIN / "ruff"), "check", "packsync", "tests", "bench", "mutation", "tasks.py"])
    run([str(BIN / "ruff"), "format", "--check", "packsync", "tests", "bench", "mutation", "tasks.py"])
    run([str(BIN / "mypy")])


def test() -> None:
    """Lint, type-check and run the whole test suite."""
    lint()
    # pytest exits 5 when it collected no tests: that is a failure here too.
    run([str(PY), "-m", "pytest", *ARGS])


BENCHES = (
    "bench_validate.py",
    "bench_sandbox.py",
    "bench_client.py",
    "bench_plan.py",
    "bench_converge.py",
    "bench_simulate.py",
    "study_stats.py",
)


def bench() -> None:
    """Every benchmark (or the ones named: python3 tasks.py bench bench_client.py)."""
    setup()
    chosen = ARGS or list(BENCHES)
    failed = [name for name in chosen if run([str(PY), f"bench/{name}"], check=False) != 0]
    if failed:
        sys.exit(f"missed targets: {', '.join(failed)}")


RELEASE_DIR = ROOT / "dist"
WHEEL_MUST_HOLD = ("packsync/cli.py", "packsync/schemas/pack.schema.json", "packsync/schemas/packsync.schema.json")
SDIST_MUST_HOLD = ("README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "schemas/pack.schema.json")


def release_check() -> None:
    """Build the sdist and the wheel (the wheel from the sdist), check their metadata (twine
    check --strict) and contents, install the wheel into a fresh environment and run packsync
    init, validate and the demo flow from it in an empty directory."""
    import tempfile
    import zipfile

    setup()
    shutil.rmtree(RELEASE_DIR, ignore_errors=True)
    run([str(PY), "-m", "build", "--no-isolation", "--outdir", str(RELEASE_DIR), str(ROOT)])
    built = sorted(RELEASE_DIR.iterdir())
    run([str(BIN / "twine"), "check", "--strict", *map(str, built)])
    version = re.search(r'__version__ = "([^"]+)"', (ROOT / "packsync" / "__init__.py").read_text())[1]  # type: ignore[index]
    wheel = next(p for p in built if p.name == f"packsync-{version}-py3-none-any.whl")
    sdist = next(p for p in built if p.name == f"packsync-{version}.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in WHEEL_MUST_HOLD if n not in names]
    with tarfile.open(sdist) as archive:
        inside = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    missing += [f"sdist: {n}" for n in SDIST_MUST_HOLD if n not in inside]
    if missing:
        sys.exit(f"the distribution lacks: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="packsync-release-") as temp:
        env_dir, work = Path(temp) / "venv", Path(temp) / "my-packs"
        run([sys.executable, "-m", "venv", str(env_dir)])
        bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
        pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        run([*pip, "--require-hashes", "-r", str(DEMO_LOCK)])  # the run-time dependencies, as locked
        run([*pip, "--no-deps", str(wheel)])
        packsync = str(bin_dir / "packsync")
        said = subprocess.run([packsync, "--version"], capture_output=True, text=True, check=True).stdout
        if version not in said:
            sys.exit(f"packsync --version says {said.strip()!r}, not {version}")
        steps = [
            ["init", str(work)], ["validate", "--strict"], ["fmt", "--check"], ["plan"], ["apply", "--auto-approve"],
            ["plan", "--detailed-exitcode"], ["packs"],
        ]  # fmt: skip
        for step in steps:
            print("+ packsync " + " ".join(step), flush=True)
            if subprocess.call([packsync, *step], cwd=work if step[0] != "init" else temp) != 0:
                sys.exit(f"packsync {' '.join(step)} failed from the installed wheel")
    print(f"release check passed: {', '.join(p.name for p in built)}")


def mutate() -> None:
    """Mutation testing of the pure core (python3 tasks.py mutate [MODULE ...] [--workers N]).

    Slow (minutes per module): CI runs it on a schedule, not on every push. mutation/mutate.py
    says what it reports.
    """
    setup()
    sys.exit(run([str(PY), "mutation/mutate.py", *ARGS], check=False))


def lock_commands(uv: Path | str, python: Path | str, extra: list[str]) -> list[list[str]]:
    """uv commands that regenerate both lock files; ``extra`` (e.g. --upgrade) goes to each."""
    common = [
        "--universal",
        "--generate-hashes",
        "--python-version",
        LOCK_PYTHON,
        "--python",
        str(python),
        "--custom-compile-command",
        "python3 tasks.py lock",
        "--quiet",
        *extra,
    ]
    dev, demo, build = (str(p.relative_to(ROOT)) for p in (DEV_LOCK, DEMO_LOCK, BUILD_IN))
    return [
        [str(uv), "pip", "compile", "pyproject.toml", build, "--extra", "dev", *common, "-o", dev],
        # The demo's pins are the dev lock's: the same versions with or without the dev tools.
        [str(uv), "pip", "compile", "pyproject.toml", build, "--constraints", dev, *common, "-o", demo],
    ]


def lock() -> None:
    """Regenerate requirements/*.lock from pyproject.toml with uv (which reads PyPI, not pip's configuration)."""
    if LATEST:
        sys.exit("lock writes the pins the other tasks install; it has no --latest")
    if not PY.exists():
        _create_venv(clear=VENV.exists())
    uv = BIN / "uv"
    if not uv.exists():
        run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv"])
    before = {p: p.read_bytes() if p.exists() else b"" for p in (DEV_LOCK, DEMO_LOCK)}
    for command in lock_commands(uv, PY, ARGS):
        run(command)
    changed = [str(p.relative_to(ROOT)) for p, old in before.items() if p.read_bytes() != old]
    if changed:
        print(f"changed: {', '.join(changed)}; the next task rebuilds its virtual environment from them")
    else:
        print("the lock files are unchanged")


TASKS = {
    "setup": setup, "demo": demo, "test": test, "lint": lint, "bench": bench, "mutate": mutate, "lock": lock,
    "release-check": release_check,
}  # fmt: skip

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(TASKS)}}} [--latest] [args]")
    TASKS[sys.argv[1]]()
