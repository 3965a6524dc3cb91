"""The plan's meaning, pinned: safety limits at their boundaries, replace pairing, manual
changes, live attribution, fingerprints and prices. Pure: no network, no files."""

from __future__ import annotations

from typing import Any

import pytest

from packsync.astria.objects import LiveTemplate
from packsync.desired.identity import fingerprint
from packsync.desired.state import DesiredPack, desired_state
from packsync.packfiles.loader import load_text
from packsync.packfiles.pack import pack_from_document
from packsync.packfiles.project import Policy
from packsync.plan import diff as diff_module
from packsync.plan.diff import (
    LiveState,
    create_pack_body,
    diff,
    evaluate_safety,
    live_ref,
    pack_fingerprint,
    template_fingerprint,
)
from packsync.plan.model import Change, LiveRef, PackPlan, Plan, Refusal, Source, TemplateSpec
from packsync.plan.observe import Observation

HEAD = """\
slug: demo
title: Demo
model: {base_tune_id: 1, model_type: lora}
classes:
  man: {tune_id: 10}
  woman: {tune_id: 11}
"""
SUMMARY = {"id": 7, "slug": "demo", "title": "Demo", "base_tune_id": 1, "model_type": "lora", "token": "ohwx"}

ECHOING = Observation.echoing_all()  # an account that shows every parameter back (the default sandbox)


def desired(text: str) -> list[DesiredPack]:
    doc = load_text(text, "packs/demo.yaml").document
    assert doc is not None
    return desired_state([pack_from_document(doc)])


def prompts(*texts: str, classes: str = "[man]") -> str:
    """A pack whose prompts p0, p1, ... have these texts, for one class by default."""
    body = "".join(
        f"  - key: p{i}\n    classes: {classes}\n    text: '{{{{subject}}}} {t}'\n" for i, t in enumerate(texts)
    )
    return HEAD + "prompts:\n" + body if texts else HEAD + "prompts: []\n"


def live(*texts: str, start: int = 100, **params: Any) -> list[dict[str, Any]]:
    """Live templates of class man (tune 10) with these texts after the tag."""
    return [
        {"id": start + i, "text": f"<lora:10:1> ohwx man {t}", "pack_id": 7, "tune_id": 10, **params}
        for i, t in enumerate(texts)
    ]


def plan_for(d: list[DesiredPack], templates: list[dict[str, Any]], **policy: Any) -> Plan:
    return diff(d, {"demo": LiveState(SUMMARY, templates)}, "t", Policy(**policy), observation=ECHOING)


def rules(plan: Plan) -> list[str]:
    return [r.rule for r in plan.refusals]


TEN = [f"look number {i}" for i in range(10)]


# -- the safety limits, at their boundaries ---------------------------------------------


def test_removing_exactly_the_share_allowed_is_allowed_and_one_more_is_refused() -> None:
    kept = desired(prompts(*TEN[3:]))
    plan = plan_for(kept, live(*TEN), max_remove_share=0.3)  # 3 of 10
    assert plan.count("remove") == 3 and plan.refusals == []
    plan = plan_for(desired(prompts(*TEN[4:])), live(*TEN), max_remove_share=0.3)  # 4 of 10
    assert plan.refusals == [
        Refusal(
            "removal-share",
            "demo",
            "pack demo: removing 4 of 10 live templates (40%) exceeds the policy's 30%",
            "--allow-mass-removal",
        )
    ]


def test_removal_count_limit_allows_exactly_the_count_and_refuses_one_more() -> None:
    plan = plan_for(desired(prompts(*TEN[2:])), live(*TEN), max_remove_share=1.0, max_remove_count=2)
    assert plan.count("remove") == 2 and plan.refusals == []
    plan = plan_for(desired(prompts(*TEN[3:])), live(*TEN), max_remove_share=1.0, max_remove_count=2)
    assert plan.refusals == [
        Refusal(
            "removal-count",
            "demo",
            "pack demo: removing 3 live templates exceeds the policy's 2",
            "--allow-mass-removal",
        )
    ]
    # over both limits: the share is reported, once
    plan = plan_for(desired(prompts(*TEN[5:])), live(*TEN), max_remove_share=0.3, max_remove_count=2)
    assert rules(plan) == ["removal-share"]


def test_replaces_count_toward_the_removal_limits_and_are_named() -> None:
    edited = [f"{t} edited" for t in TEN[:4]] + TEN[4:]
    plan = plan_for(desired(prompts(*edited)), live(*TEN))
    assert plan.count("replace") == 4
    assert [r.message for r in plan.refusals] == [
        "pack demo: replacing 4 of 10 live templates (40%) exceeds the policy's 30%"
    ]
    mixed = [f"{t} edited" for t in TEN[:2]] + TEN[4:]  # 2 replaced, 2 removed
    plan = plan_for(desired(prompts(*mixed)), live(*TEN), max_remove_share=1.0, max_remove_count=3)
    assert plan.count("replace") == 2 and plan.count("remove") == 2
    assert [r.message for r in plan.refusals] == [
        "pack demo: removing or replacing 4 live templates exceeds the policy's 3"
    ]


def test_extra_copies_count_toward_the_removal_limits() -> None:
    # a copy is judged by what the account shows: a wrong judgement must not remove without limit
    copies = [{**t, "id": 500 + i} for i, t in enumerate(live(*TEN[:5]))]
    plan = plan_for(desired(prompts(*TEN)), live(*TEN) + copies, max_remove_count=0)
    assert plan.count("remove") == 5 and [r.rule for r in plan.refusals] == ["removal-share"]
    assert all(c.reason.startswith("duplicate of #") for c in plan.packs[0].changes)
    assert plan_for(desired(prompts(*TEN)), live(*TEN) + copies[:1], max_remove_count=0).refusals[0].rule == (
        "removal-count"
    )


def test_variants_in_fields_packsync_does_not_model_are_never_merged_as_copies() -> None:
    # three live templates of one prompt that differ only in a controlnet the files cannot say
    base = live("alpha")[0]
    variants = [base, {**base, "id": 41, "controlnet": "pose"}, {**base, "id": 42, "controlnet": "canny"}]
    plan = plan_for(desired(prompts("alpha")), variants)
    removes = plan.packs[0].of_kind("remove")
    assert [c.remove.id for c in removes if c.remove] == [41, 42]
    assert all("controlnet" in c.reason and not c.reason.startswith("duplicate") for c in removes)
    assert [r.rule for r in plan.refusals] == ["removal-share"]  # 2 of 3: refused, never silent
    # the one without the field is kept, whatever the order
    plan = plan_for(desired(prompts("alpha")), [{**base, "controlnet": "pose"}, {**base, "id": 41}])
    assert [c.remove.id for c in plan.packs[0].of_kind("remove") if c.remove] == [base["id"]]


def test_image_budget_equal_to_the_new_images_is_allowed_and_one_less_refused() -> None:
    d = desired(prompts("a", "b", "c").replace("prompts:\n", "defaults: {num_images: 4}\nprompts:\n"))
    assert plan_for(d, [], max_images=12).refusals == []
    assert plan_for(d, [], max_images=12).new_images == 12
    assert plan_for(d, [], max_images=11).refusals == [
        Refusal(
            "image-budget",
            "",
            "the new templates would generate 12 images; the policy's budget is 11",
            "--allow-over-budget",
        )
    ]
    assert plan_for(d, []).refusals == []  # no budget: no limit


def test_an_empty_prompt_list_is_refused_only_when_live_templates_would_go() -> None:
    empty = desired(prompts())
    assert plan_for(empty, []).refusals == []  # nothing live: nothing to lose
    assert plan_for(empty, live("only one"), max_remove_share=1.0).refusals == [
        Refusal(
            "empty-pack",
            "demo",
            "pack demo declares no prompts but has 1 live templates: applying would empty it",
            "--allow-empty",
        )
    ]
    one = desired(prompts("only one"))
    assert plan_for(one, live("only one")).refusals == []


def test_a_protected_pack_refuses_every_removal_and_replace() -> None:
    text = prompts("a", "b edited").replace("title: Demo\n", "title: Demo\nprotect: true\n")
    plan = plan_for(desired(text), live("a", "b", "c"), max_remove_share=1.0)
    assert plan.refusals == [
        Refusal(
            "protected",
            "demo",
            "pack demo is protected (protect: true) and the plan removes 2 of its templates",
            "--allow-protected",
        )
    ]
    assert plan_for(desired(text), live("a", "b edited")).refusals == []  # nothing removed


def test_a_plan_that_counts_no_live_templates_is_never_divided_by_zero() -> None:
    gone = LiveRef(5, "man", "<lora:10:1> ohwx man x", (), "f")
    pack = PackPlan("demo", "Demo", "packs/demo.yaml", 7, changes=[Change(kind="remove", remove=gone)])
    assert evaluate_safety(Plan("t", packs=[pack]), Policy(max_remove_count=0)) == []


# -- pairing creates and removes into replaces --------------------------------------------


def pairs(plan: Plan) -> list[tuple[str, str, int]]:
    return [
        (c.create.key, c.create.class_name, c.remove.id)
        for c in plan.packs[0].changes
        if c.kind == "replace" and c.create and c.remove
    ]


def test_two_creates_competing_for_two_removes_are_paired_best_match_first() -> None:
    # p0 is most like #101; p1 is most like #101 too, but less so, and then like #100
    old = ["red hat in a green park at noon", "red hat in a green park at dusk today"]
    new = ["red hat in a green park at dusk", "red hat in a green park"]
    plan = plan_for(desired(prompts(*new)), live(*old), max_remove_share=1.0)
    assert pairs(plan) == [("p0", "man", 101), ("p1", "man", 100)]
    assert [c.kind for c in plan.packs[0].changes] == ["replace", "replace"]
    assert all(c.reason == "changed in the files" for c in plan.packs[0].changes)


def test_each_live_template_is_replaced_once_even_when_both_creates_want_it() -> None:
    old = ["a b c d e f g h", "a b c x y z w v"]
    new = ["a b c d e f g q", "a b c d e f r s"]  # both closest to #100
    plan = plan_for(desired(prompts(*new)), live(*old), max_remove_share=1.0)
    assert sorted(pairs(plan)) == [("p0", "man", 100), ("p1", "man", 101)]


def test_pairing_by_the_text_apart_from_the_tag_beats_word_similarity() -> None:
    # the weight changed: each template pairs with its own old version, even though the other
    # live template, already in the new weight, is more similar word for word
    d = desired(prompts("x y", "x y w").replace("man: {tune_id: 10}", "man: {tune_id: 10, weight: 0.5}"))
    old = [*live("x y"), {"id": 101, "text": "<lora:10:0.5> ohwx man x y z", "pack_id": 7, "tune_id": 10}]
    plan = plan_for(d, old, max_remove_share=1.0)
    assert pairs(plan) == [("p0", "man", 100), ("p1", "man", 101)]
    assert all(c.reason == "changed in the files" for c in plan.packs[0].changes)


def test_same_text_with_new_parameters_pairs_with_its_old_version() -> None:
    d = desired(
        prompts("one two three", "one two four").replace("man one two three'", "man one two three'\n    seed: 1")
    )
    old = live("one two three", "one two three four five", seed=2)
    plan = plan_for(d, old, max_remove_share=1.0)
    assert pairs(plan)[0] == ("p0", "man", 100)


def test_a_near_identical_text_in_another_class_stays_a_create_and_a_remove() -> None:
    d = desired(prompts("red hat in a green park", classes="[woman]"))
    plan = plan_for(d, live("red hat in a green park"), max_remove_share=1.0)
    changes = plan.packs[0].changes
    assert [
        (c.kind, c.create.class_name if c.create else c.remove.class_name if c.remove else "") for c in changes
    ] == [
        ("create", "woman"),
        ("remove", "man"),
    ]


def test_a_live_template_of_an_unknown_tune_pairs_with_any_class() -> None:
    d = desired(prompts("x y z w").replace("man: {tune_id: 10}", "man: {tune_id: 20}"))
    plan = plan_for(d, live("x y z"), max_remove_share=1.0)  # tagged 10: no class of the pack now
    assert pairs(plan) == [("p0", "man", 100)]
    assert plan.packs[0].changes[0].remove == LiveRef(
        100, "?", "<lora:10:1> ohwx man x y z", (), template_fingerprint(live("x y z")[0])
    )


def test_half_the_words_in_common_is_similar_enough_and_less_is_not() -> None:
    # six words each, the tag and "ohwx man" in common: a ratio of exactly 0.5
    plan = plan_for(desired(prompts("a b c")), live("d e f"), max_remove_share=1.0)
    assert pairs(plan) == [("p0", "man", 100)]
    plan = plan_for(desired(prompts("a b c")), live("d e f g"), max_remove_share=1.0)
    assert [c.kind for c in plan.packs[0].changes] == ["create", "remove"]


def test_every_word_counts_in_the_similarity_of_long_texts() -> None:
    # difflib's "autojunk" would ignore "the" (frequent in a text of 200 words or more) and
    # find these two unrelated; word for word, half of them are the same
    old = " ".join(f"a{i} the" for i in range(110))
    new = " ".join(f"b{i} the" for i in range(110))
    plan = plan_for(desired(prompts(new)), live(old), max_remove_share=1.0)
    assert pairs(plan) == [("p0", "man", 100)]


def test_similarity_pairing_stops_beyond_the_limit_of_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    d = desired(prompts("a b c d", "a b c e"))
    old = live("a b c f", "a b c g")  # 2 x 2 = 4 candidate pairs
    monkeypatch.setattr(diff_module, "MAX_SIMILARITY_PAIRS", 4)
    assert len(pairs(plan_for(d, old, max_remove_share=1.0))) == 2
    monkeypatch.setattr(diff_module, "MAX_SIMILARITY_PAIRS", 3)
    plan = plan_for(d, old, max_remove_share=1.0)
    assert sorted(c.kind for c in plan.packs[0].changes) == ["create", "create", "remove", "remove"]


# -- the changes of a pack: what, in which order, from where ------------------------------


def test_changes_are_in_file_order_then_class_and_removes_by_id() -> None:
    text = HEAD + (
        "prompts:\n"
        "  - key: first\n    text: '{{subject}} brand new words'\n"  # line 8: a create for each class
        "  - key: second\n    classes: [woman]\n    text: '{{subject}} x y z'\n    seed: 2\n"  # line 10: a replace
    )
    woman = [{"id": 90, "text": "<lora:11:1> ohwx woman x y z", "pack_id": 7, "tune_id": 11}]
    extra = [
        *live("unrelated old text here", start=300),
        {**woman[0], "id": 95, "text": "<lora:11:1> ohwx woman x y z in a much older version"},
    ]
    plan = plan_for(desired(text), woman + extra, max_remove_share=1.0)
    changes = plan.packs[0].changes
    assert [(c.kind, c.key, c.create.class_name if c.create else "") for c in changes[:3]] == [
        ("create", "first", "man"),
        ("create", "first", "woman"),
        ("replace", "second", "woman"),
    ]
    assert [(c.kind, c.remove.id if c.remove else 0, c.reason) for c in changes[3:]] == [
        ("remove", 95, "not in the files"),
        ("remove", 300, "not in the files"),
    ]
    assert changes[0].create == TemplateSpec(  # created on the base model (1), its tag references tune 10
        "man", 1, "first", "<lora:10:1> ohwx man brand new words", (), Source("packs/demo.yaml", 8)
    )


def test_classes_that_tie_on_a_line_come_in_class_order() -> None:
    text = HEAD + "prompts:\n  - key: a\n    text: '{{subject}} x y z'\n"
    woman = [{"id": 90, "text": "<lora:11:1> ohwx woman x y z", "pack_id": 7, "tune_id": 11, "seed": 1}]
    plan = plan_for(desired(text), woman)
    assert [(c.kind, c.create.class_name if c.create else "") for c in plan.packs[0].changes] == [
        ("create", "man"),
        ("replace", "woman"),
    ]


def test_duplicates_and_removes_are_ordered_by_id_together() -> None:
    d = desired(prompts("kept"))
    templates = live("kept", start=600) + live("gone", start=100) + live("kept", start=900)
    changes = plan_for(d, templates, max_remove_share=1.0).packs[0].changes
    assert [(c.remove.id if c.remove else 0, c.reason) for c in changes] == [
        (100, "not in the files"),
        (900, "duplicate of #600"),
    ]


def test_manual_changes_name_each_field_the_api_cannot_write() -> None:
    text = HEAD.replace("title: Demo\n", "title: Demo\nsubtitle: Sub\n").replace(
        "model_type: lora}", "model_type: lora, token: sks, preset: flux-lora-portrait}"
    )
    d = desired(text + "prompts:\n  - key: a\n    classes: [man]\n    text: '{{subject}} x y'\n")
    summary = {"id": 7, "title": "Old", "base_tune_id": 2, "model_type": "faceid", "token": "ohwx"}
    detail = {"subtitle": "Old sub", "preset": None}
    plan = diff(d, {"demo": LiveState(summary, [], detail)}, "t", Policy())
    source = Source("packs/demo.yaml", 1)
    assert plan.packs[0].changes == [
        Change(kind="manual", field="title", live_value="Old", desired_value="Demo", source=source),
        Change(kind="manual", field="model.base_tune_id", live_value=2, desired_value=1, source=source),
        Change(kind="manual", field="model.model_type", live_value="faceid", desired_value="lora", source=source),
        Change(kind="manual", field="model.token", live_value="ohwx", desired_value="sks", source=source),
        Change(kind="manual", field="subtitle", live_value="Old sub", desired_value="Sub", source=source),
        Change(kind="manual", field="model.preset", live_value=None, desired_value="flux-lora-portrait", source=source),
        plan.packs[0].changes[6],
    ]
    assert plan.packs[0].changes[6].kind == "create"


def test_fields_the_server_does_not_report_or_the_files_leave_out_are_not_compared() -> None:
    d = desired(prompts("x y"))
    summary = {"id": 7, "title": "Demo"}  # no model fields reported
    detail = {"subtitle": "Anything", "preset": "flux-lora-fast"}  # the file sets neither
    plan = diff(d, {"demo": LiveState(summary, live("x y"), detail)}, "t", Policy())
    assert plan.packs[0].changes == []
    plan = diff(d, {"demo": LiveState(summary, live("x y"), None)}, "t", Policy())
    assert plan.packs[0].changes == []


def test_a_pack_that_does_not_exist_is_created_with_all_its_templates() -> None:
    text = HEAD.replace("title: Demo\n", "title: Demo\nsubtitle: Sub\nprotect: true\n")
    d = desired(text + "prompts:\n  - key: a\n    text: '{{subject}} x y'\n")
    plan = diff(d, {}, "prod", Policy(on_remove="delete"), undeclared=[{"id": 3}])
    assert (plan.target, plan.on_remove, plan.undeclared) == ("prod", "delete", [{"id": 3}])
    (pack,) = plan.packs
    assert pack.live_id is None and pack.live_count == 0 and pack.desired_count == 2
    assert (pack.slug, pack.title, pack.file, pack.protect) == ("demo", "Demo", "packs/demo.yaml", True)
    assert pack.create_pack == {
        "title": "Demo",
        "base_tune_id": 1,
        "model_type": "lora",
        "token": "ohwx",
        "subtitle": "Sub",
    }
    assert [(c.kind, c.create.class_name if c.create else "") for c in pack.changes] == [
        ("create", "man"),
        ("create", "woman"),
    ]
    assert pack.pack_fingerprint == pack_fingerprint(None, [])
    assert pack.live_fingerprints == {} and pack.price_per_image_mc is None


def test_the_body_of_a_new_pack_carries_the_preset_only_when_set() -> None:
    (plain,) = desired(prompts("x"))
    assert create_pack_body(plain) == {"title": "Demo", "base_tune_id": 1, "model_type": "lora", "token": "ohwx"}
    (preset,) = desired(prompts("x").replace("model_type: lora}", "model_type: lora, preset: flux-lora-fast}"))
    assert create_pack_body(preset)["preset"] == "flux-lora-fast"
    assert "subtitle" not in create_pack_body(preset)


def test_an_existing_pack_records_what_the_plan_read() -> None:
    d = desired(prompts("x y"))
    templates = live("x y", "z", cost_mc=5000, num_images=2)
    plan = plan_for(d, templates, max_remove_share=1.0)
    (pack,) = plan.packs
    assert (pack.live_id, pack.live_count, pack.desired_count, pack.protect, pack.title) == (7, 2, 1, False, "Demo")
    assert pack.create_pack is None
    assert pack.live_fingerprints == {100: template_fingerprint(templates[0]), 101: template_fingerprint(templates[1])}
    assert pack.pack_fingerprint == pack_fingerprint(SUMMARY, templates)
    assert pack.price_per_image_mc == 2500


# -- live attribution, fingerprints and prices ------------------------------------------


def test_a_live_template_is_attributed_to_the_class_of_its_tagged_tune() -> None:
    classes = {10: "man", 11: "woman"}
    template = LiveTemplate.parse({"id": 5, "text": "<lora:11:0.8> ohwx woman x", "cfg_scale": "3.5", "num_images": 1})
    ref = live_ref(template, classes)
    assert ref == LiveRef(
        5, "woman", "<lora:11:0.8> ohwx woman x", (("cfg_scale", 3.5),), template_fingerprint(template)
    )
    assert live_ref(LiveTemplate.parse({"id": 6, "text": "<lora:12:1> x"}), classes).class_name == "?"  # another pack's
    assert live_ref(LiveTemplate.parse({"id": 7, "text": "no tag at all"}), classes).class_name == "?"
    assert live_ref(LiveTemplate.parse({"id": 8, "text": None}), classes).text == ""


def test_a_class_is_known_by_its_tune_on_the_account_and_in_the_files() -> None:
    d = desired(prompts("x"))  # only man has templates: woman is known from the classes
    woman = [{"id": 90, "text": "<lora:11:1> ohwx woman gone", "pack_id": 7, "tune_id": 11}]
    (change,) = plan_for(d, live("x") + woman, max_remove_share=1.0).packs[0].changes
    assert change.remove is not None and change.remove.class_name == "woman"


def test_a_template_fingerprint_changes_with_everything_that_matters() -> None:
    base = {"id": 1, "text": "t", "pack_id": 7, "tune_id": 10, "seed": 3, "num_images": 1, "orig_prompt_id": 4}
    assert template_fingerprint(base) == fingerprint(
        {"id": 1, "text": "t", "pack_id": 7, "tune_id": 10, "params": (("seed", 3),)}
    )
    for name, other in [("id", 2), ("text", "u"), ("pack_id", None), ("tune_id", 11), ("seed", 4)]:
        assert template_fingerprint({**base, name: other}) != template_fingerprint(base), name
    # what does not matter: defaults echoed back, attributes that are not parameters
    assert template_fingerprint({**base, "super_resolution": False, "orig_prompt_id": 5}) == template_fingerprint(base)


def test_a_pack_fingerprint_changes_with_its_templates_but_not_their_order() -> None:
    one, two = live("a", "b")
    summary = {"id": 7}
    assert pack_fingerprint(summary, [one, two]) == fingerprint(
        {"id": 7, "templates": sorted([template_fingerprint(one), template_fingerprint(two)])}
    )
    assert pack_fingerprint(summary, [two, one]) == pack_fingerprint(summary, [one, two])
    assert pack_fingerprint(summary, [one]) != pack_fingerprint(summary, [one, two])
    assert pack_fingerprint(summary, [one, {**two, "text": "changed"}]) != pack_fingerprint(summary, [one, two])
    assert pack_fingerprint({"id": 8}, [one, two]) != pack_fingerprint(summary, [one, two])
    assert pack_fingerprint(None, []) == fingerprint({"absent": True})
    assert pack_fingerprint(None, []) != pack_fingerprint(summary, [])


def price(templates: list[dict[str, Any]]) -> int | None:
    return plan_for(desired(prompts("x")), templates, max_remove_share=1.0).packs[0].price_per_image_mc


def test_the_price_per_image_is_the_cost_over_the_images_of_the_live_templates() -> None:
    assert price(live("a", "b", cost_mc=10000, num_images=4)) == 2500
    assert price(live("a", cost_mc=5000, num_images=4) + live("b", start=200, cost_mc=5000)) == 2000  # 1 image
    assert price(live("a", cost_mc=2, num_images=1) + live("b", start=200, num_images=1)) == 1  # no cost: free
    assert price(live("a", cost_mc=0, num_images=4)) == 0
    assert price(live("a", cost_mc=1000, num_images=0)) is None  # no image: no price
    assert price([]) is None
    assert price(live("a", cost_mc=-5, num_images=1)) is None


def test_the_cost_of_a_plan_is_its_new_images_at_the_price_per_image() -> None:
    d = desired(prompts("x", "y").replace("prompts:\n", "defaults: {num_images: 3}\nprompts:\n"))
    plan = plan_for(d, live("x", "old", cost_mc=10000, num_images=4), max_remove_share=1.0)
    assert plan.new_images == 6 and plan.new_cost_mc == 6 * 2500
