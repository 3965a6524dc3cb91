"""The pre-commit hooks, run by the real pre-commit tool in a throwaway git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, with_packs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git"),
]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "packs-repo"
    with_packs(work)
    git(work, "init", "-q")
    git(work, "config", "user.email", "ci@example.test")
    git(work, "config", "user.name", "ci")
    git(work, "add", ".")
    return work


def try_repo(repo: Path, hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    """Run ``hook`` on ``files`` (as a commit of just those would), or on every file."""
    pre_commit = Path(sys.executable).parent / "pre-commit"
    which = ["--files", *files] if files else ["--all-files"]
    return subprocess.run(
        [str(pre_commit), "try-repo", str(ROOT), hook, *which, "--color", "never"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PRE_COMMIT_HOME": str(ROOT / ".cache" / "pre-commit")},
        check=False,
    )


def test_validate_hook_passes_good_files_and_fails_bad_ones_with_the_line(repo: Path) -> None:
    good = try_repo(repo, "packsync-validate")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = repo / "packs" / "pet-portraits.yaml"
    bad.write_text(bad.read_text().replace("    seed: 4242\n", "    sed: 4242\n"))
    git(repo, "add", ".")
    done = try_repo(repo, "packsync-validate")
    assert done.returncode == 1
    assert 'schema-unknown-key unknown key "sed"' in done.stdout
    assert "packs/pet-portraits.yaml:" in done.stdout


def test_fmt_hook_rewrites_and_fails_until_the_files_are_canonical(repo: Path) -> None:
    messy = repo / "packs" / "pet-portraits.yaml"
    messy.write_text(
        messy.read_text()
        .replace("    seed: 4242\n", "    seed:    4242\n")
        .replace("title: Pet Portraits", "title: 'Pet Portraits'")
    )
    git(repo, "add", ".")
    first = try_repo(repo, "packsync-fmt")
    assert first.returncode == 1  # files were changed: pre-commit fails so the change is seen
    assert "reformatted packs/pet-portraits.yaml" in first.stdout
    git(repo, "add", ".")
    second = try_repo(repo, "packsync-fmt")
    assert second.returncode == 0, second.stdout + second.stderr


def test_validate_hook_passes_a_commit_of_packsync_yaml_alone(repo: Path) -> None:
    project = repo / "packsync.yaml"
    project.write_text("default_target: local\ntargets:\n  local: {url: sandbox}\n")
    git(repo, "add", ".")
    done = try_repo(repo, "packsync-validate", "packsync.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    project.write_text("default_target: nowhere\ntargets:\n  local: {url: sandbox}\n")
    git(repo, "add", ".")
    done = try_repo(repo, "packsync-validate", "packsync.yaml")
    assert done.returncode == 1
    assert "packsync.yaml:1:17: target-unknown" in done.stdout


@pytest.mark.parametrize("form", ["remote", "local"])
def test_the_hooks_init_writes_run_as_the_readme_says(tmp_path: Path, form: str) -> None:
    """`packsync init`, then `pre-commit run --all-files`: with the hooks from packsync's repository
    at the release tag (a clone of this one standing in for GitHub), or as local hooks that install
    the release (this clone standing in for PyPI's packsync==VERSION)."""
    from packsync import __version__
    from tests.conftest import run_packsync

    source = tmp_path / "packsync-source"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(source)], check=True, capture_output=True)
    git(source, "tag", f"v{__version__}")
    work = tmp_path / "new-repo"
    args = ["init", str(work)] + (["--source", "acme/packsync"] if form == "remote" else [])
    assert run_packsync(*args).code == 0
    config = work / ".pre-commit-config.yaml"
    text = config.read_text()
    text = text.replace("https://github.com/acme/packsync", str(source))
    text = text.replace(f"packsync=={__version__}", str(source))
    config.write_text(text)
    git(work, "init", "-q")
    git(work, "add", ".")
    pre_commit = Path(sys.executable).parent / "pre-commit"
    done = subprocess.run(
        [str(pre_commit), "run", "--all-files", "--color", "never"],
        cwd=work, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "packsync validate" in done.stdout and "packsync fmt" in done.stdout
