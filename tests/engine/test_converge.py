"""The core loop converges against both readings of the API (Part A): the default sandbox, and the
realistic one that echoes few parameters, fills some from the account's settings, holds gallery
slugs, dedups (text, seed) and serves only the documented pack detail.

Each test runs the command line against the sandbox over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json

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
