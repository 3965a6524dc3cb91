"""plan and apply end to end, against the sandbox over HTTP."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

from packsync.packfiles.schema import load_schema
from tests.engine.conftest import Project, assert_no_duplicates

SLUGS = ("corporate-headshots", "pet-portraits")
# every test here runs against both readings of the API (tests/engine/conftest.py: mode)
pytestmark = pytest.mark.usefixtures("mode")


def applied(project: Project) -> None:
    done = project.apply()
    assert done.code == 0, done.out + done.err
    assert "Verified: the account matches the pack files." in done.out


def test_from_scratch_then_a_replan_is_empty(project: Project) -> None:
    first = project.plan("--detailed-exitcode")
    assert first.code == 2
    assert "+ pack corporate-headshots (new: 54 to create, 208 new images)" in first.out
    assert "Plan: 2 pack(s) to create, 84 template(s) to create." in first.out
    applied(project)
    assert len(project.templates("corporate-headshots")) == 54
    assert len(project.templates("pet-portraits")) == 30
    again = project.plan("--detailed-exitcode")
    assert again.code == 0, again.out
    assert "No changes." in again.out
    assert_no_duplicates(project, *SLUGS)


def test_plan_sends_no_write(project: Project) -> None:
    project.plan()
    log = project.sandbox.requests()["log"]
    assert log and all(entry["method"] == "GET" for entry in log)


@pytest.mark.parametrize(
    ("old", "new", "table"),
    [
        ("    seed: 1504\n", "    seed: 1505\n", "seed: 1504 -> 1505"),
        ("    cfg_scale: 3.5\n", "    cfg_scale: 4\n", "cfg_scale: 3.5 -> 4"),
        ("    seed: 1504\n", "    seed: 1504\n    steps: 30\n", "steps: (default) -> 30"),
        ("    color_grading: Film Portra\n", "", 'color_grading: "Film Portra" -> (default)'),
        (
            "    seed: 1504\n",
            "    seed: 1504\n    super_resolution: false\n    inpaint_faces: false\n",
            "inpaint_faces: true -> (default)",
        ),
    ],
)
def test_a_changed_parameter_is_one_replace_per_class_with_a_table(
    project: Project, old: str, new: str, table: str, mode: str
) -> None:
    if mode == "realistic":
        # Astria dedups (text, seed): a new version with the same text and seed needs the old one
        # deleted first, which apply does when removed templates are deleted
        config = project.root / "packsync.yaml"
        config.write_text(config.read_text() + "policy:\n  on_remove: delete\n")
    applied(project)
    project.edit("corporate-headshots.yaml", old, new)
    done = project.plan()
    assert "Plan: 2 template(s) to replace." in done.out, done.out
    assert table in done.out
    applied(project)
    assert project.plan("--detailed-exitcode").code == 0
    assert_no_duplicates(project, *SLUGS)


def test_a_changed_text_shows_a_word_diff(project: Project) -> None:
    applied(project)
    project.edit(
        "pet-portraits.yaml",
        "sitting in a carpet of fallen orange and red leaves",
        "lying in a carpet of fallen golden leaves",
    )
    done = project.plan()
    assert "Plan: 2 template(s) to replace." in done.out
    assert "[-sitting-]{+lying+}" in done.out
    assert "[-orange and red-]{+golden+}" in done.out
    assert "autumn-park replaces #" in done.out
    applied(project)
    assert project.plan("--detailed-exitcode").code == 0


def test_adding_a_class_to_a_prompt_creates_one_template(project: Project) -> None:
    applied(project)
    project.edit("pet-portraits.yaml", "    classes: [dog]\n", "    classes: [dog, cat]\n")
    done = project.plan()
    assert "Plan: 1 template(s) to create." in done.out
    assert "+ [cat]" in done.out
    applied(project)
    assert project.plan("--detailed-exitcode").code == 0


def test_a_new_reference_tune_replaces_every_template_of_its_class(project: Project) -> None:
    applied(project)
    project.edit("corporate-headshots.yaml", "man: { tune_id: 690204 }", "man: { tune_id: 700001 }")
    plan = project.plan_json()
    assert plan["summary"]["templates_to_replace"] == 27
    assert plan["summary"]["templates_to_create"] == 0
    assert plan["summary"]["templates_to_remove"] == 0
    refused = project.apply()  # half the pack's templates taken off: a mass change
    assert refused.code == 3
    assert "replacing 27 of 54 live templates (50%) exceeds the policy's 30%" in refused.err
    assert project.apply("--allow-mass-removal").code == 0
    texts = [t["text"] for t in project.templates("corporate-headshots")]
    assert sum("<lora:700001:1> ohwx man" in t for t in texts) == 27
    assert not any("690204" in t for t in texts)
    assert project.plan("--detailed-exitcode").code == 0


def test_a_removed_prompt_is_detached_by_default(project: Project) -> None:
    applied(project)
    before = {t["id"]: t for t in project.templates("pet-portraits")}
    text = project.pack_file("pet-portraits.yaml").read_text()
    start = text.index("  - key: royal-throne")
    end = text.index("  - key:", start + 5)
    project.pack_file("pet-portraits.yaml").write_text(text[:start] + text[end:])
    done = project.plan()
    assert "Plan: 2 template(s) to remove." in done.out
    assert "(detach; not in the files)" in done.out
    applied(project)
    after = {t["id"] for t in project.templates("pet-portraits")}
    gone = set(before) - after
    assert len(gone) == 2
    with project.sandbox.http() as http:
        for prompt_id in gone:
            prompt = http.get(f"/prompts/{prompt_id}").json()
            assert prompt["pack_id"] is None  # detached, not deleted
            assert prompt["base_pack_id"] is not None


def test_removal_deletes_when_the_policy_says_so(project: Project) -> None:
    applied(project)
    (project.root / "packsync.yaml").write_text(
        (project.root / "packsync.yaml").read_text() + "policy:\n  on_remove: delete\n"
    )
    before = {t["id"] for t in project.templates("pet-portraits")}
    text = project.pack_file("pet-portraits.yaml").read_text()
    start = text.index("  - key: royal-throne")
    end = text.index("  - key:", start + 5)
    project.pack_file("pet-portraits.yaml").write_text(text[:start] + text[end:])
    assert "(delete; not in the files)" in project.plan().out
    applied(project)
    gone = before - {t["id"] for t in project.templates("pet-portraits")}
    with project.sandbox.http() as http:
        assert all(http.get(f"/prompts/{i}").status_code == 404 for i in gone)


def test_extra_copies_on_the_account_are_removed_as_duplicates(project: Project, mode: str) -> None:
    if mode == "realistic":
        pytest.skip("an account that dedups (text, seed) answers the copy's create with the template itself")
    applied(project)
    template = project.templates("pet-portraits")[0]
    with project.sandbox.http() as http:
        body = {
            k: template[k]
            for k in (
                "text",
                "num_images",
                "negative_prompt",
                "seed",
                "super_resolution",
                "aspect_ratio",
                "cfg_scale",
                "color_grading",
            )
            if template.get(k) is not None
        }
        http.post(
            f"/tunes/{template['tune_id']}/prompts", json={"prompt": {**body, "pack_id": template["pack_id"]}}
        ).raise_for_status()
    done = project.plan()
    assert f"(detach; duplicate of #{template['id']})" in done.out
    applied(project)
    assert_no_duplicates(project, "pet-portraits")
    assert template["id"] in {t["id"] for t in project.templates("pet-portraits")}  # the oldest stays


def test_pack_fields_the_api_cannot_write_are_manual(project: Project) -> None:
    applied(project)
    project.edit("pet-portraits.yaml", "title: Pet Portraits", "title: Pet Portraits")  # unchanged title
    project.edit("pet-portraits.yaml", "  base_tune_id: 1504944", "  base_tune_id: 1504945")
    done = project.plan("--detailed-exitcode")
    assert done.code == 2
    assert "! model.base_tune_id: 1504944 -> 1504945  (manual: change it in the Astria web UI)" in done.out
    apply = project.apply()
    assert apply.code == 0
    assert "Nothing packsync can apply" in apply.out


def test_packs_no_file_declares_are_never_touched(project: Project) -> None:
    pack_id, template_id = project.hand_made_pack()
    done = project.plan()
    assert "1 pack(s) on the account are not in the pack files and are not touched: hand-made" in done.out
    applied(project)
    assert len(project.templates("hand-made")) == 1
    writes = [e["path"] for e in project.sandbox.requests()["log"] if e["method"] != "GET"]
    assert not [p for p in writes if p.endswith(f"/prompts/{template_id}") or p.startswith(f"/p/{pack_id}")]


def test_pack_filter(project: Project) -> None:
    done = project.plan("--pack", "pet-portraits")
    assert "pet-portraits" in done.out and "corporate-headshots" not in done.out
    assert project.apply("--pack", "pet-portraits").code == 0
    assert "+ pack corporate-headshots" in project.plan().out
    assert project.plan("--pack", "nope").code == 1


def test_packs_left_out_by_the_pack_filter_are_not_called_undeclared(project: Project) -> None:
    applied(project)
    with project.sandbox.http() as http:
        http.post("/packs", json={"pack": {"title": "Hand Made", "base_tune_id": 1, "model_type": "lora"}})
    done = project.plan("--pack", "pet-portraits")
    assert "1 pack(s) on the account are not in the pack files and are not touched: hand-made" in done.out
    assert "corporate-headshots" not in done.out
    assert [p["slug"] for p in project.plan_json("--pack", "pet-portraits")["undeclared"]] == ["hand-made"]


def test_invalid_files_send_nothing(project: Project) -> None:
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: -1\n")
    for done in (project.plan(), project.apply()):
        assert done.code == 1
        assert "schema-range" in done.err
        assert "nothing was sent" in done.err
    assert project.api_requests() == 0


def test_apply_without_a_terminal_needs_auto_approve(project: Project) -> None:
    done = project.run("apply")
    assert done.code == 1
    assert "--auto-approve" in done.err
    assert not [e for e in project.sandbox.requests()["log"] if e["method"] != "GET"]


def test_json_plan_follows_its_schema(project: Project) -> None:
    plan = project.plan_json()
    Draft202012Validator(load_schema("plan.schema.json")).validate(plan)
    applied(project)
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4243\n")
    plan = project.plan_json()
    Draft202012Validator(load_schema("plan.schema.json")).validate(plan)
    (replace,) = [c for p in plan["packs"] for c in p["changes"] if c["kind"] == "replace"][:1]
    assert replace["create"]["params"]["seed"] == 4243
    assert replace["remove"]["params"]["seed"] == 4242
    assert replace["create"]["source"]["file"].endswith("pet-portraits.yaml")


def test_markdown_plan_is_a_comment_with_collapsible_packs(project: Project) -> None:
    done = project.plan("--format", "markdown")
    assert done.out.startswith("<!-- packsync-plan -->")
    assert "| corporate-headshots (new) | 54 | 0 | 0 | 0 | 208 |" in done.out
    assert done.out.count("<details>") == done.out.count("</details>") == 2


def test_no_colour_when_not_a_terminal(project: Project) -> None:
    done = project.run("plan", env={"NO_COLOR": ""})
    assert "\x1b[" not in done.out


def test_the_key_is_not_in_a_saved_plan(project: Project) -> None:
    out = project.root / "plan.json"
    assert project.plan("--out", str(out)).code == 0
    from tests.sandbox_helpers import KEY

    assert KEY not in out.read_text()
    assert re.search(r'"target": "test"', out.read_text())


def test_saved_plan_applies_exactly_what_was_reviewed(project: Project) -> None:
    out = project.root / "plan.json"
    project.plan("--out", str(out))
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 9999\n")  # after the review
    done = project.apply(str(out))
    assert done.code == 0, done.out + done.err
    assert "Verified: every change of the plan is in effect." in done.out
    texts = project.templates("pet-portraits")
    assert {t["seed"] for t in texts} >= {4242}
    assert 9999 not in {t["seed"] for t in texts}


def test_a_stale_saved_plan_is_refused_naming_each_object(project: Project) -> None:
    applied(project)
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4243\n")
    out = project.root / "plan.json"
    project.plan("--out", str(out))
    victim = project.templates("pet-portraits")[3]
    with project.sandbox.http() as http:
        http.patch(f"/prompts/{victim['id']}", json={"prompt": {"pack_id": None}}).raise_for_status()
    done = project.apply(str(out))
    assert done.code == 4
    assert f"pack pet-portraits: template #{victim['id']} is gone" in done.err
    assert "the saved plan is stale" in done.err


def test_a_saved_plan_for_a_new_pack_is_stale_once_the_pack_exists(project: Project) -> None:
    out = project.root / "plan.json"
    project.plan("--out", str(out), "--pack", "pet-portraits")
    assert project.apply("--pack", "pet-portraits").code == 0
    done = project.apply(str(out))
    assert done.code == 4
    assert "pack pet-portraits: created on the account" in done.err


def test_a_plan_file_that_is_not_a_plan(project: Project) -> None:
    bad = project.root / "bad.json"
    bad.write_text(json.dumps({"version": 99}))
    done = project.apply(str(bad))
    assert done.code == 1
    assert "plan format version 99 is not supported" in done.err
    bad.write_text("{nope")
    assert "is not JSON" in project.apply(str(bad)).err


def test_a_target_maps_reference_tunes_to_its_own(project: Project) -> None:
    config = project.root / "packsync.yaml"
    config.write_text(config.read_text() + '    tune_ids: {"690204": 700001}\n')
    applied(project)
    texts = [t["text"] for t in project.templates("corporate-headshots")]
    assert sum("<lora:700001:1> ohwx man" in t for t in texts) == 27
    assert not any("690204" in t for t in texts)
    tunes = {t["tune_id"] for t in project.templates("corporate-headshots") if " ohwx man" in t["text"]}
    assert tunes == {1504944}  # created on the pack's base model (A9); the tag names the target's own tune
    assert project.plan("--detailed-exitcode").code == 0
    # created on the class's tune instead (post_tune: reference), that is the target's own tune
    project.edit("corporate-headshots.yaml", "  model_type: lora\n", "  model_type: lora\n  post_tune: reference\n")
    assert project.plan("--detailed-exitcode").code == 0  # where a template sits is no part of its identity


def test_a_pack_the_server_names_otherwise_is_adopted_and_never_created_twice(project: Project, mode: str) -> None:
    """Slugs are global: another account's pack holds pet-portraits, so the new pack gets
    another slug. Apply goes on with that pack; later plans find it by its title."""
    if mode == "realistic":
        pytest.skip("workspaces do not scope packs there; the gallery's taken slugs: test_converge.py")
    with project.sandbox.http() as http:
        foreign = http.post(
            "/packs",
            json={"pack": {"title": "Pet Portraits", "base_tune_id": 1, "model_type": "lora"}},
            headers={"X-Workspace-Id": "someone-else"},
        )
        assert foreign.status_code == 201, foreign.text
    done = project.apply()
    assert done.code == 0, done.out + done.err
    assert "the server named it 'pet-portraits-2': pin it with `id:" in done.out
    for _ in range(2):
        assert project.plan("--detailed-exitcode").code == 0
        assert project.apply().code == 0
    with project.sandbox.http() as http:
        own = [p for p in http.get("/packs").json() if p["title"] == "Pet Portraits"]
    assert [p["slug"] for p in own] == ["pet-portraits-2"]
    assert len(project.templates("pet-portraits-2")) == 30


def test_two_packs_with_the_title_of_a_missing_slug_ask_for_a_pinned_id(project: Project, mode: str) -> None:
    if mode == "realistic":
        pytest.skip("workspaces do not scope packs there: the other workspace's pack is a third one")
    body = {"pack": {"title": "Pet Portraits", "base_tune_id": 1, "model_type": "lora"}}
    with project.sandbox.http() as http:
        http.post("/packs", json=body, headers={"X-Workspace-Id": "someone-else"})  # takes the slug
        ids = [http.post("/packs", json=body).json()["id"] for _ in range(2)]
    done = project.plan()
    assert done.code == 1
    assert "no pack on the account has the slug pet-portraits, and 2 have its title 'Pet Portraits'" in done.err
    assert all(f"#{i}" in done.err for i in ids) and "pin the right one with `id:`" in done.err
    assert "Traceback" not in done.err
