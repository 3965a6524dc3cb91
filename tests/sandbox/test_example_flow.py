"""The README's pack-flow walkthrough really runs against the sandbox."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT
from tests.sandbox_helpers import ThreadSandbox


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl")
def test_the_pack_flow_walkthrough_runs(sandbox: ThreadSandbox) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "examples" / "sandbox-pack-flow.sh"), sandbox.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ohwx woman, corporate headshot, green eyes" in done.stdout  # {{eye_color}} filled by the run
    assert "POST /prompts/" in done.stdout and "-> 201" in done.stdout
    assert "liked prompt came from template" in done.stdout
