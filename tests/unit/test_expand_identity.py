"""Desired state: what a pack expands into, and what makes two templates the same."""

from __future__ import annotations

import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from packsync.commands.base import Streams, invoke
from packsync.commands.render import RenderOptions, _fill, run_render
from packsync.desired.expand import expand_pack, expand_text, format_weight, subject_tag
from packsync.desired.identity import canonical_value, fingerprint, identity, tagged_tune
from packsync.desired.state import desired_state
from packsync.packfiles.loader import load_text
from packsync.packfiles.pack import Pack, pack_from_document
from packsync.slug import derive_slug, transliterate

PACK = """\
slug: demo
title: Demo
model: {base_tune_id: 1, model_type: lora}
classes:
  man: {tune_id: 10}
  woman: {tune_id: 11, weight: 0.8}
characteristics:
  eye_color: {description: eye colour}
  hair: {description: hair}
defaults: {num_images: 4}
prompts:
  - key: a
    text: "  {{subject}} with {{eye_color}} and {{hair}}, studio  "
  - key: b
    classes: [woman]
    text: "{{subject}} by a window"
    seed: 3
"""


def pack(text: str = PACK) -> Pack:
    doc = load_text(text, "packs/demo.yaml").document
    assert doc is not None
    return pack_from_document(doc)


# -- expansion ---------------------------------------------------------------------


def test_every_prompt_becomes_one_template_per_class_with_the_tune_tag() -> None:
    found = [(t.pack, t.class_name, t.tune_id, t.reference, t.key, t.text, t.params) for t in expand_pack(pack())]
    # a lora pack's templates are created on its base model (A9), their tags reference the class's tune
    assert found == [
        (
            "demo",
            "man",
            1,
            10,
            "a",
            "<lora:10:1> ohwx man with {{eye_color}} and {{hair}}, studio",
            (("num_images", 4),),
        ),
        (
            "demo",
            "woman",
            1,
            11,
            "a",
            "<lora:11:0.8> ohwx woman with {{eye_color}} and {{hair}}, studio",
            (("num_images", 4),),
        ),
        ("demo", "woman", 1, 11, "b", "<lora:11:0.8> ohwx woman by a window", (("num_images", 4), ("seed", 3))),
    ]


def test_characteristic_placeholders_are_sent_verbatim() -> None:
    for template in expand_pack(pack()):
        body = template.body()
        if template.key == "a":
            assert "{{eye_color}}" in body["text"] and "{{hair}}" in body["text"]  # braces kept
        assert "{{subject}}" not in body["text"]


def test_render_set_fills_only_the_characteristics_given() -> None:
    (first, *_) = expand_pack(pack())
    filled = _fill(first.text, {"eye_color": "green eyes"})
    assert filled == "<lora:10:1> ohwx man with green eyes and {{hair}}, studio"
    assert expand_text("{{subject}} {{eye_color}} {{hair}}", "S", {"eye_color": "blue"}) == "S blue {{hair}}"
    assert expand_text("{{subject}} {{eye_color}}", "S") == "S {{eye_color}}"
    assert expand_text("{{subject}} {{eye_color}}", "S", {}) == "S {{eye_color}}"


@pytest.mark.parametrize(("class_name", "keys"), [("man", ["a"]), ("woman", ["a", "b"]), ("nobody", [])])
def test_class_narrows_the_expansion(class_name: str, keys: list[str]) -> None:
    templates = expand_pack(pack(), class_name=class_name)
    assert [t.key for t in templates] == keys
    assert {t.class_name for t in templates} <= {class_name}


ON_REFERENCE = PACK.replace("model_type: lora}", "model_type: lora, post_tune: reference}")


def test_target_tune_ids_replace_the_reference_tunes_in_the_tag_and_the_endpoint() -> None:
    templates = expand_pack(pack(ON_REFERENCE), tune_ids={11: 911})
    assert [(t.class_name, t.tune_id) for t in templates] == [("man", 10), ("woman", 911), ("woman", 911)]
    assert templates[1].text.startswith("<lora:911:0.8> ohwx woman ")
    assert templates[0].text.startswith("<lora:10:1> ohwx man ")
    (desired,) = desired_state([pack(ON_REFERENCE)], {10: 910})
    assert desired.slug == "demo"
    assert [(t.tune_id, t.text.split(" ")[0]) for t in desired.templates] == [
        (910, "<lora:910:1>"),
        (11, "<lora:11:0.8>"),
        (11, "<lora:11:0.8>"),
    ]
    assert [t.tune_id for t in desired_state([pack(ON_REFERENCE)])[0].templates] == [10, 11, 11]


def test_target_tune_ids_replace_the_reference_in_the_tag_but_not_the_base_a_template_is_posted_on() -> None:
    (desired,) = desired_state([pack()], {10: 910})
    assert [(t.tune_id, t.reference, t.text.split(" ")[0]) for t in desired.templates] == [
        (1, 910, "<lora:910:1>"),
        (1, 11, "<lora:11:0.8>"),
        (1, 11, "<lora:11:0.8>"),
    ]


def test_subject_tag_uses_the_tune_it_is_given() -> None:
    p = pack()
    assert subject_tag(p, p.classes[1]) == "<lora:11:0.8> ohwx woman"
    assert subject_tag(p, p.classes[1], 42) == "<lora:42:0.8> ohwx woman"


@pytest.mark.parametrize(
    ("weight", "text"),
    [
        (1.0, "1"),
        (2.0, "2"),
        (1, "1"),
        (0, "0"),
        (10, "10"),
        (0.5, "0.5"),
        (1.25, "1.25"),
        (0.00001, "0.00001"),
        (1e-7, "0.0000001"),
        (1.5e-10, "0.00000000015"),
    ],
)
def test_weights_are_plain_decimals(weight: float, text: str) -> None:
    assert format_weight(weight) == text


# -- identity ----------------------------------------------------------------------


def test_a_template_body_is_its_text_and_parameters_and_the_pack() -> None:
    template = expand_pack(pack())[2]
    assert template.body() == {"text": "<lora:11:0.8> ohwx woman by a window", "num_images": 4, "seed": 3}
    assert template.body(7) == {
        "text": "<lora:11:0.8> ohwx woman by a window",
        "num_images": 4,
        "seed": 3,
        "pack_id": 7,
    }
    assert template.body(0)["pack_id"] == 0
    assert template.images == 4


def test_the_tune_is_read_from_the_tag_not_the_weight() -> None:
    assert tagged_tune("<lora:690204:0.8> ohwx man") == 690204
    assert tagged_tune("portrait of <faceid:12:1> ohwx dog and <lora:99:1> cat") == 12  # the first tag
    assert tagged_tune("a portrait without a tag") is None
    assert tagged_tune("<lora:abc:1> not a tag") is None


def test_whole_floats_become_integers_only_within_the_integer_range() -> None:
    assert canonical_value("seed", 7.0) == 7 and type(canonical_value("seed", 7.0)) is int
    assert type(canonical_value("seed", float(2**63 - 1024))) is int
    for big in (float(2**63), float(2**64), -float(2**63)):
        assert type(canonical_value("seed", big)) is float, big
    assert canonical_value("cfg_scale", 3.5) == 3.5
    assert canonical_value("seed", True) is True  # not a number to the server either
    assert canonical_value("seed", " 42 ") == 42
    assert canonical_value("style", "") is None and canonical_value("style", "Cinematic") == "Cinematic"


def test_identity_ignores_surrounding_whitespace_but_not_inner() -> None:
    assert identity(" a b ", {}) == identity("a b", {})
    assert identity("a  b", {}) != identity("a b", {})


def test_fingerprints_are_stable_short_and_order_free() -> None:
    value: dict[str, Any] = {"b": [1, 2], "a": "é"}
    # the first 16 hex digits of the SHA-256 of the compact, key-sorted UTF-8 JSON text
    assert fingerprint(value) == hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()[:16]
    assert fingerprint({"a": "é", "b": [1, 2]}) == fingerprint(value)
    assert fingerprint({"a": Decimal("1.5")}) == fingerprint({"a": "1.5"})  # other values by their text
    assert fingerprint(None) != fingerprint(value)


# -- slugs -------------------------------------------------------------------------


def test_transliteration_keeps_what_it_cannot_spell_in_ascii() -> None:
    assert transliterate("Café Straße Ærø") == "Cafe Strasse AEro"
    assert transliterate("ά") == "ά"  # a Greek letter with an accent is not Latin
    assert transliterate("a≠b") == "a≠b"  # '=' with a combining stroke is not a letter
    assert transliterate("日本") == "日本"
    assert derive_slug("-Ökologie -") == "okologie"


def test_render_fills_set_characteristics_for_the_preview_only(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(PACK)
    out, err = io.StringIO(), io.StringIO()
    options = RenderOptions(
        str(path), class_name="woman", assignments=["eye_color=green eyes"], output_format="json", project_dir=tmp_path
    )
    assert invoke(run_render, options, Streams(out, err)) == 0, err.getvalue()
    rendered = json.loads(out.getvalue())
    assert rendered["characteristics"] == {"eye_color": "green eyes"}
    assert [(t["class"], t["key"]) for t in rendered["templates"]] == [("woman", "a"), ("woman", "b")]
    assert rendered["templates"][0]["request"]["body"]["prompt"]["text"] == (
        "<lora:11:0.8> ohwx woman with green eyes and {{hair}}, studio"
    )
    # what plan and apply send is the template itself, braces kept
    (sent,) = [t for t in expand_pack(pack(), class_name="woman") if t.key == "a"]
    assert sent.body()["text"] == "<lora:11:0.8> ohwx woman with {{eye_color}} and {{hair}}, studio"
