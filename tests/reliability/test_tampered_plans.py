"""A saved plan is data to check, never orders: a plan file edited after it was written can
apply nothing that the pack files, the account and the policy do not allow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Project
from tests.engine.test_safety import drop_prompts, keys_of, setup_applied, writes


def saved(project: Project) -> tuple[Path, dict[str, Any]]:
    out = project.root / "plan.json"
    done = project.plan("--out", str(out))
    assert done.code == 0, done.err
    return out, json.loads(out.read_text())


def rewrite(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


def pack_of(data: dict[str, Any], slug: str) -> dict[str, Any]:
    return next(p for p in data["packs"] if p["slug"] == slug)


def hand_made(project: Project) -> tuple[int, int]:
    """An undeclared pack with one template, made before the requests counted: (pack id, template id)."""
    made = project.hand_made_pack()
    project.sandbox.admin("DELETE", "requests")
    return made


def test_emptied_refusals_do_not_allow_a_mass_removal(project: Project) -> None:
    setup_applied(project)
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:8])
    out, data = saved(project)
    assert data["refusals"]
    data["refusals"] = []
    rewrite(out, data)
    done = project.apply(str(out))
    assert done.code == 3, done.out + done.err
    assert "exceeds the policy's 30%" in done.err
    assert writes(project) == 0


def test_removes_relabelled_as_duplicates_still_count(project: Project) -> None:
    setup_applied(project)
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:8])
    out, data = saved(project)
    data["refusals"] = []
    for change in pack_of(data, "pet-portraits")["changes"]:
        change["reason"] = "duplicate of #1"
    rewrite(out, data)
    assert project.apply(str(out)).code == 3
    assert writes(project) == 0


def test_a_cleared_protect_flag_does_not_unprotect(project: Project) -> None:
    setup_applied(project)
    path = project.pack_file("pet-portraits.yaml")
    path.write_text(path.read_text().replace("title: Pet Portraits\n", "title: Pet Portraits\nprotect: true\n", 1))
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:1])
    out, data = saved(project)
    data["refusals"] = []
    pack_of(data, "pet-portraits")["protect"] = False
    rewrite(out, data)
    done = project.apply(str(out))
    assert done.code == 3 and "protected" in done.err
    assert writes(project) == 0


def test_an_injected_remove_of_another_packs_template_is_refused(project: Project) -> None:
    setup_applied(project)
    _, victim = hand_made(project)
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:1])
    out, data = saved(project)
    pack = pack_of(data, "pet-portraits")
    removal = next(c for c in pack["changes"] if c["kind"] == "remove")
    pack["changes"].append({**removal, "remove": {**removal["remove"], "id": victim}})
    rewrite(out, data)
    done = project.apply(str(out))
    assert done.code == 1, done.out + done.err
    assert f"the plan removes #{victim}, which is not a template of this pack" in done.err
    assert writes(project) == 0
    assert len(project.templates("hand-made")) == 1


def test_a_plan_pointed_at_an_undeclared_pack_is_refused(project: Project) -> None:
    setup_applied(project)
    other, victim = hand_made(project)
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:1])
    out, data = saved(project)
    pack = pack_of(data, "pet-portraits")
    pack["id"] = other
    rewrite(out, data)
    done = project.apply(str(out))
    assert done.code == 1, done.out + done.err
    assert f"the plan names #{other}, which is pack 'hand-made' on the account" in done.err
    assert writes(project) == 0
    assert len(project.templates("hand-made")) == 1
    undeclared = pack_of(data, "pet-portraits") | {"slug": "hand-made", "id": other}
    data["packs"] = [undeclared]
    rewrite(out, data)
    done = project.apply(str(out))
    assert done.code == 1 and "pack hand-made: no pack file declares it" in done.err
    assert writes(project) == 0
    assert victim in {t["id"] for t in project.templates("hand-made")}


def test_on_remove_comes_from_the_policy_not_the_file(project: Project) -> None:
    setup_applied(project)
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:1])
    out, data = saved(project)
    data["on_remove"] = "delete"
    rewrite(out, data)
    done = project.apply(str(out))
    assert done.code == 1
    assert "the plan would delete removed templates, but the policy says on_remove: detach" in done.err
    assert writes(project) == 0


@pytest.mark.parametrize("field", ["tune_id", "class"])
def test_a_create_outside_the_packs_classes_is_refused(project: Project, field: str) -> None:
    setup_applied(project)
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4243\n")
    out, data = saved(project)
    change = next(c for c in pack_of(data, "pet-portraits")["changes"] if c.get("create"))
    change["create"][field] = 690204 if field == "tune_id" else "man"
    rewrite(out, data)
    done = project.apply(str(out))
    assert done.code == 1, done.out + done.err
    assert "pet-portraits.yaml does not declare" in done.err
    assert writes(project) == 0


def test_an_untampered_plan_still_applies(project: Project) -> None:
    setup_applied(project)
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:1])
    out, _ = saved(project)
    done = project.apply(str(out))
    assert done.code == 0, done.out + done.err
    assert "Verified: every change of the plan is in effect." in done.out


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(packs={"pet-portraits": d["packs"][0]}),
        lambda d: pack_of(d, "pet-portraits").update(live=1.5),
        lambda d: pack_of(d, "pet-portraits")["changes"].append("remove everything"),
        lambda d: pack_of(d, "pet-portraits")["changes"][0].pop("kind"),
        lambda d: pack_of(d, "pet-portraits").update(id="2"),
        lambda d: d.update(account={"url": 1}),
    ],
)
def test_a_damaged_plan_file_is_one_clear_error(project: Project, damage: Any) -> None:
    setup_applied(project)
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:1])
    out, data = saved(project)
    damage(data)
    rewrite(out, data)
    done = project.apply(str(out))
    assert done.code == 1, done.out + done.err
    assert "not a valid packsync plan: at " in done.err and "Traceback" not in done.err
    assert writes(project) == 0
