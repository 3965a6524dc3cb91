"""The compiled schema check agrees with jsonschema, the authority."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from packsync.packfiles.fastschema import Compiler, UnsupportedSchema, compile_schema, json_key
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


# -- corner cases of the pack schema -------------------------------------------------------

BASE: dict[str, Any] = {
    "slug": "demo",
    "title": "Demo",
    "model": {"base_tune_id": 1, "model_type": "lora"},
    "classes": {"man": {"tune_id": 1}},  # exactly one class
    "prompts": [{"key": "a", "text": "{{subject}} x"}],
}


def with_prompt(**params: Any) -> dict[str, Any]:
    return {**BASE, "prompts": [{"key": "a", "text": "{{subject}} x", **params}]}


@pytest.mark.parametrize(
    ("doc", "valid"),
    [
        pytest.param(BASE, True, id="exactly-one-class"),
        pytest.param({**BASE, "classes": {}}, False, id="no-class"),
        pytest.param({**BASE, "classes": {"man": {"tune_id": 1, "weight": 100.5}}}, False, id="weight-100-5"),
        pytest.param({**BASE, "classes": {"man": {"tune_id": 1, "weight": 1.5}}}, True, id="weight-1-5"),
        pytest.param({**BASE, "classes": {"man": {"tune_id": 1, "weight": 2}}}, True, id="weight-2"),
        pytest.param({**BASE, "title": "x" * 200}, True, id="title-of-200-characters"),
        pytest.param({**BASE, "title": "x" * 201}, False, id="title-of-201-characters"),
        pytest.param({**BASE, "title": "é" * 200}, True, id="title-of-200-characters-400-bytes"),
        pytest.param({**BASE, "title": ""}, False, id="empty-title"),
        pytest.param(with_prompt(w=1020.0, h=8), False, id="w-1020-0"),
        pytest.param(with_prompt(w=1024.0, h=8), True, id="w-1024-0"),
        pytest.param(with_prompt(w=8192, h=8), True, id="w-at-its-maximum"),
        pytest.param(with_prompt(w=8200, h=8), False, id="w-past-its-maximum"),
        pytest.param(with_prompt(num_images=100.5), False, id="num-images-100-5"),
        pytest.param(with_prompt(num_images=8.0), True, id="num-images-8-0"),
        pytest.param(with_prompt(classes=[]), False, id="classes-empty"),
        pytest.param(with_prompt(classes=["man"]), True, id="classes-man"),
        pytest.param(with_prompt(backend_version=1.0), True, id="backend-version-1-0"),
        pytest.param(with_prompt(backend_version=True), False, id="backend-version-true"),
        pytest.param(with_prompt(backend_version=None), True, id="backend-version-null"),
        pytest.param(with_prompt(seed=2**32), True, id="seed-at-its-maximum"),
        pytest.param(with_prompt(seed=2**32 + 1), False, id="seed-past-its-maximum"),
        pytest.param(with_prompt(denoising_strength=0), True, id="denoising-strength-0"),
        pytest.param(with_prompt(denoising_strength=1.0001), False, id="denoising-strength-past-1"),
        pytest.param({**BASE, "defaults": {"key": "a"}}, False, id="a-prompt-key-in-the-defaults"),
        pytest.param({**BASE, "prompts": [{"key": "a", "text": "t", "sed": 1}]}, False, id="an-unknown-key"),
    ],
)
def test_pack_schema_corner_cases_agree_with_jsonschema(doc: dict[str, Any], valid: bool) -> None:
    assert FULL.is_valid(doc) is valid
    assert FAST(doc) is valid


# -- synthetic schemas: every keyword the compiler supports, against jsonschema ------------

INSTANCES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    0.0,
    1.0,
    1.5,
    7,
    8,
    8.0,
    10,
    12,
    12.0,
    16,
    16.5,
    2**40,
    "",
    "a",
    "ab",
    "abc",
    "abcd",
    "A",
    "a\n",
    "é",
    [],
    [1],
    [1, 1],
    [1, 1.0],
    [1, True],
    [0, False],
    ["a", "b"],
    [[1], [True]],
    [{"a": 1}, {"a": 1.0}],
    [None],
    {},
    {"a": 1},
    {"a": "x"},
    {"a": None},
    {"b": 1},
    {"a": 1, "b": 2},
    {"a/b": 1},
    {"ab": 1},
    {"a": {"a": {}}},
    {"a": {"a": 1}},
    {"a": {"b": 1}},
    {"kids": [{"kids": [{"v": 1}]}]},
    {"kids": [{"kids": [{"v": "x"}]}]},
    {"kids": [{"w": 1}]},
]

SCHEMAS: dict[str, dict[str, Any]] = {
    "true-and-false-properties": {"properties": {"a": False, "b": True}},
    "items-false": {"items": False},
    "items-of-a-type": {"items": {"type": "integer"}},
    "additionalproperties-false": {"properties": {"a": True}, "additionalProperties": False},
    "additionalproperties-schema": {"properties": {"a": True}, "additionalProperties": {"type": "integer"}},
    "ref-to-false": {"$defs": {"no": False}, "properties": {"a": {"$ref": "#/$defs/no"}}},
    "ref-to-true": {"$defs": {"yes": True}, "type": "object", "properties": {"a": {"$ref": "#/$defs/yes"}}},
    "recursive-ref": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}, "v": {"type": "integer"}},
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    },
    "recursive-ref-to-the-root": {"type": "object", "properties": {"a": {"$ref": "#"}}},
    "escaped-pointers": {
        "$defs": {"a/b": {"type": "integer"}, "c~d": {"type": "string"}},
        "properties": {"a/b": {"$ref": "#/$defs/a~1b"}, "a": {"$ref": "#/$defs/c~0d"}},
    },
    "unevaluatedproperties-through-ref": {
        "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"properties": {"b": True}}},
        "$ref": "#/$defs/a",
        "properties": {"a": True},
        "unevaluatedProperties": False,
    },
    "unevaluatedproperties-after-additionalproperties-in-a-ref": {
        "$defs": {"open": {"additionalProperties": True}},
        "type": "object",
        "$ref": "#/$defs/open",
        "unevaluatedProperties": False,
    },
    "unevaluatedproperties-after-additionalproperties-beside-it": {
        "properties": {"a": True},
        "additionalProperties": {"type": "integer"},
        "unevaluatedProperties": False,
    },
    "exclusive-bounds": {"exclusiveMinimum": 0, "exclusiveMaximum": 10},
    "inclusive-bounds": {"minimum": 1, "maximum": 8},
    "null-in-a-type-list": {"type": ["string", "null"]},
    "integer-or-null": {"type": ["integer", "null"]},
    "null-alone": {"type": "null"},
    "null-alone-in-a-list": {"type": ["null"]},
    "number-in-a-list": {"type": ["number"]},
    "object": {"type": "object"},
    "array": {"type": "array"},
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "object-or-null": {"type": ["object", "null"]},
    "array-or-boolean": {"type": ["array", "boolean"]},
    "string-or-integer": {"type": ["string", "integer"]},
    "number": {"type": "number"},
    "enum-with-null-and-numbers": {"enum": [None, 1, "a"]},
    "enum-of-containers": {"enum": [[1], {"a": 1}]},
    "const-null": {"const": None},
    "const-container": {"const": [1, 1]},
    "const-false": {"const": False},
    "uniqueitems": {"uniqueItems": True},
    "uniqueitems-off": {"uniqueItems": False},
    "multipleof": {"multipleOf": 8},
    "string-lengths": {"minLength": 2, "maxLength": 3},
    "pattern": {"pattern": "^a$"},
    "propertynames-false": {"propertyNames": False},
    "propertynames-length": {"propertyNames": {"maxLength": 1}},
    "array-sizes": {"minItems": 1, "maxItems": 1},
    "required": {"required": ["a"]},
    "minproperties": {"minProperties": 2},
    "two-checks-the-second-failing": {"type": "object", "required": ["b"]},
    "annotations-only": {"title": "t", "description": "d", "default": 1, "examples": [1], "$comment": "c"},
}


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_synthetic_schemas_agree_with_jsonschema(name: str) -> None:
    schema = SCHEMAS[name]
    fast = compile_schema(schema)
    full = Draft202012Validator(schema)
    disagree = [value for value in INSTANCES if fast(value) != full.is_valid(value)]
    assert disagree == []
    assert any(full.is_valid(v) for v in INSTANCES)  # each schema accepts something
    if name not in ("annotations-only", "uniqueitems-off"):
        assert not all(full.is_valid(v) for v in INSTANCES)  # ... and rejects something


def test_a_subschema_compiles_against_its_root() -> None:
    root = {"$defs": {"int": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/int"}}}
    compiler = Compiler(root)
    check = compiler.compile({"$ref": "#/$defs/int"})
    assert check(3) and not check("3")
    assert compiler.compile()({"a": 3}) and not compiler.compile()({"a": "3"})
    assert compiler.compile(False)(1) is False and compiler.compile(True)(1) is True
    assert compiler.compile({})(1) is True


def test_property_names_follow_refs_for_the_did_you_mean_hints() -> None:
    root = {"$defs": {"base": {"properties": {"seed": {}}}, "bare": {"type": "object"}, "no": False}}
    compiler = Compiler(root)
    assert compiler.property_names({"$ref": "#/$defs/base", "properties": {"key": {}}}) == {"seed", "key"}
    assert compiler.property_names({"$ref": "#/$defs/bare"}) == set()
    assert compiler.property_names({"$ref": "#/$defs/no"}) == set()
    assert compiler.property_names(True) == set()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"if": {}, "then": {}}, "unsupported keyword(s): if, then"),
        (
            {"$ref": "https://example.com/schema.json"},
            "only local $ref is supported, not 'https://example.com/schema.json'",
        ),
        ({"$ref": "#/$defs/missing"}, "$ref '#/$defs/missing' does not name a schema"),
        ({"$defs": {"n": 3}, "$ref": "#/$defs/n"}, "$ref '#/$defs/n' does not name a schema"),
        ({"type": "float"}, "unknown type 'float'"),
        ({"multipleOf": 0.5}, "multipleOf must be an integer here"),
        ({"unevaluatedProperties": {"type": "integer"}}, "unevaluatedProperties is supported only as false"),
        ({"properties": {"a": []}}, "a schema must be an object or a boolean, not []"),
    ],
    ids=[
        "if-then",
        "remote-ref",
        "missing-ref",
        "ref-to-a-number",
        "unknown-type",
        "multipleof-float",
        "unevaluated-schema",
        "list-schema",
    ],
)
def test_what_the_compiler_cannot_check_it_refuses_by_name(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedSchema) as raised:
        compile_schema(schema)
    assert str(raised.value) == message


def test_json_keys_tell_booleans_from_numbers_at_any_depth() -> None:
    assert json_key(1) == json_key(1.0) != json_key(True)
    assert json_key([1, {"a": 0}]) == json_key([1.0, {"a": 0.0}]) != json_key([True, {"a": False}])
    assert json_key({"a": [1]}) != json_key({"a": [2]}) != json_key({"b": [1]})
    assert json_key([1]) != json_key({"1": 1}) != json_key("1")
    assert json_key(None) != json_key(False)
    assert json_key(object) == json_key(object) != json_key(int)  # anything else: by its repr
