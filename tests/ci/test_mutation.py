"""mutation/mutate.py: how the mutation task names, counts and reports mutants."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutate_under_test", ROOT / "mutation" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


mutate = load()

DIFF_A = "--- f\n+++ f\n@@ -1,2 +1,2 @@\n def f():\n-    return a < b\n+    return a <= b\n"
DIFF_B = "--- f\n+++ f\n@@ -3,2 +3,2 @@\n     x = 1\n-    y = 'k'\n+    y = 'XXkXX'\n"


def test_the_core_modules_come_from_the_mutmut_configuration() -> None:
    assert mutate.core_modules() == [
        "packfiles.fastschema",
        "desired.check",
        "desired.expand",
        "desired.identity",
        "desired.state",
        "plan.diff",
        "slug",
    ]
    assert mutate.source_of("plan.diff") == "packsync/plan/diff.py"


def test_modules_are_named_in_full_or_by_their_last_part() -> None:
    modules = mutate.core_modules()
    assert mutate.chosen_modules(["diff", "desired.check", "slug"], modules) == (
        ["desired.check", "plan.diff", "slug"],
        [],
    )
    assert mutate.chosen_modules(["nope", "state"], modules) == (["desired.state"], ["nope"])


def test_function_names_of_mutants() -> None:
    assert mutate.function_of("packsync.diff.x__pair__mutmut_3") == "_pair"
    assert mutate.function_of("packsync.slug.x_derive_slug__mutmut_12") == "derive_slug"
    assert mutate.function_of("packsync.schemacheck.xǁCompilerǁ_compile__mutmut_7") == "Compiler._compile"


def test_ids_follow_the_change_not_mutmuts_numbers() -> None:
    ids = mutate.mutant_ids("diff", {"packsync.diff.x_f__mutmut_1": DIFF_A, "packsync.diff.x_f__mutmut_2": DIFF_B})
    renumbered = mutate.mutant_ids(
        "diff", {"packsync.diff.x_f__mutmut_7": DIFF_A, "packsync.diff.x_f__mutmut_3": DIFF_B}
    )
    assert ids["packsync.diff.x_f__mutmut_1"] == renumbered["packsync.diff.x_f__mutmut_7"]
    assert ids["packsync.diff.x_f__mutmut_2"] == renumbered["packsync.diff.x_f__mutmut_3"]
    assert ids["packsync.diff.x_f__mutmut_1"].startswith("diff:f:") and len(set(ids.values())) == 2
    # indentation and the hunk's place do not matter; the same change twice is told apart
    moved = DIFF_A.replace("@@ -1,2 +1,2 @@", "@@ -9,2 +9,2 @@").replace("    return", "        return")
    twice = mutate.mutant_ids("diff", {"packsync.diff.x_f__mutmut_2": moved, "packsync.diff.x_f__mutmut_10": DIFF_A})
    assert twice["packsync.diff.x_f__mutmut_2"] == ids["packsync.diff.x_f__mutmut_1"]
    assert twice["packsync.diff.x_f__mutmut_10"] == ids["packsync.diff.x_f__mutmut_1"] + ".2"


def test_a_module_is_scored_without_its_equivalent_mutants() -> None:
    names = [f"packsync.diff.x_f__mutmut_{i}" for i in range(1, 8)]
    diffs = {name: DIFF_A.replace("<=", f"<= {i}") for i, name in enumerate(names)}
    ids = mutate.mutant_ids("diff", diffs)
    statuses = dict(
        zip(names, ["killed", "killed", "killed", "timeout", "survived", "no tests", "survived"], strict=True)
    )
    equivalent = {ids[names[6]]: "reason"}
    score, survivors, problems = mutate.score_module("diff", statuses, diffs, equivalent)
    assert (score.total, score.killed, score.timeout, score.survived, score.equivalent) == (7, 3, 1, 2, 1)
    assert score.score == pytest.approx(4 / 6)
    assert [s.name for s in survivors] == [names[4], names[5]]
    assert problems == []
    # an equivalent mutant that a test kills is a stale entry
    _, _, problems = mutate.score_module("diff", statuses, diffs, {ids[names[0]]: "reason"})
    assert problems == [f"{ids[names[0]]} is listed as equivalent but was killed: remove it from equivalent.txt"]
    # a mutant left untested makes the run incomplete
    _, _, problems = mutate.score_module("diff", {**statuses, names[0]: "not checked"}, diffs, {})
    assert problems and "not tested to the end" in problems[0]


def test_equivalent_entries_need_a_reason_and_must_name_a_mutant(tmp_path: Path) -> None:
    listed = tmp_path / "equivalent.txt"
    listed.write_text("# comment\n\ndiff:f:0123abcd None is false, as False is\nslug:g:89abcdef another\n")
    assert mutate.read_equivalent(listed) == {
        "diff:f:0123abcd": "None is false, as False is",
        "slug:g:89abcdef": "another",
    }
    listed.write_text("diff:f:0123abcd\n")
    with pytest.raises(SystemExit, match="has no reason"):
        mutate.read_equivalent(listed)
    listed.write_text("diff:f:0123abcd a\ndiff:f:0123abcd b\n")
    with pytest.raises(SystemExit, match="listed twice"):
        mutate.read_equivalent(listed)
    stale = mutate.stale_entries(["diff:f:0123abcd", "slug:g:89abcdef"], ["diff"], known={"diff:f:ffffffff"})
    assert stale == [
        "diff:f:0123abcd is listed as equivalent but is no mutant of the code: remove it from equivalent.txt"
    ]


def test_the_reviewed_equivalent_list_is_short_and_every_entry_has_a_reason() -> None:
    listed = mutate.read_equivalent()
    assert 0 < len(listed) <= 30
    modules = set(mutate.core_modules())
    for mutant, reason in listed.items():
        assert mutant.partition(":")[0] in modules, mutant
        assert len(reason) >= 10, mutant


def test_the_report_is_a_table_and_the_survivors_a_file(tmp_path: Path) -> None:
    score = mutate.ModuleScore("diff", total=10, killed=8, timeout=1, survived=1, equivalent=0)
    assert mutate.table([score]).splitlines()[-1] == "| `diff.py` | 10 | 8 | 1 | 1 | 0 | 90% |"
    out = tmp_path / "survivors.txt"
    count = mutate.write_survivors(
        out, [mutate.Survivor("diff:f:0123abcd", "packsync.diff.x_f__mutmut_1", "survived", DIFF_A)]
    )
    assert count == 1
    assert (
        "diff:f:0123abcd  (packsync.diff.x_f__mutmut_1, survived)\n    -return a < b\n    +return a <= b\n"
        in out.read_text()
    )


def test_the_task_is_wired_into_tasks_py() -> None:
    text = (ROOT / "tasks.py").read_text()
    assert '"mutate": mutate' in text and '"mutation/mutate.py"' in text
    assert "mutants/" in (ROOT / ".gitignore").read_text().splitlines()
