"""``packsync validate``: check files and report every problem found."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from packsync.desired.check import PackChecker
from packsync.errors import ExitCode, fail
from packsync.packfiles.diagnostics import Diagnostic
from packsync.packfiles.project import PROJECT_FILE, display_path, find_pack_files, load_project
from packsync.packfiles.reporters import REPORTERS


def run_validate(
    paths: Sequence[Path], project_dir: Path, output_format: str, strict: bool, out: TextIO, err: TextIO
) -> int:
    """Validate ``paths`` (default: the project's packs directory); return the exit code."""
    project = load_project(project_dir)
    if not paths:
        if not project.packs_dir.is_dir():
            missing = display_path(project.packs_dir)
            return fail(err, f"no packs directory at {missing}; create it or name the files to check")
        paths = [project.packs_dir]
    # packsync.yaml is checked as a project file, never as a pack: the project's own, and any
    # other one named (a pre-commit hook passes just the changed files, maybe only this one).
    found = list(find_pack_files(paths))
    files = [p for p in found if p.name != PROJECT_FILE]
    projects = {project.file.resolve(): project} if project.file is not None else {}
    for named in (p for p in found if p.name == PROJECT_FILE and p.is_file()):
        if named.resolve() not in projects:
            projects[named.resolve()] = load_project(named.parent)
    if not files and not projects:
        shown = ", ".join(display_path(p) for p in paths)
        return fail(err, f"no pack files (*.yaml, *.yml) found in {shown}")
    result = PackChecker().check_files((f, display_path(f)) for f in files)
    project_diagnostics = [d for checked_project in projects.values() for d in checked_project.diagnostics]
    diagnostics: list[Diagnostic] = sorted([*project_diagnostics, *result.diagnostics], key=Diagnostic.sort_key)
    checked = result.files + len(projects)
    REPORTERS[output_format](diagnostics, checked, out, err)
    failed = any(d.is_error for d in diagnostics) or (strict and bool(diagnostics))
    return ExitCode.ERROR if failed else ExitCode.OK
