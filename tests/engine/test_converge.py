"""The core loop converges against both readings of the API (Part A): the default sandbox, and the
realistic one that echoes few parameters, fills some from the account's settings, holds gallery
slugs, dedups (text, seed) and serves only the documented pack detail.

Each test runs the command line against the sandbox over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import os

import pytest

from packsync.sandbox.realism import REALISTIC
from tests.engine.conftest import Project, assert_no_duplicates


def writes(project: Project) -> int:
    """Writes the sandbox received since the counter was last cleared."""
    log = project.sandbox.requests()["log"]
    return sum(1 for entry in log if entry["method"] != "GET")


def test_apply_from_scratch_converges_at_once_and_a_second_apply_writes_nothing(project: Project, mode: str) -> None:
    first = project.apply()
    assert first.code == 0, first.err
    assert "Verified: the account matches the pack files." in first.out
    again = project.plan("--detailed-exitcode")
    assert again.code == 0, again.out  # nothing left: no replace, no manual change it cannot read
    project.sandbox.admin("DELETE", "requests")
    second = project.apply()
    assert second.code == 0 and writes(project) == 0, second.out
    with project.sandbox.http() as http:
        owned = http.get("/packs").json()
    mine = [p for p in owned if p.get("user_id") == owned[0].get("user_id")]
    assert len(mine) == 2  # no stray pack, whatever slug the server gave
    assert_no_duplicates(project, *(p["slug"] for p in mine))


def test_the_plan_says_once_which_declared_parameters_the_account_does_not_show(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    assert (project.root / ".packsync" / "state").is_dir()
    # a fresh checkout (CI): no record of what was sent
    for found in (project.root / ".packsync" / "state").glob("*.json"):
        found.unlink()
    done = project.plan("--detailed-exitcode")
    assert done.code == 0, done.out
    notes = [line for line in done.out.splitlines() if "does not show back" in line]
    if mode == "realistic":
        assert len(notes) == 1 and "super_resolution" in notes[0] and "--replace" in notes[0]
        data = project.plan_json()
        assert "super_resolution" in data["packs"][0]["unverified"]
    else:
        assert notes == []


def test_a_change_to_a_parameter_the_account_does_not_show_is_seen_from_the_record(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    project.edit("corporate-headshots.yaml", "  inpaint_faces: true\n", "")
    plan = project.plan_json("--pack", "corporate-headshots")
    assert plan["summary"]["templates_to_replace"] > 0  # seen even where the account shows nothing


def test_replace_forces_the_recreation_of_a_template_in_sync(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    done = project.plan("--replace", "pet-portraits/dog-beach-sunset")
    assert done.code == 0 and "--replace" not in done.err
    data = json.loads(project.plan("--format", "json", "--replace", "pet-portraits/dog-beach-sunset/dog").out)
    changes = [c for p in data["packs"] for c in p["changes"]]
    assert [(c["kind"], c.get("reason")) for c in changes] == [("replace", "--replace")]
    bad = project.plan("--replace", "pet-portraits/no-such-prompt")
    assert bad.code == 1 and "no declared template is pet-portraits/no-such-prompt" in bad.err


def test_a_template_that_does_not_read_back_as_sent_stops_the_apply_instead_of_looping(
    project: Project, mode: str
) -> None:
    # the server rewrites a phrase of every text it stores: what apply created never matches the files
    project.sandbox.admin("POST", "settings", {"text_rewrites": [["soft", "SOFT"]]})
    try:
        done = project.apply("--pack", "corporate-headshots")
    finally:
        project.sandbox.admin("POST", "settings", {"text_rewrites": []})
    assert done.code == 5, done.out + done.err
    assert "created by this apply, reads back with another text" in done.err
    assert "Run packsync apply again" not in done.err


def test_state_is_never_written_with_the_key(project: Project, mode: str) -> None:
    from tests.sandbox_helpers import KEY

    assert project.apply().code == 0
    for path in (project.root / ".packsync").rglob("*.json"):
        assert KEY not in path.read_text()


FAULT_ENV = {"PACKSYNC_RETRY_ATTEMPTS": "8", "PACKSYNC_RETRY_MAX_DELAY": "0.02", "PACKSYNC_READ_TIMEOUT": "0.5"}
# 20% of requests go wrong, every kind of A7: lost answers (the write commits later), refusals, resets
TWENTY_PERCENT = {"500": 0.04, "502": 0.03, "503": 0.03, "504": 0.04, "reset": 0.03, "429": 0.03}


def own_packs(project: Project) -> list[dict[str, object]]:
    with project.sandbox.http() as http:
        return [p for p in http.get("/packs").json() if p.get("user_id") == 1]


@pytest.mark.parametrize("seed", [3, 7, 11])
def test_realistic_mode_under_faults_converges_in_two_applies_without_copies_or_stray_packs(
    project: Project, seed: int
) -> None:
    project.sandbox.admin("POST", "settings", {"realism": sorted(REALISTIC), "time_scale": 1000})
    try:
        for applies in (1, 2):
            project.sandbox.faults(rates=TWENTY_PERCENT, seed=seed * 10 + applies, retry_after=0.01)
            done = project.run("apply", "--auto-approve", env=FAULT_ENV)
            project.sandbox.faults()
            after = project.run("plan", "--detailed-exitcode", env=FAULT_ENV)
            if after.code == 0:
                break
            if os.environ.get("PACKSYNC_DEBUG_TESTS"):
                print(done.out[-3000:], done.err[-3000:], after.out[-3000:], after.err[-2000:])
        else:
            pytest.fail("not converged in two applies")
        packs = own_packs(project)
        assert len(packs) == 2, packs  # zero stray packs, whatever slugs the server gave
        for pack in packs:
            with project.sandbox.http() as http:
                live = http.get("/prompts", params={"pack_id": pack["id"], "limit": 120}).json()
            texts = [(t["text"], t["seed"]) for t in live]
            assert len(texts) == len(set(texts)), f"copies in {pack['slug']}"
        project.sandbox.admin("DELETE", "requests")
        again = project.run("apply", "--auto-approve", env=FAULT_ENV)
        assert again.code == 0 and writes(project) == 0, again.out + again.err
    finally:
        project.sandbox.faults()
        project.sandbox.admin("POST", "settings", {"realism": [], "time_scale": 1})


def test_a_slug_another_user_holds_is_noted_and_the_foreign_pack_is_never_touched(project: Project, mode: str) -> None:
    if mode == "default":
        pytest.skip("the default sandbox has no gallery: no slug is another user's")
    with project.sandbox.http() as http:
        before = http.get("/p/corporate-headshots").json()  # Astria's gallery pack 260, someone else's
    done = project.plan()
    assert f"the slug corporate-headshots is taken by pack #{before['id']}" in done.out
    assert project.apply().code == 0
    with project.sandbox.http() as http:
        after = http.get(f"/p/{before['id']}").json()
    assert after == before  # never adopted, attached to or edited
    mine = [p for p in own_packs(project) if p["title"] == "Corporate Headshots"]
    assert len(mine) == 1 and mine[0]["slug"] != "corporate-headshots"  # adopted by id under its own slug
    assert project.plan("--detailed-exitcode").code == 0


@pytest.mark.parametrize("record", ["with the record of what was sent", "on a fresh checkout"])
def test_import_of_what_apply_made_writes_files_that_plan_empty(project: Project, mode: str, record: str) -> None:
    assert project.apply().code == 0
    if record == "on a fresh checkout":
        for found in (project.root / ".packsync" / "state").glob("*.json"):
            found.unlink()
    for path in (project.root / "packs").glob("*.yaml"):
        path.unlink()
    done = project.run("import", "--all")
    assert done.code == 0, done.out + done.err
    assert project.run("validate").code == 0 and project.run("fmt", "--check").code == 0
    plan = project.plan("--detailed-exitcode")
    assert plan.code == 0, done.out + plan.out + plan.err
    files = sorted(p.name for p in (project.root / "packs").glob("*.yaml"))
    assert len(files) == 2, files
    if record == "with the record of what was sent":
        # what the account does not show back comes from the record: the files say it again
        assert all("super_resolution: true" in (project.root / "packs" / f).read_text() for f in files)
