"""Project tasks that need nothing but Python 3.10+: python3 tasks.py demo|test|bench|lint.

Each task creates (or refreshes) a virtual environment in .venv with packsync
and its development tools installed, then runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("PACKSYNC_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _stamp(extras: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + sys.version.encode()).hexdigest()
    return f"{extras} {digest}"


def setup(dev: bool = True) -> None:
    """Create the virtual environment and install packsync (with its dev tools when ``dev``).

    Skipped when the environment is already current for this pyproject.toml.
    """
    if sys.version_info < (3, 10):  # noqa: UP036 - tasks.py may be run by an older python3
        sys.exit(f"packsync needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    stamp_file = VENV / ".packsync-stamp"
    current = stamp_file.read_text() if stamp_file.exists() and PY.exists() else ""
    if current == _stamp("dev") or (not dev and current == _stamp("base")):
        return
    if not PY.exists():
        print(f"creating a virtual environment in {VENV}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
        except Exception as exc:  # e.g. Debian without python3-venv
            sys.exit(f"cannot create a virtual environment ({exc}); on Debian/Ubuntu: apt-get install python3-venv")
    target = f"{ROOT}[dev]" if dev else str(ROOT)
    print(f"installing packsync{' and its development tools' if dev else ''}", flush=True)
    run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target])
    stamp_file.write_text(_stamp("dev" if dev else "base"))


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
    for leftover in (state, state.with_name("sandbox.db-wal"), state.with_name("sandbox.db-shm")):
        leftover.unlink(missing_ok=True)  # start from an empty sandbox account each time
    run([packsync, "validate"])
    run([packsync, "render", "pet-portraits", "--prompt", "autumn-park", "--set", "fur_color=golden fur"])
    # The default target of packsync.yaml is the embedded sandbox: started and stopped by packsync.
    run([packsync, "plan"])
    run([packsync, "apply", "--auto-approve"])
    run([packsync, "plan", "--detailed-exitcode"])  # exit 0: nothing left to change
    run([packsync, "packs"])


def lint() -> None:
    setup()
    run([str(BIN / "ruff"), "check", "packsync", "tests", "bench", "tasks.py"])
    run([str(BIN / "ruff"), "format", "--check", "packsync", "tests", "bench", "tasks.py"])
    run([str(BIN / "mypy")])


def test() -> None:
    """Lint, type-check and run the whole test suite."""
    lint()
    # pytest exits 5 when it collected no tests: that is a failure here too.
    run([str(PY), "-m", "pytest", *sys.argv[2:]])


BENCHES = ("bench_validate.py", "bench_sandbox.py", "bench_client.py", "bench_plan.py")


def bench() -> None:
    """Every benchmark (or the ones named: python3 tasks.py bench bench_client.py)."""
    setup()
    chosen = sys.argv[2:] or list(BENCHES)
    failed = [name for name in chosen if run([str(PY), f"bench/{name}"], check=False) != 0]
    if failed:
        sys.exit(f"missed targets: {', '.join(failed)}")


TASKS = {"setup": setup, "demo": demo, "test": test, "lint": lint, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(TASKS)}}} [args]")
    TASKS[sys.argv[1]]()
