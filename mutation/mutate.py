"""Mutation testing of packsync's pure core: python3 tasks.py mutate [MODULE ...] [--workers N].

mutmut changes the core modules one small edit at a time (a `<` for a `<=`, a string for
another, an argument dropped) and runs, for each change, the unit tests that call the
changed function. A change no test notices "survived": behaviour the tests leave loose.

The modules are those of ``[tool.mutmut] only_mutate`` in pyproject.toml, the tests those of
``pytest_add_cli_args_test_selection`` (the fast unit tests). Each module is run on its own,
one after the other, with at most ``--workers`` test processes at a time.

The report gives, per module, the mutants killed, survived, timed out and equivalent (listed
in mutation/equivalent.txt, each reviewed, with its reason) and the score: killed and timed
out over all mutants but the equivalent ones. Every surviving mutant that is not listed goes
to mutants/survivors.txt with its diff. Exit 1 when a module scores below the threshold, or
when the equivalent list names a mutant that no longer exists or was killed (stale entries
hide nothing: they must go).

A mutant's id is ``module:function:digest``: the digest is of the lines the mutation changes,
so it stays the same while the function's other lines change, unlike mutmut's own numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENT = ROOT / "mutation" / "equivalent.txt"
SURVIVORS = MUTANTS / "survivors.txt"
THRESHOLD = 0.85  # of the non-equivalent mutants of each module, killed or timed out

# mutmut's verdicts (its exit codes, as `mutmut results` names them) in the report's words.
KILLED = {"killed", "caught by type check"}
TIMEOUT = {"timeout"}
SURVIVED = {"survived", "no tests"}


def core_modules(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The modules mutated, by dotted name under packsync (``plan.diff``), from pyproject.toml's
    [tool.mutmut]."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["mutmut"]
    paths = [Path(pattern).relative_to("packsync").with_suffix("") for pattern in config["only_mutate"]]
    return [".".join(path.parts) for path in paths]


def source_of(module: str) -> str:
    """``plan.diff`` -> ``packsync/plan/diff.py``."""
    return "packsync/" + module.replace(".", "/") + ".py"


def chosen_modules(asked: Iterable[str], modules: list[str]) -> tuple[list[str], list[str]]:
    """The core modules asked for, by dotted name or by their last part (``diff``); and the
    names that are none of them."""
    chosen, unknown = [], []
    for name in asked:
        found = [m for m in modules if name in (m, m.rpartition(".")[2])]
        if len(found) == 1:
            chosen.append(found[0])
        else:
            unknown.append(name)
    return [m for m in modules if m in chosen], unknown


def function_of(mutant: str) -> str:
    """``packsync.diff.x__pair__mutmut_3`` -> ``_pair``; methods as ``Compiler._compile``."""
    mangled = mutant.partition("__mutmut_")[0].rpartition(".")[2]
    if "ǁ" in mangled:
        _, cls, name = mangled.split("ǁ")
        return f"{cls}.{name}"
    return mangled[2:] if mangled.startswith("x_") else mangled


def changed_lines(diff: str) -> list[str]:
    """The removed and added lines of a unified diff, without indentation."""
    return [
        line[0] + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def mutant_ids(module: str, diffs: Mapping[str, str]) -> dict[str, str]:
    """A stable id for each mutant (mutmut name -> id); see the module's docstring.

    Two mutants of one function that change the same text (the same literal on two lines,
    say) are told apart by their order in the function.
    """
    ids: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for name in sorted(diffs, key=_mutmut_order):
        lines = changed_lines(diffs[name])
        base = f"{module}:{function_of(name)}:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:8]
        seen[base] += 1
        ids[name] = base if seen[base] == 1 else f"{base}.{seen[base]}"
    return ids


def _mutmut_order(name: str) -> tuple[str, int]:
    prefix, _, number = name.rpartition("__mutmut_")
    return (prefix, int(number) if number.isdigit() else 0)


def read_equivalent(path: Path = EQUIVALENT) -> dict[str, str]:
    """The reviewed equivalent mutants: id -> the reason it cannot be killed."""
    found: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        mutant, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path.name}:{number}: {mutant} has no reason; every equivalent mutant needs one")
        if mutant in found:
            raise SystemExit(f"{path.name}:{number}: {mutant} is listed twice")
        found[mutant] = reason.strip()
    return found


@dataclass
class ModuleScore:
    module: str
    total: int = 0
    killed: int = 0
    timeout: int = 0
    survived: int = 0
    equivalent: int = 0
    not_run: int = 0

    @property
    def score(self) -> float:
        counted = self.total - self.equivalent
        return (self.killed + self.timeout) / counted if counted else 1.0


@dataclass(frozen=True)
class Survivor:
    id: str
    name: str
    status: str
    diff: str


def score_module(
    module: str, statuses: Mapping[str, str], diffs: Mapping[str, str], equivalent: Mapping[str, str]
) -> tuple[ModuleScore, list[Survivor], list[str]]:
    """One module's figures, its surviving mutants that are not equivalent, and the problems
    of the equivalent list (an entry killed after all)."""
    ids = mutant_ids(module, diffs)
    score = ModuleScore(module, total=len(statuses))
    survivors: list[Survivor] = []
    problems: list[str] = []
    for name in sorted(statuses, key=_mutmut_order):
        status, mutant = statuses[name], ids[name]
        if mutant in equivalent:
            if status in SURVIVED:
                score.equivalent += 1
                continue
            problems.append(f"{mutant} is listed as equivalent but was {status}: remove it from {EQUIVALENT.name}")
        if status in KILLED:
            score.killed += 1
        elif status in TIMEOUT:
            score.timeout += 1
        elif status in SURVIVED:
            score.survived += 1
            survivors.append(Survivor(mutant, name, status, diffs[name]))
        else:  # not checked, suspicious, segfault, interrupted: the run is incomplete
            score.not_run += 1
            problems.append(f"{mutant} ({name}) was not tested to the end: {status}")
    return score, survivors, problems


def stale_entries(equivalent: Iterable[str], modules: Iterable[str], known: set[str]) -> list[str]:
    """Equivalent entries of the modules run that name no mutant of this code."""
    run = set(modules)
    return [
        f"{mutant} is listed as equivalent but is no mutant of the code: remove it from {EQUIVALENT.name}"
        for mutant in equivalent
        if mutant.partition(":")[0] in run and mutant not in known
    ]


def table(scores: Iterable[ModuleScore]) -> str:
    rows = [
        "| module | mutants | killed | timed out | survived | equivalent | score |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in scores:
        name = source_of(s.module).removeprefix("packsync/")
        rows.append(
            f"| `{name}` | {s.total} | {s.killed} | {s.timeout} | {s.survived} | {s.equivalent} | {s.score:.0%} |"
        )
    return "\n".join(rows)


def write_survivors(path: Path, survivors: Iterable[Survivor]) -> int:
    lines = [
        "# Mutants no unit test kills, and that mutation/equivalent.txt does not list.",
        "# Each: a test that pins the behaviour, or (when no input can tell it apart) an entry",
        "# in mutation/equivalent.txt with its reason.",
        "",
    ]
    count = 0
    for survivor in survivors:
        count += 1
        lines.append(f"{survivor.id}  ({survivor.name}, {survivor.status})")
        lines.extend(f"    {line}" for line in changed_lines(survivor.diff))
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return count


# -- running mutmut ---------------------------------------------------------------


def mutmut(*args: str, log: Path | None = None) -> int:
    command = [str(Path(sys.executable).with_name("mutmut")), *args]
    if log is None:
        return subprocess.call(command, cwd=ROOT)
    with log.open("w", encoding="utf-8") as out:
        return subprocess.call(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def run_module(module: str, workers: int) -> None:
    log = MUTANTS / f"run-{module}.log"
    start = time.monotonic()
    print(f"mutating {source_of(module)} ...", flush=True)
    code = mutmut("run", "--max-children", str(workers), f"packsync.{module}.*", log=log)
    if code != 0:
        sys.stdout.write(log.read_text(encoding="utf-8", errors="replace")[-4000:])
        raise SystemExit(f"mutmut failed on {source_of(module)} (exit {code}); the whole log: {log}")
    print(f"  done in {time.monotonic() - start:.0f} s", flush=True)


def results(module: str) -> tuple[dict[str, str], dict[str, str]]:
    """mutmut's verdict and the diff of each mutant of one module (read from mutants/)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    path = source_of(module)
    meta = json.loads((MUTANTS / f"{path}.meta").read_text(encoding="utf-8"))
    statuses = {name: status_by_exit_code[code] for name, code in meta["exit_code_by_key"].items()}
    previous = Path.cwd()
    os.chdir(ROOT)  # mutmut reads its files relative to the project
    try:
        diffs = {name: get_diff_for_mutant(name, path=path) for name in statuses}
    finally:
        os.chdir(previous)
    return statuses, diffs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 tasks.py mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="core modules to mutate (default: all of them)")
    parser.add_argument("--workers", type=int, default=2, help="test processes at a time (default: 2)")
    parser.add_argument("--report-only", action="store_true", help="report on the last run; run nothing")
    args = parser.parse_args(argv)
    modules = core_modules()
    picked, unknown = chosen_modules(args.modules, modules)
    if unknown:
        parser.error(f"not a core module: {', '.join(unknown)} (core modules: {', '.join(modules)})")
    chosen = picked if args.modules else modules
    equivalent = read_equivalent()
    if not args.report_only:
        # From scratch, every time: no verdict is reused from code or tests that have changed since.
        shutil.rmtree(MUTANTS, ignore_errors=True)
        MUTANTS.mkdir()
        for module in chosen:
            run_module(module, max(1, args.workers))
    scores, survivors, problems, known = [], [], [], set()
    for module in chosen:
        statuses, diffs = results(module)
        score, left, trouble = score_module(module, statuses, diffs, equivalent)
        known |= set(mutant_ids(module, diffs).values())
        scores.append(score)
        survivors += left
        problems += trouble
    problems += stale_entries(equivalent, chosen, known)
    count = write_survivors(SURVIVORS, survivors)
    print()
    print(table(scores))
    print()
    print(f"{count} surviving mutant(s) not listed as equivalent, with their diffs: {SURVIVORS.relative_to(ROOT)}")
    low = [s for s in scores if s.score < THRESHOLD]
    for s in low:
        problems.append(f"{source_of(s.module)} scores {s.score:.0%}, below {THRESHOLD:.0%}")
    for problem in problems:
        print(f"mutate: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
