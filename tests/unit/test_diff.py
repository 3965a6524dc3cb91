"""The diff and its renderers, without a network."""

from __future__ import annotations

import io
from typing import Any

from packsync.desired.identity import canonical_params, identity
from packsync.desired.state import desired_state
from packsync.packfiles.loader import load_text
from packsync.packfiles.pack import pack_from_document
from packsync.packfiles.project import Policy
from packsync.plan.diff import LiveState, diff
from packsync.plan.formats import MARKDOWN_LIMIT, render_markdown, render_text
from packsync.plan.model import Change, LiveRef, PackPlan, Plan, Source, TemplateSpec
from packsync.plan.observe import Observation
from packsync.term import Style

PACK = """\
slug: demo
title: Demo
model: {base_tune_id: 1, model_type: lora}
classes:
  man: {tune_id: 10}
  woman: {tune_id: 11}
defaults: {num_images: 4}
prompts:
  - key: a
    text: "{{subject}} in a studio with soft light"
  - key: b
    classes: [woman]
    text: "{{subject}} by a window"
    seed: 3
"""

ECHOING = Observation.echoing_all()  # an account that shows every parameter back (the default sandbox)


def desired(text: str = PACK) -> Any:
    doc = load_text(text, "packs/demo.yaml").document
    assert doc is not None
    return desired_state([pack_from_document(doc)])


def live_from(d: Any, **overrides: Any) -> list[dict[str, Any]]:
    out = []
    for i, t in enumerate(d[0].templates, start=100):
        out.append(
            {
                "id": i,
                "text": t.text,
                "pack_id": 7,
                "tune_id": t.tune_id,
                "num_images": 1,
                **dict(t.params),
                **overrides,
            }
        )
    return out


def plan_for(d: Any, templates: list[dict[str, Any]], **policy: Any) -> Plan:
    summary = {"id": 7, "slug": "demo", "title": "Demo", "base_tune_id": 1, "model_type": "lora", "token": "ohwx"}
    return diff(d, {"demo": LiveState(summary, templates)}, "t", Policy(**policy), observation=ECHOING)


def test_defaults_and_number_forms_are_normalized() -> None:
    assert canonical_params({"num_images": 1, "super_resolution": False, "seed": None, "cfg_scale": 7.0}) == (
        ("cfg_scale", 7),
    )
    assert identity(" x ", {"cfg_scale": 7}) == identity("x", {"cfg_scale": 7.0, "film_grain": False})
    assert identity("x", {"seed": 0}) != identity("x", {})  # 0 is a value, not the default


def test_matching_account_gives_an_empty_plan() -> None:
    d = desired()
    plan = plan_for(d, live_from(d))
    assert not plan.has_changes


def test_server_echoing_defaults_still_matches() -> None:
    d = desired()
    live = live_from(d, super_resolution=False, hires_fix=False, negative_prompt=None, cfg_scale=None)
    assert not plan_for(d, live).has_changes


def test_changed_parameter_pairs_into_replace_per_class() -> None:
    d = desired()
    new = desired(PACK.replace("    seed: 3\n", "    seed: 4\n"))
    plan = plan_for(new, live_from(d))
    (pack,) = plan.packs
    assert [c.kind for c in pack.changes] == ["replace"]
    assert pack.changes[0].remove is not None and pack.changes[0].remove.id == 102


def test_changed_text_pairs_by_similarity() -> None:
    d = desired()
    new = desired(PACK.replace("in a studio with soft light", "in a studio with hard light"))
    plan = plan_for(new, live_from(d))
    kinds = sorted(c.kind for c in plan.packs[0].changes)
    assert kinds == ["replace", "replace"]


def test_unrelated_text_is_a_create_and_a_remove() -> None:
    d = desired()
    new = desired(PACK.replace("by a window", "astronaut floating above the moon surface"))
    plan = plan_for(new, live_from(d))
    assert sorted(c.kind for c in plan.packs[0].changes) == ["create", "remove"]


def test_duplicates_on_the_account_are_removed_but_the_oldest_kept() -> None:
    d = desired()
    live = live_from(d)
    live.append({**live[0], "id": 900})
    (change,) = plan_for(d, live).packs[0].changes
    assert change.kind == "remove" and change.remove is not None
    assert change.remove.id == 900 and change.reason == "duplicate of #100"


def test_an_id_listed_twice_is_one_template_never_its_own_duplicate() -> None:
    d = desired()
    live = live_from(d)
    plan = plan_for(d, live + [dict(t) for t in live])  # every template listed twice
    assert not plan.has_changes
    assert plan.packs[0].live_count == len(live)
    # the same id with other content: the first listing counts, and the kept id is never removed
    plan = plan_for(d, [*live, {**live[0], "text": "<lora:10:1> ohwx man elsewhere"}])
    assert not plan.has_changes


def test_templates_of_another_pack_or_of_none_are_not_this_packs_to_remove() -> None:
    d = desired()
    stray = {"text": "<lora:10:1> ohwx man not ours", "tune_id": 10, "num_images": 1}
    live = [*live_from(d), {**stray, "id": 800, "pack_id": 8}, {**stray, "id": 801, "pack_id": None}]
    plan = plan_for(d, live)
    assert not plan.has_changes
    assert set(plan.packs[0].live_fingerprints) == {100, 101, 102}
    # an item without pack_id at all (the documented prompt object has none) is taken as listed
    (change,) = plan_for(d, [*live_from(d), {**stray, "id": 802}]).packs[0].changes
    assert change.kind == "remove" and change.remove is not None and change.remove.id == 802


def test_removal_share_is_measured_against_live_templates() -> None:
    d = desired()
    live = live_from(d) + [
        {"id": 500 + i, "text": f"<lora:10:1> ohwx man old {i}", "pack_id": 7, "tune_id": 10, "num_images": 1}
        for i in range(3)
    ]
    plan = plan_for(d, live)
    assert [r.rule for r in plan.refusals] == ["removal-share"]  # 3 of 6 is over 30%
    assert plan_for(d, live, max_remove_share=0.6).refusals == []


def test_diffing_12000_templates_is_fast() -> None:
    import time

    prompts = "".join(
        f"  - key: p{i}\n    text: '{{{{subject}}}} look number {i}'\n    seed: {i}\n" for i in range(3000)
    )
    d = desired(PACK.split("prompts:\n")[0] + "prompts:\n" + prompts)
    live = live_from(d)
    start = time.perf_counter()
    plan = plan_for(d, live)
    assert time.perf_counter() - start < 2.0  # the benchmark measures it properly; this only guards against blow-ups
    assert not plan.has_changes


def synthetic_plan(packs: int, per_pack: int) -> Plan:
    plan = Plan(target="t")
    for p in range(packs):
        pack = PackPlan(slug=f"pack-{p}", title=f"Pack {p}", file=f"packs/pack-{p}.yaml", live_id=p + 1)
        for i in range(per_pack):
            spec = TemplateSpec(
                "man",
                10,
                f"k{i}",
                f"<lora:10:1> ohwx man <b>|{i}|</b> & more text " * 3,
                (("seed", i),),
                Source(pack.file, i + 1),
            )
            old = LiveRef(1000 * p + i, "man", spec.text.replace("more", "less"), (("seed", i + 1),), "f")
            pack.changes.append(Change(kind="replace", create=spec, remove=old))
        plan.packs.append(pack)
    return plan


def test_markdown_of_500_packs_stays_under_the_limit_and_never_cuts_markup() -> None:
    text = render_markdown(synthetic_plan(500, 8))
    assert len(text) <= MARKDOWN_LIMIT
    assert text.count("<details>") == text.count("</details>") > 0
    assert "pack(s) not shown in detail" in text
    assert text.count("| pack-") == 500  # every pack is in the summary table
    assert "<b>|" not in text  # user text is escaped
    for section in text.split("<details>")[1:]:
        assert section.count("</details>") == 1


def test_small_markdown_plan_is_shown_whole() -> None:
    text = render_markdown(synthetic_plan(3, 2))
    assert text.count("<details>") == 3
    assert "not shown in detail" not in text


def test_shared_parameters_line_covers_replacements_too() -> None:
    both = PACK.replace("    classes: [woman]\n", "")  # b: a create for each class, both with seed 3
    d = desired(both)
    live = [t for t in live_from(d, seed=5) if "studio" in t["text"]]  # a: replaced (seed 5 -> default)
    plan = plan_for(d, live)
    assert plan.count("replace") == 2 and plan.count("create") == 2
    out = io.StringIO()
    render_text(plan, out, Style(False))
    text = out.getvalue()
    every = [line for line in text.splitlines() if "every new template:" in line]
    assert every == ["      every new template: num_images=4"], text
    assert text.count("seed=3") == 2  # on each create, not claimed for the replacements
    markdown = render_markdown(plan)
    assert "Every new template: `num_images=4`\n" in markdown
    assert markdown.count("`seed=3`") == 2


def test_shared_parameters_line_shows_what_every_template_has() -> None:
    d = desired(PACK.replace("    classes: [woman]\n", "").replace("    seed: 3\n", ""))
    plan = plan_for(d, [])
    out = io.StringIO()
    render_text(plan, out, Style(False))
    assert "every new template: num_images=4" in out.getvalue()


def test_word_diff_keeps_its_markers_in_colour() -> None:
    d = desired()
    live = live_from(d)
    for template in live:
        template["text"] = template["text"].replace("soft light", "hard light")
    plan = plan_for(d, live)
    out = io.StringIO()
    render_text(plan, out, Style(True))
    text = out.getvalue()
    assert "\x1b[" in text
    assert "[-hard-]" in text and "{+soft+}" in text


def test_values_compare_by_meaning() -> None:
    assert identity("x", {"negative_prompt": ""}) == identity("x", {}) == identity("x", {"negative_prompt": None})
    assert identity("x", {"style": "  "}) == identity("x", {})
    assert identity("x", {"num_images": "1"}) == identity("x", {})
    assert identity("x", {"cfg_scale": "3.5", "steps": "30"}) == identity("x", {"cfg_scale": 3.5, "steps": 30})
    assert identity("x", {"seed": "42"}) == identity("x", {"seed": 42.0})
    assert identity("x", {"cfg_scale": "high"}) != identity("x", {})  # not a number: shown as a change
    assert identity("x", {"style": "1"}) != identity("x", {"style": 1})  # only numeric parameters


def test_an_empty_negative_prompt_stored_as_null_and_numbers_as_strings_give_an_empty_plan() -> None:
    d = desired(
        PACK.replace("defaults: {num_images: 4}", 'defaults: {num_images: 4, negative_prompt: "", cfg_scale: 3.5}')
    )
    live = live_from(d, negative_prompt=None, num_images="4", cfg_scale="3.5")
    assert not plan_for(d, live).has_changes


def test_a_price_that_is_not_a_number_is_unknown_not_a_crash() -> None:
    edited = desired(PACK.replace("in a studio with soft light", "in a studio with hard light"))
    before = desired()
    for cost in (float("nan"), float("inf"), "a lot", "-5", True, [1]):
        plan = plan_for(edited, live_from(before, cost_mc=cost))
        assert plan.new_images and plan.new_cost_mc is None
    plan = plan_for(edited, live_from(before, cost_mc="10000", num_images="4"))
    assert plan.new_images == 8 and plan.new_cost_mc == 8 * 2500


def test_own_templates_keep_reading_past_a_repeat_or_another_packs_template() -> None:
    from packsync.plan.diff import own_templates

    summary = {"id": 7, "slug": "demo"}
    first = {"id": 1, "pack_id": 7, "text": "a"}
    foreign = {"id": 2, "pack_id": 8, "text": "b"}
    later = {"id": 3, "pack_id": 7, "text": "c"}
    unsaid = {"id": 4, "text": "d"}  # the documented prompt object has no pack_id: taken as listed
    found = own_templates(LiveState(summary, [first, dict(first), foreign, later, unsaid]))
    assert [t["id"] for t in found] == [1, 3, 4]
    assert own_templates(LiveState(summary, [foreign, later]))[0]["id"] == 3
    assert [t["id"] for t in own_templates(LiveState(summary, [first, first, later]))] == [1, 3]
