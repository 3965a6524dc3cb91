"""Must-pass and must-fail files, through the real command line.

Each must-fail file names every diagnostic it must produce in header lines
``# expect: RULE-ID LINE``; the test compares the exact set.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from packsync.packfiles.loader import MAX_FILE_BYTES
from packsync.packfiles.rules import RULES
from tests.conftest import FIXTURES, run_packsync

VALID = sorted((FIXTURES / "valid").glob("*.y*ml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.y*ml"))
PAIRS = sorted(p for p in (FIXTURES / "invalid-pair").iterdir() if p.is_dir())
EXPECT = re.compile(rb"^# expect: ([a-z0-9-]+) (\d+)\s*$", re.MULTILINE)


def expected(path: Path) -> set[tuple[str, int]]:
    return {(m.group(1).decode(), int(m.group(2))) for m in EXPECT.finditer(path.read_bytes())}


def reported(*paths: Path) -> tuple[int, set[tuple[str, int]], dict[str, object]]:
    done = run_packsync("validate", "--format", "json", *map(str, paths))
    document = json.loads(done.out)
    found = {(d["rule"], d["line"]) for d in document["diagnostics"]}
    assert "Traceback" not in done.err
    return done.code, found, document


def test_there_are_enough_fixtures() -> None:
    assert len(VALID) >= 5
    assert len(INVALID) >= 40


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_must_pass(path: Path) -> None:
    code, found, _ = reported(path)
    assert found == set()
    assert code == 0


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_must_fail_with_exactly_the_stated_rules_and_lines(path: Path) -> None:
    wanted = expected(path)
    assert wanted, f"{path.name} has no '# expect: RULE LINE' header"
    assert {rule for rule, _ in wanted} <= set(RULES)
    code, found, document = reported(path)
    assert found == wanted
    errors = document["errors"]
    assert code == (1 if errors else 0)


@pytest.mark.parametrize("folder", PAIRS, ids=lambda p: p.name)
def test_rules_across_files(folder: Path) -> None:
    files = sorted(folder.glob("*.y*ml"))
    wanted = {(rule, line) for f in files for rule, line in expected(f)}
    code, found, _ = reported(*files)
    assert found == wanted
    assert code == 1


def test_every_single_file_rule_has_a_must_fail_file() -> None:
    covered = {rule for path in INVALID for rule, _ in expected(path)}
    covered |= {rule for folder in PAIRS for f in folder.glob("*.y*ml") for rule, _ in expected(f)}
    # these need something a fixture file cannot be: tested in test_validate_cli and
    # tests/unit/test_check.py (schema-invalid only appears if the two checkers disagree)
    elsewhere = {"file-unreadable", "file-too-large", "target-unknown", "packs-dir-missing", "schema-invalid"}
    assert set(RULES) - elsewhere <= covered, sorted(set(RULES) - elsewhere - covered)


def test_a_file_over_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"slug: x\n# " + b"x" * MAX_FILE_BYTES + b"\n")
    code, found, _ = reported(big)
    assert found == {("file-too-large", 0)}
    assert code == 1


def test_all_invalid_files_at_once_report_every_problem() -> None:
    code, _, document = reported(*INVALID)
    assert code == 1
    per_file = {(d["file"], d["rule"], d["line"]) for d in document["diagnostics"]}  # type: ignore[union-attr]
    for path in INVALID:
        for rule, line in expected(path):
            assert any(f.endswith(path.name) and r == rule and ln == line for f, r, ln in per_file), (path.name, rule)
