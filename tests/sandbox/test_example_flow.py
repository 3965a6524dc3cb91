"""The README's pack-flow walkthrough really runs against the sandbox, from any directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sandbox_helpers import ThreadSandbox

SCRIPT = ROOT / "examples" / "sandbox-pack-flow.sh"
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl")


def walk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=cwd,
        # the Python running the tests has packsync's dependencies; the script finds packsync itself
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ohwx woman, corporate headshot, green eyes" in done.stdout  # {{eye_color}} filled by the run
    assert "POST /prompts/" in done.stdout and "-> 201" in done.stdout
    assert "liked prompt came from template" in done.stdout
    return done


@needs_curl
def test_the_pack_flow_walkthrough_runs(sandbox: ThreadSandbox) -> None:
    walk(sandbox.url, cwd=ROOT)


@needs_curl
def test_the_walkthrough_starts_its_own_sandbox_from_another_directory(tmp_path: Path) -> None:
    # No URL: the script starts a sandbox itself, wherever it is run from.
    walk(cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written where it was run


@needs_curl
def test_the_walkthrough_says_so_when_the_sandbox_cannot_start(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=tmp_path,
        env={**os.environ, "PYTHON": str(tmp_path / "no-such-python")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "the sandbox did not start" in done.stderr
    assert "unbound variable" not in done.stderr
