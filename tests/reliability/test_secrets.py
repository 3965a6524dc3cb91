"""The API key never appears anywhere: every command is run with a canary key and everything it
printed, logged or wrote is searched for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.conftest import Project

CANARY = "sk-live-CANARY-4f1e9a7c2d"


def run(project: Project, *args: str) -> str:
    env = {
        **os.environ,
        "PACKSYNC_TEST_KEY": CANARY,
        "PACKSYNC_LOG": "debug",
        "PACKSYNC_RETRY_ATTEMPTS": "3",
        "PACKSYNC_RETRY_MAX_DELAY": "0.05",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "packsync", *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr


@pytest.mark.slow
def test_the_key_appears_in_no_output_log_or_file(project: Project, tmp_path: Path) -> None:
    outputs: list[str] = []
    with project.sandbox.http() as http:
        tune = http.post(
            "/tunes", json={"tune": {"title": "t", "name": "dog", "branch": "fast", "image_urls": ["https://x/1"]}}
        ).json()
    outputs.append(run(project, "validate"))
    outputs.append(run(project, "render", "pet-portraits"))
    outputs.append(run(project, "plan", "--out", "plan.json"))
    outputs.append(run(project, "plan", "--format", "markdown"))
    outputs.append(run(project, "plan", "--format", "json"))
    project.sandbox.faults(rates={"429": 0.1, "500": 0.1, "504": 0.1, "reset": 0.1}, seed=4, retry_after=0.01)
    outputs.append(run(project, "apply", "--auto-approve"))
    outputs.append(run(project, "apply", "plan.json", "--auto-approve"))  # stale or done: either way, text
    project.sandbox.faults()
    outputs.append(run(project, "apply", "--auto-approve"))
    outputs.append(run(project, "packs"))
    for fmt in ("table", "json", "csv", "html"):
        outputs.append(run(project, "stats", "--format", fmt))
    outputs.append(
        run(
            project,
            "preview",
            "pet-portraits",
            "--tune-ids",
            str(tune["id"]),
            "--prompt",
            "royal-throne",
            "--timeout",
            "10",
        )
    )
    outputs.append(run(project, "comment", "plan.json", "--out-dir", "comments"))
    outputs.append(run(project, "drift", "plan.json"))
    outputs.append(run(project, "import", "--all", "--force"))
    outputs.append(run(project, "import", "--diff"))
    outputs.append(run(project, "fmt", "--check"))
    project.sandbox.faults(rates={"503": 1.0})
    outputs.append(run(project, "plan"))  # failing: the error text is scanned too
    project.sandbox.faults()

    joined = "\n".join(outputs)
    assert "GET /packs" in joined  # the debug log was on, so there was something to leak
    assert CANARY not in joined
    written = [p for p in project.root.rglob("*") if p.is_file()]
    assert any(p.name == "plan.json" for p in written) and any(p.suffix == ".html" for p in written)
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), path
