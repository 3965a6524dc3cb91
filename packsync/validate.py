"""``packsync validate``: check files and report every problem found."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from packsync.check import PackChecker
from packsync.diagnostics import Diagnostic
from packsync.project import PROJECT_FILE, display_path, find_pack_files, load_project
from packsync.report import REPORTERS


def run_validate(
    paths: Sequence[Path], project_dir: Path, output_format: str, strict: bool, out: TextIO, err: TextIO
) -> int:
    """Validate ``paths`` (default: the project's packs directory); return the exit code."""
    project = load_project(project_dir)
    if not paths:
        if not project.packs_dir.is_dir():
            err.write(
                f"packsync: error: no packs directory at {display_path(project.packs_dir)}; "
                "create it or name the files to check\n"
            )
            return 1
        paths = [project.packs_dir]
    # packsync.yaml is checked as the project file, never as a pack.
    files = [p for p in find_pack_files(paths) if p.name != PROJECT_FILE]
    if not files and not project.diagnostics:
        shown = ", ".join(display_path(p) for p in paths)
        err.write(f"packsync: error: no pack files (*.yaml, *.yml) found in {shown}\n")
        return 1
    result = PackChecker().check_files((f, display_path(f)) for f in files)
    diagnostics: list[Diagnostic] = sorted([*project.diagnostics, *result.diagnostics], key=Diagnostic.sort_key)
    checked = result.files + (1 if project.file is not None else 0)
    REPORTERS[output_format](diagnostics, checked, out, err)
    failed = any(d.is_error for d in diagnostics) or (strict and bool(diagnostics))
    return 1 if failed else 0
