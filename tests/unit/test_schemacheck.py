"""The compiled schema check agrees with jsonschema, the authority."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from packsync.packfiles.fastschema import UnsupportedSchema, compile_schema
from packsync.packfiles.schema import PACK_SCHEMA, PROJECT_SCHEMA, load_schema

PACK = load_schema(PACK_SCHEMA)
FAST = compile_schema(PACK)
FULL = Draft202012Validator(PACK)

VALID: dict[str, Any] = {
    "slug": "corporate-headshots",
    "title": "Corporate Headshots",
    "model": {"base_tune_id": 1504944, "model_type": "lora"},
    "classes": {"man": {"tune_id": 1}, "woman": {"tune_id": 2, "weight": 0.8}},
    "characteristics": {"eye_color": {"description": "d", "example": "e"}},
    "defaults": {"num_images": 4, "super_resolution": True},
    "prompts": [
        {"key": "a", "text": "{{subject}} x", "seed": 1, "w": 512, "h": 768},
        {"key": "b", "classes": ["man"], "text": "{{subject}} y", "style": None, "backend_version": 1},
    ],
}

EDGES = [-1, 0, 1, 2, 7, 8, 9, 15, 16, 50, 51, 1020, 1024, 8200, 2**32, 2**32 + 1, 0.5, 1.5, 2.5, 15.5, 8.0, 3.0]
STRINGS = ["", "man", "Man", "lora", "LoRA", "4:5", "4:3x", "Photographic", "a b", "x" * 201, "-bad-", "ok-slug"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**33), max_value=2**33),
    # values at the edges of the schema's ranges
    st.sampled_from([-1, 0, 1, 2, 7, 8, 9, 15, 16, 50, 51, 1020, 1024, 8200, 2**32, 2**32 + 1, 0.5, 1.5, 15.5, 8.0]),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "man", "lora", "4:5", "Photographic", "a b", "x" * 201, "{{subject}}", "UPPER"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "tune_id", "key", "text"]), inner, max_size=3),
    ),
    max_leaves=6,
)

# Paths in VALID where a mutation is interesting, and names of keys to add.
KEYS = [
    "slug",
    "title",
    "subtitle",
    "id",
    "protect",
    "model",
    "classes",
    "prompts",
    "defaults",
    "characteristics",
    "bogus",
]
PROMPT_KEYS = [
    "key",
    "text",
    "classes",
    "seed",
    "num_images",
    "cfg_scale",
    "steps",
    "w",
    "h",
    "style",
    "sed",
    "aspect_ratio",
]


def _containers(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _containers(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _containers(v, (*path, i))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _containers(doc)
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["nudge", "nudge", "replace", "delete", "add"]))
        current = parent[path[-1]]
        if action == "nudge" and isinstance(current, (int, float)) and not isinstance(current, bool):
            # same type, value near the edges of a range: exercises minimum, maximum, multipleOf
            parent[path[-1]] = draw(st.sampled_from(EDGES))
        elif action == "nudge" and isinstance(current, str):
            parent[path[-1]] = draw(st.sampled_from(STRINGS))
        elif action in ("replace", "nudge"):
            parent[path[-1]] = draw(json_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            name = draw(st.sampled_from(KEYS + PROMPT_KEYS))
            parent[path[-1]][name] = draw(json_values)
    return doc


def test_the_valid_example_is_valid() -> None:
    assert FULL.is_valid(VALID)
    assert FAST(VALID)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fast_check_agrees_with_jsonschema_on_mutated_packs(doc: Any) -> None:
    assert FAST(doc) == FULL.is_valid(doc)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_check_agrees_with_jsonschema_on_arbitrary_values(doc: Any) -> None:
    assert FAST(doc) == FULL.is_valid(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {**VALID, "protect": 1},  # 1 is not a boolean
        {**VALID, "id": True},  # true is not an integer
        {**VALID, "id": 5.0},  # 5.0 is an integer in JSON Schema
        {**VALID, "prompts": [{"key": "a", "text": "t", "backend_version": True}]},  # true != 1 in enum
        {**VALID, "prompts": [{"key": "a", "text": "t", "w": 1020}]},
        {**VALID, "prompts": [{"key": "a", "text": "t", "classes": ["man", "man"]}]},
        {**VALID, "defaults": {"sed": 1}},
        {**VALID, "classes": {"Man": {"tune_id": 1}}},
    ],
)
def test_json_schema_corner_cases(doc: Any) -> None:
    assert FAST(doc) == FULL.is_valid(doc)


def test_project_schema_compiles_and_agrees() -> None:
    schema = load_schema(PROJECT_SCHEMA)
    fast = compile_schema(schema)
    full = Draft202012Validator(schema)
    for doc in [
        {},
        {"targets": {"sandbox": {"url": "sandbox"}}, "default_target": "sandbox"},
        {"targets": {"p": {"tune_ids": {"690204": 1}}}},
        {"targets": {"p": {"tune_ids": {"x": 1}}}},
        {"policy": {"max_remove_share": 2}},
        {"policy": {"on_remove": "destroy"}},
        {"version": 2},
    ]:
        assert fast(doc) == full.is_valid(doc), doc


def test_unsupported_keywords_refuse_to_compile() -> None:
    with pytest.raises(UnsupportedSchema):
        compile_schema({"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}})
    with pytest.raises(UnsupportedSchema):
        compile_schema({"$ref": "https://example.com/schema.json"})
