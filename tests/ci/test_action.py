"""The GitHub Action (action.yml): what it installs, and its step's script run for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from packsync.packfiles.loader import load_file
from tests.conftest import ROOT, run_packsync


def action() -> dict:  # type: ignore[type-arg]
    doc = load_file(ROOT / "action.yml").document
    assert doc is not None
    return doc.data


def test_the_action_is_composite_and_installs_packsync_from_its_own_ref() -> None:
    data = action()
    assert data["runs"]["using"] == "composite"
    install = data["runs"]["steps"][1]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}" and '"$ACTION_PATH"' in install["run"]
    assert set(data["inputs"]) >= {"command", "target", "api-key", "key-env", "directory", "ok-exit-codes"}
    assert "${{" not in data["runs"]["steps"][2]["run"]  # inputs reach the script through env only


def _run_step(cwd: Path, tmp_path: Path, **env: str) -> tuple[int, str]:
    script = action()["runs"]["steps"][2]["run"]
    output = tmp_path / "github-output"
    output.write_text("")
    bin_dir = Path(sys.executable).parent
    full = {
        **os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
        "TARGET": "", "API_KEY": "", "KEY_ENV": "ASTRIA_API_KEY", "OK_EXIT_CODES": "0", **env,
    }  # fmt: skip
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=full, capture_output=True, text=True, timeout=120)
    return done.returncode, output.read_text()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    assert run_packsync("init", str(tmp_path / "repo")).code == 0
    return tmp_path / "repo"


def test_the_step_runs_the_command_and_passes_only_the_exit_codes_it_is_told(repository: Path, tmp_path: Path) -> None:
    assert _run_step(repository, tmp_path, COMMAND="validate --strict") == (0, "exit-code=0\n")
    code, said = _run_step(repository, tmp_path, COMMAND="plan --detailed-exitcode")
    assert (code, said) == (2, "exit-code=2\n")  # changes to make: not passed unless told
    code, said = _run_step(repository, tmp_path, COMMAND="plan --detailed-exitcode", OK_EXIT_CODES="0 2")
    assert (code, said) == (0, "exit-code=2\n")
    code, _ = _run_step(repository, tmp_path, COMMAND="plan", TARGET="no-such-target")
    assert code == 1
