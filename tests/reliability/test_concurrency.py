"""Two applies at once: the account ends matching one revision, with no duplicate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.conftest import SLUGS_ALL, Project, assert_no_duplicates
from tests.sandbox_helpers import KEY


def start_apply(root: Path, cache: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PACKSYNC_TEST_KEY": KEY, "NO_COLOR": "1", "XDG_CACHE_HOME": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "packsync", "apply", "--auto-approve", "--project", str(root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_two_applies_of_the_same_files_at_once(project: Project, tmp_path: Path) -> None:
    project.sandbox.faults(latency_ms=20)
    first, second = start_apply(project.root, tmp_path), start_apply(project.root, tmp_path)
    results = [p.communicate(timeout=120) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, results
    project.sandbox.faults()
    assert project.plan("--detailed-exitcode").code == 0
    assert_no_duplicates(project, *SLUGS_ALL)
    assert len(project.templates("corporate-headshots")) == 54


@pytest.mark.slow
def test_two_applies_of_different_revisions_end_with_one_of_them(project: Project, tmp_path: Path) -> None:
    other = tmp_path / "other-checkout"
    shutil.copytree(project.root, other)
    text = (other / "packs" / "pet-portraits.yaml").read_text()
    (other / "packs" / "pet-portraits.yaml").write_text(text.replace("    seed: 4242\n", "    seed: 4243\n"))
    project.sandbox.faults(latency_ms=20)
    first, second = start_apply(project.root, tmp_path), start_apply(other, tmp_path)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    project.sandbox.faults()
    checkout = Project(other, project.sandbox)
    matches = [project.plan("--detailed-exitcode").code == 0, checkout.plan("--detailed-exitcode").code == 0]
    assert matches.count(True) == 1  # exactly one revision, whichever went last
    assert_no_duplicates(project, *SLUGS_ALL)
    assert len(project.templates("pet-portraits")) == 30


@pytest.mark.slow
def test_one_lock_per_account_however_its_url_is_spelled(project: Project, tmp_path: Path) -> None:
    other = tmp_path / "other-checkout"
    shutil.copytree(project.root, other)
    text = (other / "packs" / "pet-portraits.yaml").read_text()
    (other / "packs" / "pet-portraits.yaml").write_text(text.replace("    seed: 4242\n", "    seed: 4243\n"))
    port = project.sandbox.url.rsplit(":", 1)[1]
    (other / "packsync.yaml").write_text(
        f"default_target: test\ntargets:\n  test:\n    url: HTTP://LocalHost:{port}/\n    key_env: PACKSYNC_TEST_KEY\n"
    )
    project.sandbox.faults(latency_ms=20)
    first, second = start_apply(project.root, tmp_path), start_apply(other, tmp_path)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert "waiting for another apply" in outputs[0][1] + outputs[1][1], outputs
    project.sandbox.faults()
    checkout = Project(other, project.sandbox)
    matches = [project.plan("--detailed-exitcode").code == 0, checkout.plan("--detailed-exitcode").code == 0]
    assert matches.count(True) == 1
    assert_no_duplicates(project, *SLUGS_ALL)


def test_lock_keys_and_recorded_accounts_ignore_the_spelling() -> None:
    from packsync.astria.target import ResolvedTarget

    spellings = ["http://127.0.0.1:8765", "http://localhost:8765/", "HTTP://LOCALHOST:8765", "http://[::1]:8765"]
    assert len({ResolvedTarget("t", url).lock_key("/p") for url in spellings}) == 1
    assert ResolvedTarget("t", "https://API.astria.ai:443/").account == {
        "url": "https://api.astria.ai",
        "workspace_id": None,
    }
    assert ResolvedTarget("t", "https://api.astria.ai", workspace_id="1").lock_key("/p") != ResolvedTarget(
        "t", "https://api.astria.ai"
    ).lock_key("/p")
    assert "secret" not in str(ResolvedTarget("t", "https://me:secret@api.astria.ai").account)
