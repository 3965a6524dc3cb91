"""``packsync init``: a working repository of pack files, never overwriting what is there."""

from __future__ import annotations

from pathlib import Path

import yaml

from packsync.packfiles.scaffold import DEFAULT_SOURCE, precommit_config, workflow
from tests.conftest import ROOT, run_packsync

FILES = [
    "packsync.yaml",
    ".pre-commit-config.yaml",
    ".github/workflows/packsync.yml",
    "packs/example-headshots.yaml",
    "schemas/pack.schema.json",
    "schemas/packsync.schema.json",
    ".gitignore",
]


def test_init_then_validate_plan_apply_work_on_the_embedded_sandbox(tmp_path: Path) -> None:
    done = run_packsync("init", str(tmp_path / "packs-repo"))
    assert done.code == 0, done.err
    root = tmp_path / "packs-repo"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == sorted(FILES)
    assert "packsync validate && packsync plan && packsync apply" in done.err
    for args in (["validate", "--strict"], ["fmt", "--check"], ["plan"], ["apply", "--auto-approve"]):
        step = run_packsync(*args, cwd=root)
        assert step.code == 0, (args, step.out, step.err)
    assert run_packsync("plan", "--detailed-exitcode", cwd=root).code == 0
    assert (root / ".gitignore").read_text() == ".packsync/\n"


def test_init_keeps_every_file_that_is_there_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "packsync.yaml").write_text("packs_dir: mine\n")
    (tmp_path / ".gitignore").write_text("node_modules/")
    done = run_packsync("init", cwd=tmp_path)
    assert done.code == 0, done.err
    assert "kept packsync.yaml (it exists; --force replaces it)" in done.out
    assert (tmp_path / "packsync.yaml").read_text() == "packs_dir: mine\n"
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.packsync/\n"
    again = run_packsync("init", cwd=tmp_path)
    assert again.code == 0 and again.out.count("kept ") == 4 and "is up to date" in again.out
    assert (
        (tmp_path / "mine" / "example-headshots.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=../schemas/pack.schema.json")
    )  # where the kept packsync.yaml keeps its packs
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.packsync/\n"  # not added twice
    forced = run_packsync("init", "--force", cwd=tmp_path)
    assert forced.code == 0 and "wrote packsync.yaml" in forced.out
    assert "default_target: sandbox" in (tmp_path / "packsync.yaml").read_text()


def test_init_into_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    done = run_packsync("init", str(tmp_path / "taken"))
    assert done.code in (1, 2) and "Traceback" not in done.err and "taken" in done.err


def test_the_hooks_and_the_workflow_are_the_repositorys_own() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    local = yaml.safe_load(precommit_config())["repos"][0]
    assert local["repo"] == "local" and [h["id"] for h in local["hooks"]] == list(hooks)
    for hook in local["hooks"]:
        assert hook["files"] == hooks[hook["id"]]["files"] and hook["entry"] == hooks[hook["id"]]["entry"]
        assert hook["additional_dependencies"][0].startswith("packsync==")
    remote = yaml.safe_load(precommit_config("acme/packsync"))["repos"][0]
    assert remote["repo"] == "https://github.com/acme/packsync" and remote["rev"].startswith("v")
    # the example in this repository is what init writes (and CI lints it with actionlint)
    assert (ROOT / "examples" / "github" / "packsync.yml").read_text() == workflow(DEFAULT_SOURCE)
    assert "uses: acme/packsync/.github/workflows/packsync.yml@v" in workflow("acme/packsync")


def test_the_readme_shows_the_hooks_init_writes() -> None:
    readme = (ROOT / "README.md").read_text()
    local = precommit_config(DEFAULT_SOURCE)
    remote = precommit_config("acme/x").replace("acme/x", "OWNER/packsync")
    for hooks in (local, remote):
        assert hooks.split("\n", 1)[1] in readme
