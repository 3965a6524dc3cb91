"""Targets: which account, which key variable, and the embedded sandbox."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from packsync.astria.errors import ConfigError
from packsync.astria.target import resolve_target
from packsync.packfiles.project import load_project
from packsync.sandbox.embedded import EmbeddedSandbox
from tests.conftest import PACKS, run_packsync, with_packs
from tests.sandbox_helpers import KEY, ThreadSandbox

PROJECT = """\
default_target: staging
targets:
  sandbox: {url: sandbox}
  staging:
    url: https://staging.example.test
    key_env: STAGING_KEY
    workspace_id: 12
    tune_ids: {"690204": 1001}
  production: {url: https://api.astria.ai, key_env: PROD_KEY}
"""


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "packsync.yaml").write_text(PROJECT)
    return tmp_path


def test_default_target_and_its_settings(project_dir: Path) -> None:
    target = resolve_target(load_project(project_dir), None, env={})
    assert (target.name, target.url, target.key_env, target.workspace_id) == (
        "staging",
        "https://staging.example.test",
        "STAGING_KEY",
        "12",
    )
    assert target.tune_ids == {690204: 1001}


def test_flag_beats_environment_beats_default(project_dir: Path) -> None:
    project = load_project(project_dir)
    env = {"PACKSYNC_TARGET": "production"}
    assert resolve_target(project, None, env).name == "production"
    assert resolve_target(project, "sandbox", env).name == "sandbox"


def test_environment_overrides_url_and_workspace(project_dir: Path) -> None:
    env = {"ASTRIA_API_URL": "http://127.0.0.1:9999", "ASTRIA_WORKSPACE_ID": "77"}
    target = resolve_target(load_project(project_dir), "production", env)
    assert (target.url, target.workspace_id) == ("http://127.0.0.1:9999", "77")


def test_unknown_target_names_the_known_ones(project_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown target 'prod'; defined targets: production, sandbox, staging"):
        resolve_target(load_project(project_dir), "prod", env={})


def test_missing_key_names_the_variable(project_dir: Path) -> None:
    target = resolve_target(load_project(project_dir), "production", env={})
    with pytest.raises(ConfigError, match="export PROD_KEY="):
        target.key(env={})
    assert target.key(env={"PROD_KEY": "sk"}).reveal() == "sk"


def test_no_project_file_means_the_real_api_and_astria_api_key(tmp_path: Path) -> None:
    target = resolve_target(load_project(tmp_path), None, env={})
    assert (target.url, target.key_env) == ("https://api.astria.ai", "ASTRIA_API_KEY")


def test_missing_key_on_the_command_line_is_one_clear_line(project_dir: Path) -> None:
    done = run_packsync("packs", "--target", "production", cwd=project_dir, env={"PROD_KEY": ""})
    assert done.code == 1
    assert done.err.strip().splitlines() == [
        "packsync: error: the API key is not set: export PROD_KEY=<your Astria API key> (target 'production')"
    ]


def test_plain_http_to_a_remote_host_is_refused(project_dir: Path) -> None:
    done = run_packsync(
        "packs",
        "--target",
        "production",
        cwd=project_dir,
        env={"PROD_KEY": "sk", "ASTRIA_API_URL": "http://api.example.test"},
    )
    assert done.code == 1
    assert "refusing plain http://" in done.err
    assert "Traceback" not in done.err


@pytest.fixture
def sandbox_project(tmp_path: Path) -> Path:
    with_packs(tmp_path)
    (tmp_path / "packsync.yaml").write_text("default_target: sandbox\ntargets:\n  sandbox: {url: sandbox}\n")
    return tmp_path


@pytest.mark.slow
def test_embedded_sandbox_runs_with_no_key_and_keeps_its_state(sandbox_project: Path) -> None:
    env = {"ASTRIA_API_KEY": ""}
    first = run_packsync("packs", "--format", "json", cwd=sandbox_project, env=env)
    assert first.code == 0, first.err
    assert json.loads(first.out) == {"target": "sandbox", "packs": []}
    db = sandbox_project / ".packsync" / "sandbox.db"
    assert db.exists()
    assert (sandbox_project / ".packsync" / ".gitignore").read_text().strip().endswith("*")
    second = run_packsync("packs", cwd=sandbox_project, env=env)
    assert second.code == 0, second.err
    assert "target sandbox: 0 pack(s)" in second.out


def test_embedded_sandbox_is_seeded_with_the_reference_tunes_and_stopped_afterwards(tmp_path: Path) -> None:
    import httpx

    tunes = [{"id": 690204, "name": "man"}, {"id": 690205, "name": "woman"}]
    with EmbeddedSandbox(tmp_path, tunes) as sandbox:
        with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.key}"}) as http:
            assert http.get("/tunes/690205").json()["name"] == "woman"
            assert http.get("/tunes/690205", headers={"Authorization": "Bearer wrong"}).status_code == 401
        process = sandbox._process
        assert process is not None and process.poll() is None
    assert process.poll() == 0


def test_a_saved_plan_applies_with_the_environment_that_made_it(tmp_path: Path, sandbox: ThreadSandbox) -> None:
    """No packsync.yaml: the account is ASTRIA_API_URL and ASTRIA_API_KEY alone, for plan and apply."""
    from tests.engine.conftest import REFERENCE_TUNES

    (tmp_path / "packs").mkdir()
    shutil.copy(PACKS / "pet-portraits.yaml", tmp_path / "packs")
    sandbox.seed_tunes(*REFERENCE_TUNES)
    env = {"ASTRIA_API_URL": sandbox.url, "ASTRIA_API_KEY": KEY, "PACKSYNC_TARGET": ""}
    done = run_packsync("plan", "--out", "p.json", cwd=tmp_path, env=env)
    assert done.code == 0, done.err
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["target"] == "default"
    assert saved["account"] == {"url": sandbox.url, "workspace_id": None}
    assert KEY not in (tmp_path / "p.json").read_text()

    elsewhere = run_packsync("apply", "p.json", "--auto-approve", cwd=tmp_path, env={**env, "ASTRIA_WORKSPACE_ID": "9"})
    assert elsewhere.code == 1
    assert "the plan was made for the account at" in elsewhere.err and "workspace 9" in elsewhere.err

    done = run_packsync("apply", "p.json", "--auto-approve", cwd=tmp_path, env=env)
    assert done.code == 0, done.out + done.err
    assert "Verified" in done.out
    assert run_packsync("plan", "--detailed-exitcode", cwd=tmp_path, env=env).code == 0

    # Stale: made before a change on the account, applied after it.
    pack_file = tmp_path / "packs" / "pet-portraits.yaml"
    pack_file.write_text(pack_file.read_text().replace("seed: 4242", "seed: 4243", 1))
    assert run_packsync("plan", "--out", "p2.json", cwd=tmp_path, env=env).code == 0
    with sandbox.http() as http:
        pack = http.get("/p/pet-portraits").json()
        victim = http.get("/prompts", params={"pack_id": pack["id"]}).json()[0]
        assert http.delete(f"/prompts/{victim['id']}").status_code in (200, 204)
    stale = run_packsync("apply", "p2.json", "--auto-approve", cwd=tmp_path, env=env)
    assert stale.code == 4, stale.out + stale.err


def test_a_saved_plan_names_its_target_when_the_environment_chooses_another(project_dir: Path) -> None:
    from packsync.plan.model import Plan

    (project_dir / "packs").mkdir()
    shutil.copy(PACKS / "pet-portraits.yaml", project_dir / "packs")
    Plan(target="production", account={"url": "https://api.astria.ai", "workspace_id": None}).save(
        project_dir / "p.json"
    )
    done = run_packsync("apply", "p.json", "--target", "staging", cwd=project_dir, env={"PROD_KEY": "sk"})
    assert done.code == 1 and "the plan was made for target 'production', not 'staging'" in done.err
    moved = run_packsync(
        "apply", "p.json", cwd=project_dir, env={"PROD_KEY": "sk", "ASTRIA_API_URL": "https://other.example.test"}
    )
    assert moved.code == 1 and "https://other.example.test" in moved.err and "Traceback" not in moved.err
