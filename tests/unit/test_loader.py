"""The YAML loader: positions, strictness and limits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from packsync.packfiles import loader
from packsync.packfiles.loader import MAX_DEPTH, MAX_FILE_BYTES, load_bytes, load_file, load_text


def rules(text: str) -> list[tuple[str, int, int]]:
    result = load_text(text, "f.yaml")
    return [(d.rule, d.location.line, d.location.col) for d in result.diagnostics]


def test_positions_of_values_and_keys_deep_in_a_list() -> None:
    doc = load_text("a:\n  - k: 1\n    t: hello\n  - k: 2\n    t: bye\n", "f.yaml").document
    assert doc is not None
    assert doc.data == {"a": [{"k": 1, "t": "hello"}, {"k": 2, "t": "bye"}]}
    assert str(doc.location(("a", 1, "t"))) == "f.yaml:5:8"
    assert str(doc.location(("a", 1, "t"), key=True)) == "f.yaml:5:5"
    # a path below a value falls back to the nearest known node
    assert str(doc.location(("a", 1, "t", "x"))) == "f.yaml:5:8"


def test_duplicate_key_is_an_error_that_points_at_the_second() -> None:
    assert rules("a: 1\nb: 2\na: 3\n") == [("yaml-duplicate-key", 3, 1)]


def test_duplicate_keys_in_nested_mappings_are_all_reported() -> None:
    found = rules("x:\n  a: 1\n  a: 2\ny:\n  - b: 1\n    b: 1\n")
    assert found == [("yaml-duplicate-key", 3, 3), ("yaml-duplicate-key", 6, 5)]


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['true']",
        "!!binary aGVsbG8=",
        "!custom x",
        "!!set {a}",
        "!!timestamp 2020-01-01",
    ],
)
def test_tags_beyond_json_types_are_rejected(tag: str) -> None:
    assert [r[0] for r in rules(f"a: {tag}\n")] == ["yaml-tag"]


def test_explicit_json_tags_are_accepted() -> None:
    doc = load_text("a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!bool true\ne: !!null ''\n", "f").document
    assert doc is not None
    assert doc.data == {"a": "12", "b": 7, "c": 1.0, "d": True, "e": None}


def test_yaml_1_2_core_schema_for_plain_scalars() -> None:
    doc = load_text("a: yes\nb: 4:5\nc: on\nd: 0x1F\ne: 0o17\nf: 1e3\ng: ~\nh: True\ni: 012\n", "f").document
    assert doc is not None
    assert doc.data == {"a": "yes", "b": "4:5", "c": "on", "d": 31, "e": 15, "f": 1000.0, "g": None, "h": True, "i": 12}


def test_quoted_scalars_stay_strings() -> None:
    doc = load_text("a: '1'\nb: \"true\"\nc: |\n  null\n", "f").document
    assert doc is not None
    assert doc.data == {"a": "1", "b": "true", "c": "null\n"}


def test_alias_bomb_is_stopped_before_it_expands() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    assert [r[0] for r in rules("\n".join(lines) + "\n")] == ["yaml-alias-limit"]


def test_small_aliases_and_merge_keys_work() -> None:
    doc = load_text("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nagain: *b\n", "f").document
    assert doc is not None
    assert doc.data["use"] == {"x": 1, "y": 3}
    assert doc.data["again"] == {"x": 1, "y": 2}


PARSERS = {"libyaml": getattr(yaml, "CSafeLoader", None), "pure-python": yaml.SafeLoader}


@pytest.fixture(params=list(PARSERS))
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with libyaml's parser and with PyYAML's pure-Python one (its fallback)."""
    chosen = PARSERS[request.param]
    if chosen is None:
        pytest.skip("PyYAML is built without libyaml here")
    monkeypatch.setattr(loader, "_Parser", chosen)
    return str(request.param)


def test_the_loader_uses_libyaml_when_pyyaml_has_it() -> None:
    assert loader._Parser is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_deep_nesting_is_refused_without_crashing(parser: str) -> None:
    # libyaml's own composer would overflow the C stack on this; libyaml 0.2.6 and later
    # refuse it themselves, from the scanner, before any event of the inner lists exists.
    text = "a: " + "[" * 200_000 + "]" * 200_000 + "\n"
    assert [r[0] for r in rules(text)] == ["yaml-depth"]
    ok = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"  # the top mapping is a level too
    assert rules(ok) == []
    assert rules("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n") == [("yaml-depth", 1, 3 + MAX_DEPTH)]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # past libyaml's own limit (1,000 levels since 0.2.6) in every shape it can be written
        pytest.param("a: " + "[" * 1_100 + "]" * 1_100 + "\n", None, id="flow-one-line"),
        pytest.param("a: " + "{a: " * 1_100 + "}" * 1_100 + "\n", None, id="flow-mappings"),
        pytest.param("a: " + "[\n" * 1_100 + "]" * 1_100 + "\n", (MAX_DEPTH, 1), id="flow-many-lines"),
        pytest.param("".join("  " * i + "k:\n" for i in range(1_100)) + "  " * 1_100 + "v\n", (65, 129), id="block"),
        pytest.param("".join("- " * 1_100) + "x\n", (1, 2 * MAX_DEPTH + 1), id="block-sequences"),
        pytest.param(
            "".join("  " * i + "k:\n" for i in range(40)) + "  " * 40 + "[" * 1_100 + "]" * 1_100 + "\n",
            None,
            id="block-then-flow",
        ),
    ],
)
def test_nesting_past_any_limit_is_yaml_depth(parser: str, text: str, where: tuple[int, int] | None) -> None:
    found = rules(text)
    assert [r[0] for r in found] == ["yaml-depth"], found
    result = load_text(text, "f.yaml")
    assert result.diagnostics[0].message == f"nesting deeper than {MAX_DEPTH} levels"
    if where is not None:  # packsync's own limit: the same place with either parser
        assert found[0][1:] == where


def test_libyaml_parser_nesting_error_is_yaml_depth_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # libyaml after 0.2.6 may raise its limit from the parser, with another message.
    class RefusingParser:
        def __init__(self, text: str) -> None:
            pass

        def get_event(self) -> None:
            mark = yaml.Mark("<unicode string>", 0, 6, 1002, None, None)
            raise yaml.parser.ParserError(
                "while parsing", mark, "Maximum nesting level reached, set with yaml_set_max_nest_level())", mark
            )

        def dispose(self) -> None:
            pass

    monkeypatch.setattr(loader, "_Parser", RefusingParser)
    assert rules("a: 1\n") == [("yaml-depth", 7, 1003)]


def test_without_libyaml_the_pure_python_parser_is_used_and_deep_nesting_is_yaml_depth(tmp_path: Path) -> None:
    # PyYAML built without libyaml (no yaml._yaml): the loader falls back, validate still says yaml-depth.
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5_000 + "]" * 5_000 + "\n", encoding="utf-8")
    script = (
        "import sys; sys.modules['yaml._yaml'] = None\n"
        "import yaml, packsync.packfiles.loader\n"
        "assert not yaml.__with_libyaml__ and packsync.packfiles.loader._Parser is yaml.SafeLoader\n"
        "from packsync.cli import main\n"
        "sys.argv = ['packsync', 'validate', sys.argv[1]]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(deep)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 1, done.stderr
    assert f"{deep}:1:{3 + MAX_DEPTH}: yaml-depth nesting deeper than {MAX_DEPTH} levels" in done.stdout


def test_tab_indentation_gets_its_own_message() -> None:
    assert rules("a:\n  b: 1\n\tc: 2\n") == [("yaml-tab-indent", 3, 1)]


def test_tab_inside_a_value_is_fine() -> None:
    assert rules('a: "x\ty"\nb: x\ty\n') == []


@pytest.mark.parametrize(
    ("text", "message_part"),
    [("", "empty"), ("- a\n", "a list"), ("hello\n", "a string"), ("# only a comment\n", "empty")],
)
def test_top_level_must_be_a_mapping(text: str, message_part: str) -> None:
    result = load_text(text, "f.yaml")
    assert [d.rule for d in result.diagnostics] == ["yaml-not-mapping"]
    assert message_part in result.diagnostics[0].message


def test_a_second_document_is_an_error() -> None:
    assert rules("a: 1\n---\nb: 2\n") == [("yaml-multiple-documents", 2, 1)]


def test_non_string_keys_are_errors() -> None:
    found = rules("classes:\n  1: x\n  null: y\n  ok: z\n")
    assert found == [("yaml-key-type", 2, 3), ("yaml-key-type", 3, 3)]


def test_infinity_and_nan_are_rejected() -> None:
    assert [r[0] for r in rules("a: .inf\n")] == ["yaml-number"]
    assert [r[0] for r in rules("a: .nan\n")] == ["yaml-number"]


def test_syntax_error_has_a_position() -> None:
    assert rules("a: 1\nb: c: d\n") == [("yaml-syntax", 2, 5)]


def test_unclosed_bracket_points_where_it_opened() -> None:
    # the parser only notices on the next line; the fault is the unclosed [
    assert rules("a: [1, 2\nb: 3\n") == [("yaml-syntax", 1, 4)]


def test_raw_control_character_is_a_syntax_error_with_position() -> None:
    assert rules("a: 1\nb: x\x07\n") == [("yaml-syntax", 2, 5)]


def test_non_utf8_bytes_are_located() -> None:
    result = load_bytes(b"a: 1\nb: caf\xe9\n", "f.yaml")
    assert [(d.rule, d.location.line, d.location.col) for d in result.diagnostics] == [("file-encoding", 2, 7)]


def test_utf8_bom_is_accepted() -> None:
    result = load_bytes("\ufeffa: 1\n".encode(), "f.yaml")
    assert result.document is not None and result.document.data == {"a": 1}


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (MAX_FILE_BYTES + 10) + b"\n")
    result = load_file(big, "big.yaml")
    assert [d.rule for d in result.diagnostics] == ["file-too-large"]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert [d.rule for d in load_file(tmp_path / "nope.yaml").diagnostics] == ["file-unreadable"]
    assert [d.rule for d in load_file(tmp_path).diagnostics] == ["file-unreadable"]


def test_unprintable_strings_are_listed_for_the_rule() -> None:
    doc = load_text('a: "x\\u202ey"\nb: [ok, "\\x07"]\n', "f").document
    assert doc is not None
    assert sorted(doc.unprintable, key=str) == [("a",), ("b", 1)]
