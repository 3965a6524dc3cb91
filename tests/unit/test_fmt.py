"""fmt: one canonical layout, comments kept, meaning never changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packsync.commands.fmt import format_text
from packsync.packfiles.loader import load_text
from tests.conftest import PACKS, run_packsync

MESSY = """\
# header comment
title: Demo   # the title
slug: demo
model:   # model config
  model_type: lora
  base_tune_id: 1  # base
classes:
  # the man class
  man: {tune_id: 2}  # ref tune
prompts:
  # first prompt
  - text: '{{subject}} one: "quoted"'   # text comment
    key: one
    seed: 4
    aspect_ratio: 4:5
  - key: two
    text: >-
      {{subject}} two
      folded
# footer
"""


def data(text: str) -> Any:
    doc = load_text(text, "f.yaml").document
    assert doc is not None
    return doc.data


def test_canonical_layout_keeps_every_comment_and_the_meaning() -> None:
    result = format_text(MESSY, "f.yaml")
    assert result.changed and result.text is not None
    assert data(result.text) == data(MESSY)
    for comment in (
        "# header comment",
        "# the title",
        "# model config",
        "# base",
        "# the man class",
        "# ref tune",
        "# first prompt",
        "# text comment",
        "# footer",
    ):
        assert result.text.count(comment) == 1, comment
    lines = result.text.splitlines()
    assert lines[:3] == ["# header comment", "slug: demo", "title: Demo  # the title"]
    assert "  man: { tune_id: 2 }  # ref tune" in lines
    assert '    text: "{{subject}} one: \\"quoted\\""  # text comment' in lines
    assert '    aspect_ratio: "4:5"' in lines


def test_formatting_is_idempotent() -> None:
    once = format_text(MESSY, "f.yaml").text
    assert once is not None
    again = format_text(once, "f.yaml")
    assert not again.changed and again.text == once


def test_example_packs_are_canonical() -> None:
    for path in PACKS.glob("*.yaml"):
        result = format_text(path.read_text(), path.name)
        assert not result.changed, f"{path.name} is not in the canonical layout: packsync fmt"


def test_check_lists_files_and_exits_1_without_writing(tmp_path: Path) -> None:
    messy = tmp_path / "packs" / "demo.yaml"
    messy.parent.mkdir()
    messy.write_text(MESSY)
    done = run_packsync("fmt", "--check", cwd=tmp_path)
    assert done.code == 1
    assert "would reformat packs/demo.yaml" in done.out
    assert messy.read_text() == MESSY
    assert run_packsync("fmt", cwd=tmp_path).code == 0
    assert run_packsync("fmt", "--check", cwd=tmp_path).code == 0


def test_broken_yaml_is_left_alone_with_a_message(tmp_path: Path) -> None:
    broken = tmp_path / "b.yaml"
    broken.write_text("slug: [x\n")
    done = run_packsync("fmt", str(broken))
    assert done.code == 1
    assert "yaml-syntax" in done.err
    assert broken.read_text() == "slug: [x\n"


words = st.sampled_from(
    [
        "studio",
        "light",
        "a: b",
        "# not a comment",
        'quote"d',
        "back\\slash",
        "ünïcødé",
        "🙂",
        "- dash",
        "{{x}}",
        "yes",
        "null",
        "0x10",
        "4:5",
        "  spaced  ",
    ]
)
texts = st.lists(words, min_size=1, max_size=6).map(" ".join)
param_values = st.one_of(
    st.integers(min_value=0, max_value=2**32),
    st.floats(min_value=0, max_value=15, allow_nan=False).map(lambda f: round(f, 3)),
    st.booleans(),
    st.none(),
    texts,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=texts,
    prompts=st.lists(
        st.tuples(
            texts,
            st.dictionaries(
                st.sampled_from(["seed", "num_images", "cfg_scale", "negative_prompt", "style"]),
                param_values,
                max_size=3,
            ),
        ),
        max_size=5,
    ),
    extra=st.dictionaries(st.sampled_from(["unknown", "protect", "id"]), param_values, max_size=2),
)
def test_formatting_never_changes_the_loaded_model(
    title: str, prompts: list[tuple[str, dict[str, Any]]], extra: dict[str, Any]
) -> None:
    import json

    document: dict[str, Any] = {
        "slug": "s",
        "title": title,
        **extra,
        "model": {"base_tune_id": 1, "model_type": "lora"},
    }
    document["classes"] = {"man": {"tune_id": 2}}
    document["prompts"] = [{"key": f"k{i}", "text": text, **params} for i, (text, params) in enumerate(prompts)]
    source = json.dumps(document, ensure_ascii=False)  # JSON is YAML: a messy but valid starting point
    result = format_text(source, "f.yaml")
    assert result.text is not None, result.error
    assert data(result.text) == data(source)
    assert not format_text(result.text, "f.yaml").changed


@pytest.mark.parametrize("name", ["corporate-headshots.yaml", "pet-portraits.yaml"])
def test_model_identical_before_and_after_on_the_examples(name: str) -> None:
    import json

    from packsync.desired.state import desired_state
    from packsync.packfiles.pack import pack_from_document

    text = (PACKS / name).read_text()
    scrambled = json.dumps(data(text), indent=1)  # the same document in another (valid YAML) layout
    result = format_text(scrambled, name)
    assert result.text is not None
    before = load_text(text, name).document
    after = load_text(result.text, name).document
    assert before is not None and after is not None
    assert after.data == before.data

    def templates(doc: Any) -> list[tuple[Any, ...]]:
        (pack,) = desired_state([pack_from_document(doc)])
        return [(t.class_name, t.tune_id, t.key, t.text, t.params) for t in pack.templates]

    assert templates(after) == templates(before)


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\ufffe", "\uffff", "\x85", "\x7f"])
def test_characters_yaml_cannot_hold_raw_are_written_escaped(char: str) -> None:
    from packsync.packfiles.writer import write_pack

    document = {"slug": "s", "title": f"a {char} b", "prompts": [{"key": "k", "text": f"x {char} y {char}"}]}
    written = write_pack(document)
    assert char not in written  # escaped: U+2028/U+2029 are line breaks to YAML (spaces around them fold away)
    assert data(written) == document
