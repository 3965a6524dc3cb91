"""Where templates are created (A9): lora, pti and faceid templates on the pack's base model, a
checkpoint's on the class's reference tune, ``model.post_tune`` overriding it; where a live
template sits is no part of its identity, and a saved plan creates only on the pack's POST tune."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packsync.facts import TUNE_TAG_RE
from tests.engine.conftest import Project

FACEID_PACK = """\
slug: face-portraits
title: Face Portraits
model:
  base_tune_id: 666678
  model_type: faceid
classes:
  man: { tune_id: 690204 }
  woman: { tune_id: 690205 }
defaults:
  cfg_scale: 3
prompts:
  - key: studio
    text: "{{subject}}, studio portrait, soft light"
  - key: window
    text: "{{subject}} by a window, natural light"
    seed: 7
"""


def posted_on(project: Project, slug: str) -> dict[str, set[int]]:
    """The tunes a pack's live templates sit on, by the tune their tag references."""
    out: dict[str, set[int]] = {}
    for template in project.templates(slug):
        match = TUNE_TAG_RE.search(template["text"])
        assert match is not None, template
        out.setdefault(match.group(2), set()).add(int(template["tune_id"]))
    return out


def applied(project: Project, *args: str) -> None:
    done = project.apply(*args)
    assert done.code == 0, done.out + done.err


def set_post_tune(project: Project, name: str, value: str | None) -> None:
    path = project.pack_file(name)
    lines = [line for line in path.read_text().splitlines(keepends=True) if not line.startswith("  post_tune:")]
    text = "".join(lines)
    if value is not None:
        text = text.replace("  model_type: lora\n", f"  model_type: lora\n  post_tune: {value}\n", 1)
    path.write_text(text)


def test_a_lora_packs_templates_are_created_on_its_base_model(project: Project, mode: str) -> None:
    applied(project)
    assert posted_on(project, "corporate-headshots") == {"690204": {1504944}, "690205": {1504944}}
    assert posted_on(project, "pet-portraits") == {"690310": {1504944}, "690311": {1504944}}
    assert project.plan("--detailed-exitcode").code == 0


def test_a_faceid_packs_templates_are_created_on_its_gallery_base_model(project: Project, mode: str) -> None:
    # the realistic mode renders faceid only on a gallery model (A9): the base, never a reference tune
    project.pack_file("face-portraits.yaml").write_text(FACEID_PACK)
    applied(project, "--pack", "face-portraits")
    assert posted_on(project, "face-portraits") == {"690204": {666678}, "690205": {666678}}
    assert project.plan("--pack", "face-portraits", "--detailed-exitcode").code == 0
    project.edit("face-portraits.yaml", "  model_type: faceid\n", "  model_type: faceid\n  post_tune: reference\n")
    assert project.plan("--pack", "face-portraits", "--detailed-exitcode").code == 0  # no churn either way


def test_a_checkpoint_packs_templates_are_planned_on_the_reference_tune(project: Project, mode: str) -> None:
    project.edit("pet-portraits.yaml", "  model_type: lora\n", "  model_type: checkpoint\n")
    plan = project.plan_json("--pack", "pet-portraits")
    (pack,) = plan["packs"]
    creates = [c["create"] for c in pack["changes"] if c.get("create")]
    assert creates and {(c["class"], c["tune_id"]) for c in creates} == {("dog", 690310), ("cat", 690311)}
    assert not any(TUNE_TAG_RE.search(c["text"]) for c in creates)
    project.edit("pet-portraits.yaml", "  model_type: checkpoint\n", "  model_type: checkpoint\n  post_tune: base\n")
    (pack,) = project.plan_json("--pack", "pet-portraits")["packs"]
    assert {c["create"]["tune_id"] for c in pack["changes"] if c.get("create")} == {1504944}


def test_post_tune_reference_creates_on_the_class_tune(project: Project, mode: str) -> None:
    set_post_tune(project, "corporate-headshots.yaml", "reference")
    applied(project, "--pack", "corporate-headshots")
    assert posted_on(project, "corporate-headshots") == {"690204": {690204}, "690205": {690205}}
    assert project.plan("--pack", "corporate-headshots", "--detailed-exitcode").code == 0


def test_templates_on_the_reference_tunes_plan_no_change_after_the_switch(project: Project, mode: str) -> None:
    """An account whose templates an earlier packsync created on the reference tunes: the files that
    now create on the base model match them as they are (no replace, no create, no remove)."""
    set_post_tune(project, "corporate-headshots.yaml", "reference")
    set_post_tune(project, "pet-portraits.yaml", "reference")
    applied(project)
    set_post_tune(project, "corporate-headshots.yaml", None)
    set_post_tune(project, "pet-portraits.yaml", None)
    plan = project.plan("--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    # and a template added now goes on the base model, beside the old ones
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4243\n")
    applied(project, "--pack", "pet-portraits")
    tunes = {t["tune_id"] for t in project.templates("pet-portraits")}
    assert tunes == {690310, 690311, 1504944}
    assert project.plan("--detailed-exitcode").code == 0


def saved(project: Project) -> tuple[Path, dict[str, Any]]:
    out = project.root / "plan.json"
    done = project.plan("--out", str(out))
    assert done.code == 0, done.err
    return out, json.loads(out.read_text())


def first_create(data: dict[str, Any], slug: str) -> dict[str, Any]:
    pack = next(p for p in data["packs"] if p["slug"] == slug)
    create: dict[str, Any] = next(c["create"] for c in pack["changes"] if c.get("create"))
    return create


def test_a_saved_plan_creates_on_the_base_model_and_nowhere_else(project: Project) -> None:
    applied(project)
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4243\n")
    out, data = saved(project)
    create = first_create(data, "pet-portraits")
    assert create["tune_id"] == 1504944  # the pack's POST tune: its base model
    own_tune = 690310 if create["class"] == "dog" else 690311
    for tune in (own_tune, 424242):  # the class's own reference tune is not its POST tune; nor is another
        create["tune_id"] = tune
        out.write_text(json.dumps(data))
        done = project.apply(str(out))
        assert done.code == 1, done.out + done.err
        assert f"the plan creates a template on tune {tune} as class {create['class']!r}" in done.err
        assert f"(it creates class {create['class']!r}'s templates on tune 1504944)" in done.err
    create["tune_id"] = 1504944
    out.write_text(json.dumps(data))
    done = project.apply(str(out))
    assert done.code == 0, done.out + done.err
    assert "Verified: every change of the plan is in effect." in done.out


def test_apply_warns_of_a_template_the_account_puts_under_another_class(project: Project, mode: str) -> None:
    """A9: the class is the key prompts_per_class lists a template under. With a reference tune named
    other than its class, the default sandbox files the templates under the tune's name (the realistic
    one under the word after the tag, which is the class)."""
    project.edit("pet-portraits.yaml", "  cat: { tune_id: 690311 }\n", "  cat: { tune_id: 690205 }\n")  # "woman"
    done = project.apply("--pack", "pet-portraits")
    assert done.code == 0, done.out + done.err
    warned = [line for line in done.err.splitlines() if "puts it under class" in line]
    if mode == "default":
        assert warned and all("declared as class 'cat'" in w and "class 'woman'" in w for w in warned), done.err
        assert all("post_tune" in w and "reference tune" in w for w in warned)
        assert any("pet-portraits.yaml:" in w and "(" in w for w in warned)
    else:
        assert warned == [], done.err
    assert project.plan("--pack", "pet-portraits", "--detailed-exitcode").code == 0
