"""Experiments end to end on the sandbox's simulated customers, in both modes: declared in a pack
file, applied like any prompt, decided by the always-valid rule, closed by a pack-file change
whose plan is exactly the removal of the loser."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.engine.conftest import Project

CONTROL = "studio-grey-portrait"
VARIANT = "studio-grey-portrait-warm"
VARIANT_ENTRY = f"""  - key: {VARIANT}
    text: "studio portrait of {{{{subject}}}} with {{{{fur_color}}}}, warm tungsten key light, cream backdrop, \
      85mm lens at f/5.6, sharp focus on the eyes, professional pet photography"
    seed: 4243
"""
EXPERIMENT = f"""experiments:
  # does warmer light sell better?
  - name: warmer-light
    control: {CONTROL}
    variants: [{VARIANT}]
    min_effect: 0.1
"""


def _declare(project: Project, design: str = "paired") -> None:
    path = project.pack_file("pet-portraits.yaml")
    text = path.read_text()
    text = text.replace("prompts:\n", "prompts:\n" + VARIANT_ENTRY, 1) + EXPERIMENT
    if design != "paired":
        text += f"    design: {design}\n"
    path.write_text(text)


def _arm_ids(project: Project) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {CONTROL: [], VARIANT: []}
    for template in project.templates("pet-portraits"):
        if "warm tungsten" in template["text"]:
            ids[VARIANT].append(template["id"])
        elif template["text"].startswith("studio portrait of") and "grey backdrop" in template["text"]:
            ids[CONTROL].append(template["id"])
    return ids


def _simulate(project: Project, control: float, variant: float, runs: int, seed: int, days: float = 30) -> None:
    ids = _arm_ids(project)
    truth = {str(t["id"]): 0.2 for t in project.templates("pet-portraits")}
    truth.update({str(t): control for t in ids[CONTROL]})
    truth.update({str(t): variant for t in ids[VARIANT]})
    pack = project.own_pack("pet-portraits")
    assert pack is not None
    body: dict[str, Any] = {"pack": pack["id"], "runs": runs, "seed": seed, "truth": truth, "days": days}
    with project.sandbox.http() as http:
        answer = http.post("/_sandbox/simulate", json=body, timeout=120)
    assert answer.status_code == 201, answer.text


def _status(project: Project, *args: str) -> tuple[int, dict[str, Any]]:
    done = project.run("experiment", "status", "--format", "json", *args)
    assert done.code in (0, 2), done.err
    return done.code, json.loads(done.out)


def test_a_paired_experiment_is_decided_and_closed_by_one_removal(project: Project, mode: str) -> None:
    _declare(project)
    assert project.run("validate").code == 0
    assert project.apply().code == 0
    code, document = _status(project, "--detailed-exitcode")
    (row,) = document["experiments"]
    assert document["version"] == 1 and code == 0
    assert (row["name"], row["status"], row["winner"], row["runs"]) == ("warmer-light", "running", None, 0)

    _simulate(project, control=0.2, variant=0.6, runs=400, seed=3)
    code, document = _status(project, "--detailed-exitcode")
    (row,) = document["experiments"]
    assert (row["status"], row["winner"], code) == ("winner", VARIANT, 2)
    assert row["runs"] == 400 and row["low"] > 0 and row["low"] <= row["estimate"] <= row["high"]
    assert all(g["ok"] for g in row["guardrails"])

    losers = _arm_ids(project)[CONTROL]
    assert len(losers) == 2  # the control's template for dogs and for cats
    before = project.pack_file("pet-portraits.yaml").read_text()
    preview = project.run("experiment", "conclude", "warmer-light")
    assert preview.code == 0 and project.pack_file("pet-portraits.yaml").read_text() == before
    assert f"-  - key: {CONTROL}" in preview.out
    done = project.run("experiment", "conclude", "warmer-light", "--write")
    assert done.code == 0, done.err
    after = project.pack_file("pet-portraits.yaml").read_text()
    assert "# does warmer light sell better?" in after and f"key: {CONTROL}\n" not in after
    assert "status: concluded" in after and f"winner: {VARIANT}" in after
    assert project.run("validate").code == 0

    plan = project.plan_json()
    changes = [c for p in plan["packs"] for c in p.get("changes", [])]
    assert [c["kind"] for c in changes] == ["remove"] * len(changes)  # one prompt removed (one template per class)
    assert sorted(c["remove"]["id"] for c in changes) == sorted(losers)
    assert project.apply().code == 0
    assert project.plan("--detailed-exitcode").code == 0
    code, document = _status(project, "--detailed-exitcode")
    assert (document["experiments"][0]["status"], code) == ("winner", 0)  # concluded: nothing more to do


def test_equal_prompts_are_not_declared_different(project: Project, mode: str) -> None:
    _declare(project)
    assert project.apply().code == 0
    _simulate(project, control=0.3, variant=0.3, runs=150, seed=5)
    code, document = _status(project, "--detailed-exitcode")
    (row,) = document["experiments"]
    assert row["status"] == "running" and row["winner"] is None and code == 0
    assert row["low"] < 0 < row["high"]
    refused = project.run("experiment", "conclude", "warmer-light", "--write")
    assert refused.code == 1 and "--winner" in refused.err and "Traceback" not in refused.err


def test_an_unknown_experiment_is_one_clear_error(project: Project) -> None:
    _declare(project)
    done = project.run("experiment", "status", "no-such")
    assert done.code == 1 and "warmer-light" in done.err and "Traceback" not in done.err


def _all_prompts(project: Project) -> list[dict[str, Any]]:
    """Every prompt of the account (all pages)."""
    out: list[dict[str, Any]] = []
    before: int | None = None
    with project.sandbox.http() as http:
        while True:
            params: dict[str, Any] = {"limit": 120, **({"before_id": before} if before else {})}
            page = http.get("/prompts", params=params).json()
            if not page:
                return out
            out += page
            before = page[-1]["id"]


def _attached_arms(project: Project) -> list[str]:
    ids = _arm_ids(project)
    return sorted(key for key, templates in ids.items() for _ in templates)


def test_a_rotation_attaches_one_arm_at_a_time_and_makes_no_image(project: Project, mode: str) -> None:
    from datetime import datetime, timedelta, timezone

    from packsync.apply.rotate import scheduled_arm

    _declare(project, "rotation")
    assert project.apply().code == 0
    assert _attached_arms(project) == [CONTROL, CONTROL, VARIANT, VARIANT]  # a new experiment: every arm created
    arms = (CONTROL, VARIANT)
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    blocks = [today - timedelta(days=d) for d in range(6, 0, -1)]
    schedule = [scheduled_arm("pet-portraits", "warmer-light", arms, b) for b in blocks]
    assert set(schedule) == {CONTROL, VARIANT}  # six blocks of two arms: both came up
    prompts_before = len(_all_prompts(project))
    ids_before = _arm_ids(project)

    for block, arm in zip(blocks, schedule, strict=True):
        done = project.run("experiment", "rotate", "--at", (block + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%S"))
        assert done.code == 0, done.out + done.err
        assert _attached_arms(project) == [arm, arm], (block, done.out)
        assert project.plan("--detailed-exitcode").code == 0  # plan and apply leave the rotation alone
        _simulate_block(project, block, runs=40, seed=block.day)
    again = project.run(
        "experiment", "rotate", "--at", (blocks[-1] + timedelta(hours=13)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert again.code == 0 and "already so" in again.out  # idempotent within a block
    assert project.apply().code == 0 and _attached_arms(project) == [schedule[-1]] * 2
    made = len(_all_prompts(project)) - prompts_before
    known = {t for ts in ids_before.values() for t in ts}
    runs = [p for p in _all_prompts(project) if p.get("orig_prompt_id") is not None]
    assert made > 0 and len(runs) == made  # every new prompt is a customer run's: the rotation created none
    arm_ids = known
    per_run = {p["tune_id"]: 0 for p in runs}
    for p in runs:
        per_run[p["tune_id"]] += p["orig_prompt_id"] in arm_ids
    assert len(per_run) == 6 * 40 and set(per_run.values()) == {1}  # one arm per run, never two
    attached_now = _arm_ids(project)
    assert {t for ts in attached_now.values() for t in ts} <= known  # the same templates, re-attached

    _, document = _status(project)
    (row,) = document["experiments"]
    assert row["left_out"] == 0 and row["runs"] > 0
    ratio = next(g for g in row["guardrails"] if g["name"] == "sample-ratio")
    assert ratio["ok"], ratio


def _simulate_block(project: Project, block: Any, runs: int, seed: int) -> None:
    from datetime import timedelta

    pack = project.own_pack("pet-portraits")
    assert pack is not None
    until = (block + timedelta(hours=23)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"pack": pack["id"], "runs": runs, "seed": seed, "days": 22 / 24, "until": until}
    with project.sandbox.http() as http:
        answer = http.post("/_sandbox/simulate", json=body, timeout=120)
    assert answer.status_code == 201, answer.text


def test_a_split_experiment_publishes_each_arms_prompt_ids(project: Project, mode: str) -> None:
    _declare(project, "split")
    assert project.apply().code == 0
    ids = _arm_ids(project)
    pack = project.own_pack("pet-portraits")
    assert pack is not None
    truth = {str(t["id"]): 0.2 for t in project.templates("pet-portraits")}
    truth.update({str(t): 0.6 for t in ids[VARIANT]})
    body = {"pack": pack["id"], "runs": 500, "seed": 9, "truth": truth, "arms": [ids[CONTROL], ids[VARIANT]]}
    with project.sandbox.http() as http:
        assert http.post("/_sandbox/simulate", json=body, timeout=120).status_code == 201
    _, document = _status(project)
    (row,) = document["experiments"]
    assert (row["status"], row["winner"], row["left_out"]) == ("winner", VARIANT, 0)
    by_key = {arm["key"]: arm for arm in row["arms"]}
    for key, other in ((CONTROL, VARIANT), (VARIANT, CONTROL)):
        sent = {t for ts in by_key[key]["prompt_ids"].values() for t in ts}
        assert set(ids[key]) <= sent and not set(ids[other]) & sent
    assert all(g["ok"] for g in row["guardrails"])


def test_the_plan_that_starts_an_experiment_says_what_it_will_take(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    pack = project.own_pack("pet-portraits")
    assert pack is not None
    body = {"pack": pack["id"], "runs": 600, "seed": 4, "days": 30}
    with project.sandbox.http() as http:
        assert http.post("/_sandbox/simulate", json=body, timeout=120).status_code == 201
    _declare(project)
    plan = project.plan_json()
    (notes,) = [p["notes"] for p in plan["packs"] if p["slug"] == "pet-portraits"]
    (note,) = [n for n in notes if n.startswith("experiment warmer-light starts")]
    assert "to a decision at 20 runs a day" in note and "images of its own" in note and "rotation" in note
    markdown = project.plan("--format", "markdown").out
    assert "experiment warmer-light starts" in markdown
    forecast = project.run("experiment", "plan", "warmer-light", "--format", "json")
    assert forecast.code == 0, forecast.err
    document = json.loads(forecast.out)
    assert [f["design"] for f in document["forecasts"]] == ["paired", "rotation", "split"]
    assert abs(document["measured"]["runs_per_day"] - 20) < 0.5
    paired, rotation, split = document["forecasts"]
    assert paired["runs"] < 0.6 * split["runs"] and rotation["images"] == split["images"] == 0
    text = project.run("experiment", "plan", "warmer-light").out
    assert "paired (declared)" in text and "fastest with 80% power" in text


def test_a_decided_experiment_becomes_one_pull_request(
    project: Project, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from packsync.commands.base import Streams
    from packsync.commands.experiment import ExperimentOptions, run_experiment_propose
    from tests.ci.fake_git import FakeRepository
    from tests.sandbox_helpers import KEY

    _declare(project)
    assert project.apply().code == 0
    before = project.pack_file("pet-portraits.yaml").read_text()
    fake = FakeRepository({"packs/pet-portraits.yaml": before})
    out, err = io.StringIO(), io.StringIO()
    options = ExperimentOptions(project.root, post=True, github=fake.github())
    monkeypatch.setenv("PACKSYNC_TEST_KEY", KEY)
    assert run_experiment_propose(options, Streams(out, err)) == 0 and not fake.open_pulls  # undecided: nothing
    _simulate(project, control=0.2, variant=0.6, runs=400, seed=3)
    assert run_experiment_propose(options, Streams(out, err)) == 0, err.getvalue()
    (pull,) = fake.open_pulls.values()
    assert pull["head"] == "packsync/conclude-pet-portraits-warmer-light" and pull["base"] == "main"
    assert f"keep {VARIANT}" in pull["title"] and "| `pet-portraits/warmer-light` |" in pull["body"]
    proposed = fake.branches[pull["head"]]["packs/pet-portraits.yaml"]
    assert fake.branches["main"]["packs/pet-portraits.yaml"] == before  # the base branch untouched
    assert f"winner: {VARIANT}" in proposed and f"key: {CONTROL}\n" not in proposed
    assert run_experiment_propose(options, Streams(out, err)) == 0  # the next scheduled run: the same pull request
    assert len(fake.open_pulls) == 1 and fake.commits == 1 and "updated pull request" in out.getvalue()


def test_planning_without_history_asks_for_the_traffic(project: Project) -> None:
    _declare(project)
    assert project.apply().code == 0
    done = project.run("experiment", "plan", "warmer-light")
    assert done.code == 0 and "no customer runs to plan from: give --runs-per-day N" in done.out
    given = project.run(
        "experiment", "plan", "pet-portraits/warmer-light", "--runs-per-day", "40", "--baseline", "0.25"
    )
    assert given.code == 0 and "planned for: 40.0 runs a day, control rate 25.0%" in given.out
    assert "paired (declared):" in given.out and "images of its own" in given.out
