"""Hostile pack files: every one gets diagnostics, never an exception; the CLI never shows a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from packsync.desired.check import PackChecker
from packsync.desired.expand import expand_pack
from packsync.packfiles.diagnostics import Diagnostic
from packsync.packfiles.loader import load_bytes
from packsync.packfiles.pack import Pack
from packsync.packfiles.rules import RULES
from packsync.packfiles.schema import PACK_SCHEMA, load_schema
from packsync.slug import derive_slug
from tests.conftest import PACKS, run_packsync

CHECKER = PackChecker()
EXAMPLE = (PACKS / "pet-portraits.yaml").read_bytes()
FULL = Draft202012Validator(load_schema(PACK_SCHEMA))


@dataclass(frozen=True)
class Outcome:
    pack: Pack | None
    diagnostics: list[Diagnostic]


def check_bytes(raw: bytes) -> Outcome:
    """Load and check, as validate does; any exception is a bug, and so is any outcome that
    says nothing definite: a file is either a pack that jsonschema accepts too, or rejected
    with at least one error, each one a known rule placed inside the file."""
    result = load_bytes(raw, "fuzz.yaml")
    diagnostics = list(result.diagnostics)
    pack = None
    if result.document is not None and not any(d.is_error for d in diagnostics):
        pack, found = CHECKER.check_document(result.document)
        diagnostics += found
    assert (pack is None) == any(d.is_error for d in diagnostics), diagnostics
    # YAML breaks lines at NEL, U+2028 and U+2029 too; the end of the input may be one line more
    lines = len(raw.decode("utf-8", "replace").splitlines()) + 2
    for d in diagnostics:
        assert d.rule in RULES and d.message.strip(), d
        assert d.location.path == "fuzz.yaml" and 0 <= d.location.line <= lines, d
    if pack is not None:
        assert result.document is not None and FULL.is_valid(result.document.data)
        assert len(expand_pack(pack)) == sum(len(pack.prompt_classes(p)) for p in pack.prompts)
    return Outcome(pack, diagnostics)


def test_the_example_the_fuzzing_starts_from_is_a_valid_pack() -> None:
    outcome = check_bytes(EXAMPLE)
    assert outcome.pack is not None and outcome.pack.slug == "pet-portraits"
    assert [d for d in outcome.diagnostics if d.is_error] == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_loader(raw: bytes) -> None:
    assert check_bytes(raw).pack is None  # never a pack: rejected, with a reason


yaml_pieces = st.sampled_from(
    [
        "slug: ",
        "title: ",
        "prompts:\n",
        "  - key: ",
        "    text: ",
        "classes:\n",
        "  man: ",
        "{tune_id: 1}",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "<<: ",
        "!!str ",
        "!!python/object ",
        "? ",
        "- ",
        ": ",
        "\t",
        "\n",
        "  ",
        "'",
        '"',
        "#",
        "{{subject}}",
        "{{ x }}",
        "\u202e",
        "\x00",
        "\x85",
        "\ufeff",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "|\n",
        ">-\n",
        "0x1F",
        ".inf",
        "~",
        "yes",
        "4:5",
        "1e400",
        "9" * 30,
    ]
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(yaml_pieces, max_size=40).map("".join))
def test_yaml_shaped_garbage_never_crashes(text: str) -> None:
    # no piece spells a model: never a pack, always rejected with a reason
    assert check_bytes(text.encode("utf-8", "surrogatepass")).pack is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(EXAMPLE) - 1), st.binary(min_size=1, max_size=8))
def test_a_real_pack_with_bytes_spliced_in_never_crashes(position: int, junk: bytes) -> None:
    outcome = check_bytes(EXAMPLE[:position] + junk + EXAMPLE[position:])
    if outcome.pack is not None:  # accepted: still a pack the rules hold for
        assert derive_slug(outcome.pack.title) == outcome.pack.slug


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(EXAMPLE) - 1), st.integers(min_value=1, max_value=200))
def test_a_real_pack_cut_anywhere_never_crashes(start: int, length: int) -> None:
    outcome = check_bytes(EXAMPLE[:start] + EXAMPLE[start + length :])
    if outcome.pack is not None:  # what is left is still a pack the rules hold for
        assert derive_slug(outcome.pack.title) == outcome.pack.slug
        assert len(outcome.pack.prompts) <= EXAMPLE.count(b"- key:")


def test_hostile_strings_are_reported_not_crashed(tmp_path: Path) -> None:
    base = EXAMPLE.decode()
    cases = {
        "control.yaml": base.replace("studio portrait of", "studio \\x07 portrait of", 1),  # a YAML escape
        "rtl.yaml": base.replace("studio portrait of", "studio \u202eportrait of", 1),
        "huge-text.yaml": base.replace("studio portrait of", "studio " + "word " * 20_000 + "portrait of", 1),
        "deep.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "bomb.yaml": "a: &a [x,x,x,x,x,x,x,x,x]\n"
        + "".join(f"a{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 9)}]\n" for i in range(9)),
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = run_packsync("validate", *(str(tmp_path / n) for n in cases))
    assert done.code == 1
    assert "Traceback" not in done.err and "internal error" not in done.err
    for rule in ("text-control-character", "text-bidi-character", "schema-string", "yaml-depth", "yaml-alias-limit"):
        assert rule in done.out, rule


@pytest.mark.parametrize("command", ["validate", "fmt", "plan"])
def test_outside_values_in_paths_and_numbers_are_one_line_each(tmp_path: Path, command: str) -> None:
    """Integers past 4,300 digits, a symbolic link loop and a FIFO: each one message, no hang."""
    import os

    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "big.yaml").write_text(f"slug: big\ntitle: Big\nid: {'9' * 5000}\n")
    (tmp_path / "packs" / "hex.yaml").write_text(f"slug: hex\ntitle: Hex\nid: 0x{'f' * 5000}\n")
    loop_a, loop_b = tmp_path / "loop-a.yaml", tmp_path / "loop-b.yaml"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    (tmp_path / "packsync.yaml").write_text("targets:\n  t: {url: sandbox}\n")
    paths = [] if command == "plan" else ["packs/big.yaml", "packs/hex.yaml", "loop-a.yaml", "fifo.yaml"]
    args = [command, *(["--check"] if command == "fmt" else []), *paths]
    done = run_packsync(*args, cwd=tmp_path, env={"ASTRIA_API_KEY": ""})
    assert done.code == 1, done.out + done.err
    output = done.out + done.err
    assert "Traceback" not in output and "internal error" not in output
    if command == "validate":
        assert "packs/big.yaml:3:5: yaml-number an integer of 5,000 digits is too large" in done.out
        assert "packs/hex.yaml:3:5: yaml-number" in done.out
        assert "loop-a.yaml: file-unreadable" in done.out
        assert "fifo.yaml: file-unreadable is not a regular file" in done.out
