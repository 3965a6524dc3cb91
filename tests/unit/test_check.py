"""Semantic rules, slug derivation and expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from packsync.desired.check import PackChecker
from packsync.desired.expand import expand_pack, subject_tag
from packsync.packfiles.loader import load_text
from packsync.packfiles.pack import pack_from_document
from packsync.packfiles.schema import PACK_SCHEMA, SchemaValidator
from packsync.slug import derive_slug

HEAD = """\
slug: demo
title: Demo
model: {base_tune_id: 1, model_type: lora}
classes:
  man: {tune_id: 2}
  woman: {tune_id: 3, weight: 0.5}
"""


def check(text: str) -> list[tuple[str, int]]:
    doc = load_text(text, "p.yaml").document
    assert doc is not None
    _, found = PackChecker().check_document(doc)
    return sorted((d.rule, d.location.line) for d in found)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Corporate Headshots", "corporate-headshots"),
        ("test rv5.1 pack", "test-rv5-1-pack"),
        ("  --Hello,   World!!  ", "hello-world"),
        ("Café Portraits", "cafe-portraits"),
        ("Straße im Ærø", "strasse-im-aero"),
        ("Łódź 日本 Señor", "lodz-senor"),
        ("100% Real", "100-real"),
    ],
)
def test_slug_derivation(title: str, slug: str) -> None:
    assert derive_slug(title) == slug


def test_subject_tag_and_expansion_per_class() -> None:
    doc = load_text(HEAD + 'prompts:\n  - key: a\n    text: "{{subject}} at work"\n', "p.yaml").document
    assert doc is not None
    pack = pack_from_document(doc)
    assert subject_tag(pack, pack.classes[1]) == "<lora:3:0.5> ohwx woman"
    texts = [(t.class_name, t.text) for t in expand_pack(pack)]
    assert texts == [("man", "<lora:2:1> ohwx man at work"), ("woman", "<lora:3:0.5> ohwx woman at work")]


def test_same_text_for_different_classes_is_not_a_duplicate() -> None:
    text = HEAD + "prompts:\n  - key: a\n    classes: [man]\n    text: x {{subject}}\n"
    text += "  - key: b\n    classes: [woman]\n    text: x {{subject}}\n"
    assert check(text) == []


def test_duplicate_is_reported_once_for_all_its_classes() -> None:
    text = HEAD + "prompts:\n  - key: a\n    text: x {{subject}}\n  - key: b\n    text: x {{subject}}\n"
    doc = load_text(text, "p.yaml").document
    assert doc is not None
    _, found = PackChecker().check_document(doc)
    assert [(d.rule, d.location.line) for d in found] == [("prompt-duplicate", 10)]
    assert "for classes man, woman" in found[0].message


def test_a_parameter_difference_makes_prompts_distinct() -> None:
    text = HEAD + "prompts:\n  - key: a\n    text: x {{subject}}\n  - key: b\n    text: x {{subject}}\n    seed: 1\n"
    assert check(text) == []


def test_semantic_rules_still_run_when_the_only_schema_errors_are_unknown_keys() -> None:
    text = HEAD.replace("slug: demo", "slug: other") + "prompts:\n  - key: a\n    text: no subject\n    sed: 1\n"
    assert check(text) == [("prompt-no-subject", 9), ("schema-unknown-key", 10), ("slug-title-mismatch", 1)]


def test_semantic_rules_do_not_run_on_wrongly_typed_data() -> None:
    text = HEAD + "prompts:\n  - key: a\n    text: 5\n"
    assert check(text) == [("schema-type", 9)]


def test_super_resolution_problem_in_defaults_is_reported_once() -> None:
    text = HEAD + "defaults: {inpaint_faces: true}\nprompts:\n"
    text += "".join(f"  - key: p{i}\n    text: '{{{{subject}}}} {i}'\n" for i in range(5))
    found = check(text)
    assert found == [("param-needs-super-resolution", 7)]


def test_prompt_turning_super_resolution_off_is_blamed() -> None:
    text = HEAD + "defaults: {inpaint_faces: true, super_resolution: true}\nprompts:\n"
    text += "  - key: a\n    text: '{{subject}}'\n    super_resolution: false\n"
    assert check(text) == [("param-needs-super-resolution", 11)]


def test_spaced_subject_is_malformed_but_counts_as_a_subject() -> None:
    text = HEAD + "prompts:\n  - key: a\n    text: '{{ subject }} x'\n"
    assert check(text) == [("placeholder-malformed", 9)]


def test_explain_never_passes_a_document_the_fast_check_rejected() -> None:
    validator = SchemaValidator(PACK_SCHEMA)
    doc = load_text(HEAD + "prompts: []\n", "p.yaml").document
    assert doc is not None
    # Simulate the two checkers disagreeing: jsonschema finds nothing to explain.
    found = validator.explain(doc)
    assert [d.rule for d in found] == ["schema-invalid"]


def test_a_duplicate_slug_or_id_is_reported_while_the_files_have_other_errors(tmp_path: Path) -> None:
    pinned = HEAD.replace("slug: demo", "slug: demo\nid: 7")
    semantic = pinned + 'prompts:\n  - key: a\n    text: "{{subject}} {{nope}}"\n'
    schema = pinned + "prompts:\n  - key: b\n    text: 5\n"
    (tmp_path / "a.yaml").write_text(semantic)
    (tmp_path / "b.yaml").write_text(schema)
    result = PackChecker().check_files((p, p.name) for p in sorted(tmp_path.iterdir()))
    rules = sorted((d.location.path, d.rule) for d in result.diagnostics)
    assert ("a.yaml", "placeholder-undeclared") in rules
    assert ("b.yaml", "schema-type") in rules
    assert ("b.yaml", "slug-duplicate") in rules
    assert ("b.yaml", "id-duplicate") in rules
    assert result.packs == []


def test_prompts_that_differ_only_by_a_default_value_are_duplicates() -> None:
    prompts = 'prompts:\n  - key: a\n    text: "{{subject}} x"\n  - key: b\n    text: "{{subject}} x"\n'
    found = check(HEAD + prompts + "    num_images: 1\n    super_resolution: false\n")
    assert ("prompt-duplicate", 10) in found, found


def test_a_tiny_weight_is_written_as_a_plain_decimal() -> None:
    doc = load_text(
        HEAD.replace("weight: 0.5", "weight: 0.00001") + 'prompts:\n  - key: a\n    text: "{{subject}} x"\n', "p.yaml"
    ).document
    assert doc is not None
    pack = pack_from_document(doc)
    woman = next(c for c in pack.classes if c.name == "woman")
    tag = subject_tag(pack, woman)
    assert tag == "<lora:3:0.00001> ohwx woman"
    from packsync.facts import TUNE_TAG_RE

    assert TUNE_TAG_RE.fullmatch(tag.split(" ")[0])


EXPERIMENT_PROMPTS = (
    HEAD
    + """\
prompts:
  - {key: a, text: "{{subject}} a"}
  - {key: b, text: "{{subject}} b"}
  - {key: c, text: "{{subject}} c"}
  - {key: w, text: "{{subject}} w", classes: [woman]}
experiments:
"""
)  # the first experiment is on line 13


def messages(text: str) -> list[tuple[str, int, str]]:
    doc = load_text(text, "p.yaml").document
    assert doc is not None
    _, found = PackChecker().check_document(doc)
    return sorted((d.rule, d.location.line, d.message) for d in found)


def test_experiments_that_hold_together_pass() -> None:
    body = """\
  - {name: one, control: a, variants: [b], design: paired, metric: keeper-rate, min_effect: 0.1}
  - {name: two, control: c, variants: [a], status: stopped}
  - {name: three, control: c, variants: [b], status: concluded, winner: b}
"""
    assert messages(EXPERIMENT_PROMPTS + body) == []  # a and b are in one running experiment each


def test_each_experiment_rule_names_the_line_and_the_fix() -> None:
    body = """\
  - {name: one, control: a, variants: [bb]}
  - {name: one, control: c, variants: [c], status: stopped}
  - {name: two, control: b, variants: [a]}
  - {name: three, control: a, variants: [w], status: stopped}
  - {name: four, control: c, variants: [b], status: concluded}
  - {name: five, control: c, variants: [b], status: stopped, winner: c}
  - {name: six, control: c, variants: [w], status: concluded, winner: a}
"""
    found = messages(EXPERIMENT_PROMPTS + body)
    assert found == [
        ("experiment-classes-differ", 16, "variant \"w\" is for ['woman'], its control \"a\" for ['man', 'woman']: "
         "an experiment compares the same customers"),
        ("experiment-classes-differ", 19, "variant \"w\" is for ['woman'], its control \"c\" for ['man', 'woman']: "
         "an experiment compares the same customers"),
        ("experiment-name-duplicate", 14, 'experiment name "one" is already used at line 13'),
        ("experiment-prompt-reused", 14, '"c" is both the control and a variant of "one"'),
        ("experiment-prompt-reused", 15, 'prompt "a" is already an arm of the running experiment "one"; '
         "a prompt can be in one running experiment at a time"),
        ("experiment-prompt-unknown", 13, 'no prompt has the key "bb"; did you mean "b"?'),
        ("experiment-winner", 17, 'experiment "four" is concluded but names no winner'),
        ("experiment-winner", 18, 'experiment "five" names a winner but is stopped'),
        ("experiment-winner", 19, 'the winner "a" is neither the control nor a variant of "six"'),
    ]  # fmt: skip


def test_a_concluded_experiment_needs_only_its_winner() -> None:
    gone = """\
  - {name: one, control: gone, variants: [b, also-gone], status: concluded, winner: b}
  - {name: two, control: a, variants: [lost], status: concluded, winner: lost}
"""
    assert messages(EXPERIMENT_PROMPTS + gone) == [
        ("experiment-prompt-unknown", 14, 'no prompt has the key "lost"'),
    ]
