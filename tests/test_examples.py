"""The one test of the shipped example packs in packs/: they validate, are formatted, and plan
and apply cleanly on the embedded sandbox. Every other test uses its own copies
(tests/fixtures/packs/), so the examples can be edited freely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_packsync


@pytest.mark.slow
def test_the_shipped_examples_validate_plan_and_apply(tmp_path: Path) -> None:
    examples = sorted((ROOT / "packs").glob("*.yaml"))
    assert examples, "packs/ has no example packs"
    for pack in examples:
        first = pack.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/pack.schema.json", pack.name

    done = run_packsync("validate", "--strict", cwd=ROOT)
    assert done.code == 0, done.out + done.err
    done = run_packsync("fmt", "--check", cwd=ROOT)
    assert done.code == 0, done.out + done.err

    shutil.copytree(ROOT / "packs", tmp_path / "packs")
    (tmp_path / "packsync.yaml").write_text("default_target: local\ntargets:\n  local: {url: sandbox}\n")
    env = {"ASTRIA_API_KEY": ""}
    done = run_packsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert done.code == 2, done.out + done.err
    done = run_packsync("apply", "--auto-approve", cwd=tmp_path, env=env)
    assert done.code == 0, done.out + done.err
    assert "Verified: the account matches the pack files." in done.out
    done = run_packsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert done.code == 0, done.out + done.err
