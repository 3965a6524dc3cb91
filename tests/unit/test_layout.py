"""The package's shape keeps the data flow: no stage imports a later one, the shared modules at
the top import no stage, validate never reaches the network, and nothing grows past its size."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "packsync"
STAGES = ("packfiles", "desired", "astria", "plan", "apply", "feedback", "commands")
SHARED = ("errors", "facts", "slug", "term", "aio", "logs")  # small modules every stage may use
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(("packsync", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def imports(tree: ast.Module) -> set[str]:
    """Every packsync module imported anywhere in the module, function-level imports included."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("packsync"):
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name.startswith("packsync"))
    return out


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


MODULES = modules()


def test_every_module_is_in_a_stage_or_is_one_of_the_known_top_modules() -> None:
    top = {m.split(".")[1] for m in MODULES if m.count(".") == 1} - {*STAGES, "sandbox"}
    assert top == {*SHARED, "cli", "github", "__main__"}, top
    assert {m.split(".")[1] for m in MODULES if m.count(".") >= 1} == {*top, *STAGES, "sandbox"}


def test_no_stage_imports_a_later_one() -> None:
    backwards = [
        f"{name} imports {target}"
        for name, tree in MODULES.items()
        if (stage := stage_of(name)) is not None
        for target in imports(tree)
        if (later := stage_of(target)) is not None and STAGES.index(later) > STAGES.index(stage)
    ]
    assert backwards == []


def test_the_shared_modules_import_no_stage() -> None:
    reaching = [
        f"{name} imports {target}"
        for name, tree in MODULES.items()
        if name.split(".")[-1] in SHARED and name.count(".") == 1
        for target in imports(tree)
        if stage_of(target) is not None or target.startswith("packsync.sandbox")
    ]
    assert reaching == []


def test_the_sandbox_uses_no_stage_after_the_pack_files() -> None:
    reaching = [
        f"{name} imports {target}"
        for name, tree in MODULES.items()
        if name.startswith("packsync.sandbox")
        for target in imports(tree)
        if stage_of(target) not in (None, "packfiles")
    ]
    assert reaching == []


def test_validate_never_reaches_the_network_client() -> None:
    seen: set[str] = set()
    todo = ["packsync.commands.validate"]
    while todo:
        name = todo.pop()
        if name in seen or name not in MODULES:
            continue
        seen.add(name)
        todo.extend(imports(MODULES[name]))
    assert not [m for m in seen if m.startswith(("packsync.astria", "packsync.plan", "packsync.apply"))], seen


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_or_function_is_too_long(name: str) -> None:
    tree = MODULES[name]
    lines = max((getattr(node, "end_lineno", 0) or 0) for node in ast.walk(tree)) if tree.body else 0
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines"
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == [], f"{name}: {long}"


def test_format_choices_come_from_the_registries() -> None:
    from click.testing import CliRunner

    from packsync.cli import cli
    from packsync.feedback.stats_output import STATS_FORMATS
    from packsync.packfiles.reporters import REPORTERS
    from packsync.plan.formats import PLAN_FORMATS

    for command, registry in (("plan", PLAN_FORMATS), ("stats", STATS_FORMATS), ("validate", REPORTERS)):
        shown = CliRunner().invoke(cli, [command, "--help"]).output
        assert f"[{'|'.join(registry)}]" in shown, (command, shown)


def test_no_import_cycle_at_module_level() -> None:
    """What a module imports when it is loaded (function-level imports aside) forms no cycle."""
    graph: dict[str, set[str]] = {}
    for name, tree in MODULES.items():
        found: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("packsync"):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in MODULES and m != name}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, path)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []
