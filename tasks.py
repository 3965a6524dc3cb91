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


def _stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + sys.version.encode()).hexdigest()


def setup() -> None:
    """Create .venv and install packsync with its dev tools, unless already current."""
    if sys.version_info < (3, 10):  # noqa: UP036 - tasks.py may be run by an older python3
        sys.exit(f"packsync needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    stamp_file = VENV / ".packsync-stamp"
    if stamp_file.exists() and stamp_file.read_text() == _stamp() and PY.exists():
        return
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
        except Exception as exc:  # e.g. Debian without python3-venv
            sys.exit(f"cannot create a virtual environment ({exc}); on Debian/Ubuntu: apt-get install python3-venv")
    print("installing packsync and its development tools", flush=True)
    run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f"{ROOT}[dev]"])
    stamp_file.write_text(_stamp())


def run(cmd: list[str], check: bool = True) -> int:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call(cmd, cwd=ROOT)
    if check and code != 0:
        sys.exit(code)
    return code


def demo() -> None:
    """Validate the example packs and render one of them."""
    setup()
    packsync = str(BIN / "packsync")
    run([packsync, "validate"])
    run([packsync, "render", "corporate-headshots", "--class", "woman", "--set", "eye_color=green eyes"])


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


def bench() -> None:
    setup()
    run([str(PY), "bench/bench_validate.py", *sys.argv[2:]])


TASKS = {"setup": setup, "demo": demo, "test": test, "lint": lint, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(TASKS)}}} [args]")
    TASKS[sys.argv[1]]()
