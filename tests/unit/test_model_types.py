"""The model types are one fact (facts.MODEL_TYPES): the schema, the tag pattern, expansion and import follow it."""

from __future__ import annotations

import json

import pytest

from packsync.desired.check import PackChecker
from packsync.desired.expand import expand_pack
from packsync.desired.reconstruct import reconstruct
from packsync.facts import MODEL_TYPES, TUNE_TAG_RE, model_type_of_wire
from packsync.packfiles.loader import load_text
from packsync.packfiles.pack import Pack
from tests.conftest import ROOT


def pack_of(model: str, classes: str = "woman: {tune_id: 690205}") -> Pack:
    text = f"slug: p\ntitle: P\nmodel: {{{model}}}\nclasses:\n  {classes}\n"
    text += "prompts:\n  - key: a\n    text: '{{subject}}, x'\n"
    doc = load_text(text, "p.yaml").document
    assert doc is not None
    pack, found = PackChecker().check_document(doc)
    assert pack is not None, found
    return pack


def test_the_schema_enum_is_the_fact() -> None:
    schema = json.loads((ROOT / "schemas" / "pack.schema.json").read_text())
    assert schema["properties"]["model"]["properties"]["model_type"]["enum"] == list(MODEL_TYPES)


def test_each_wire_value_maps_back_to_its_type() -> None:
    for kind in MODEL_TYPES.values():
        assert model_type_of_wire(kind.wire) is kind
    assert model_type_of_wire("sdxl") is None


@pytest.mark.parametrize(
    ("model", "weight", "text", "posted_on"),
    [
        ("base_tune_id: 1504944, model_type: lora", 0.8, "<lora:690205:0.8> ohwx woman, x", 1504944),
        ("base_tune_id: 666678, model_type: pti, token: sks", 0.8, "<lora:690205:0.8> sks woman, x", 666678),
        ("base_tune_id: 666678, model_type: faceid", 1, "<faceid:690205:1> woman, x", 666678),
        ("base_tune_id: 1504944, model_type: checkpoint, token: sks", 1, "sks woman, x", 690205),
    ],
)
def test_subject_expands_by_the_model_type(model: str, weight: float, text: str, posted_on: int) -> None:
    (template,) = expand_pack(pack_of(model, f"woman: {{tune_id: 690205, weight: {weight}}}"))
    assert template.text == text
    # A9: lora, pti and faceid templates are created on the pack's base model, a checkpoint's on the class's tune
    assert template.tune_id == posted_on
    assert template.reference == 690205


@pytest.mark.parametrize(
    ("model", "posted_on"),
    [
        ("base_tune_id: 1504944, model_type: lora, post_tune: reference", 690205),
        ("base_tune_id: 666678, model_type: faceid, post_tune: reference", 690205),
        ("base_tune_id: 1504944, model_type: checkpoint, post_tune: base", 1504944),
        ("base_tune_id: 1504944, model_type: lora, post_tune: base", 1504944),
    ],
)
def test_post_tune_overrides_where_the_model_type_creates_templates(model: str, posted_on: int) -> None:
    (template,) = expand_pack(pack_of(model))
    assert (template.tune_id, template.reference) == (posted_on, 690205)


def test_post_tune_takes_only_base_or_reference() -> None:
    doc = load_text(
        "slug: p\ntitle: P\nmodel: {base_tune_id: 1, model_type: lora, post_tune: class}\n"
        "classes:\n  woman: {tune_id: 2}\nprompts:\n  - key: a\n    text: '{{subject}}, x'\n",
        "p.yaml",
    ).document
    assert doc is not None
    pack, found = PackChecker().check_document(doc)
    assert pack is None and [d.rule for d in found] == ["schema-enum"]
    schema = json.loads((ROOT / "schemas" / "pack.schema.json").read_text())
    assert schema["properties"]["model"]["properties"]["post_tune"]["enum"] == ["base", "reference"]


def test_tags_need_no_weight_and_pti_is_no_tag() -> None:
    assert [m.group(0) for m in TUNE_TAG_RE.finditer("<faceid:1> <faceid:2:1.0> <lora:3:0.5> <pti:4:1>")] == [
        "<faceid:1>",
        "<faceid:2:1.0>",
        "<lora:3:0.5>",
    ]


def test_a_checkpoint_pack_reads_back_with_tagless_texts() -> None:
    summary = {"id": 9, "slug": "cp", "title": "Cp", "model_type": None, "token": "sks", "base_tune_id": 1504944}
    templates = [
        {"id": 1, "tune_id": 690205, "text": "sks woman, studio"},
        {"id": 2, "tune_id": 690205, "text": "sks woman, window", "seed": 3},
    ]
    imported = reconstruct(summary, None, templates, {690205: "woman"})
    assert imported.blockers == ()
    assert imported.data["model"] == {"base_tune_id": 1504944, "model_type": "checkpoint", "token": "sks"}
    assert [p["text"] for p in imported.data["prompts"]] == ["{{subject}}, studio", "{{subject}}, window"]
    lost = reconstruct(summary, None, [{"id": 3, "tune_id": 690205, "text": "a woman"}], {690205: "woman"})
    assert any("neither {{subject}} nor" in b for b in lost.blockers)


def test_a_faceid_pack_reads_back_without_a_token_or_weight() -> None:
    summary = {"id": 9, "slug": "f", "title": "F", "model_type": "faceid", "token": "ohwx", "base_tune_id": 666678}
    templates = [{"id": 1, "tune_id": 690205, "text": "<faceid:690205:1> woman, studio"}]
    imported = reconstruct(summary, None, templates, {690205: "woman"})
    assert imported.data["model"] == {"base_tune_id": 666678, "model_type": "faceid"}
    assert imported.data["classes"] == {"woman": {"tune_id": 690205}}
    assert imported.data["prompts"][0]["text"] == "{{subject}}, studio"


def test_a_checkpoint_pack_is_null_on_the_wire_and_plans_no_manual_change_for_it() -> None:
    from packsync.desired.state import desired_state
    from packsync.plan.diff import LiveState, create_pack_body, diff_pack

    (desired,) = desired_state([pack_of("base_tune_id: 1504944, model_type: checkpoint, token: sks")])
    assert create_pack_body(desired)["model_type"] is None
    summary = {"id": 5, "slug": "p", "title": "P", "model_type": None, "token": "sks", "base_tune_id": 1504944}
    plan = diff_pack(desired, LiveState(summary, [{"id": 1, "text": "sks woman, x", "tune_id": 690205}]))
    assert plan.changes == []
