"""``packsync validate``: check files and report every problem found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packsync.commands.base import Streams
from packsync.desired.check import PackChecker
from packsync.errors import ExitCode, PacksyncError
from packsync.packfiles.diagnostics import Diagnostic
from packsync.packfiles.project import PROJECT_FILE, display_path, find_pack_files, load_project
from packsync.packfiles.reporters import REPORTERS


class NothingToValidate(PacksyncError):
    """No pack file where validate was pointed."""


@dataclass(frozen=True)
class ValidateOptions:
    paths: Sequence[Path] = ()  # files or directories; none: the project's packs directory
    project_dir: Path = Path(".")
    output_format: str = "text"
    strict: bool = False  # warnings fail too


def run_validate(options: ValidateOptions, io: Streams) -> ExitCode:
    """Validate the files and report every problem found."""
    project = load_project(options.project_dir)
    paths = list(options.paths)
    if not paths:
        if not project.packs_dir.is_dir():
            missing = display_path(project.packs_dir)
            raise NothingToValidate(f"no packs directory at {missing}; create it or name the files to check")
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
        raise NothingToValidate(f"no pack files (*.yaml, *.yml) found in {shown}")
    result = PackChecker().check_files((f, display_path(f)) for f in files)
    project_diagnostics = [d for checked_project in projects.values() for d in checked_project.diagnostics]
    diagnostics: list[Diagnostic] = sorted([*project_diagnostics, *result.diagnostics], key=Diagnostic.sort_key)
    checked = result.files + len(projects)
    REPORTERS[options.output_format](diagnostics, checked, io.out, io.err)
    failed = any(d.is_error for d in diagnostics) or (options.strict and bool(diagnostics))
    return ExitCode.ERROR if failed else ExitCode.OK
