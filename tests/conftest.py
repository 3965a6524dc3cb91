"""Shared test helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from tests.sandbox_helpers import ThreadSandbox

# For mutation runs (python3 tasks.py mutate, --hypothesis-profile=mutation): the same examples
# on every run, and none replayed from the failures another mutant caused.
settings.register_profile("mutation", derandomize=True, database=None)

# A write whose answer was lost is read back for 90 s before packsync decides it did not happen (A7);
# the tests' sandbox commits such writes within a few of its scaled seconds: read back on a short schedule.
os.environ.setdefault("PACKSYNC_LOST_ANSWER_WAITS", "0.02,0.05,0.1,0.2,0.4")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PACKS = FIXTURES / "packs"  # the tests' own copies: the shipped examples in packs/ may change freely


def with_packs(root: Path) -> Path:
    """``root`` as a project holding the tests' copies of the example packs (in ``packs/``)."""
    (root / "packs").mkdir(parents=True, exist_ok=True)
    for pack in PACKS.glob("*.yaml"):
        shutil.copy(pack, root / "packs" / pack.name)
    return root


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_packsync(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run the real command line in a subprocess, as a user would."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("PACKSYNC_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "packsync", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def packsync() -> object:
    return run_packsync


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[ThreadSandbox]:
    """One sandbox for the whole run; tests use ``sandbox``, which resets it."""
    server = ThreadSandbox().start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: ThreadSandbox) -> ThreadSandbox:
    """A clean sandbox: empty, no faults, idempotency off."""
    sandbox_server.reset()
    return sandbox_server
