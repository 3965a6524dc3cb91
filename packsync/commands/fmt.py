"""``packsync fmt``: rewrite pack files in the canonical layout, keeping their comments and meaning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packsync.commands.base import Streams
from packsync.errors import ExitCode, PacksyncError
from packsync.packfiles.loader import load_file, load_text
from packsync.packfiles.project import PROJECT_FILE, display_path, find_pack_files, load_project
from packsync.packfiles.reporters import report_text
from packsync.packfiles.safe_write import atomic_write
from packsync.packfiles.writer import write_pack
from packsync.packfiles.yaml_comments import extract_comments


@dataclass
class FormatResult:
    text: str | None  # the canonical text; None when the file cannot be formatted
    changed: bool
    error: str = ""


def format_text(text: str, name: str) -> FormatResult:
    """The canonical form of a pack file's text; refuses when it would change what the file means."""
    loaded = load_text(text, name)
    if loaded.document is None or any(d.is_error for d in loaded.diagnostics):
        return FormatResult(None, False, "not well-formed YAML (run packsync validate)")
    data = loaded.document.data
    formatted = write_pack(data, extract_comments(text))
    again = load_text(formatted, name).document
    if again is None or again.data != data:
        return FormatResult(None, False, "formatting would change the file's meaning; left as it is")
    return FormatResult(formatted, formatted != text)


class NothingToFormat(PacksyncError):
    """No pack file where fmt was pointed."""


@dataclass(frozen=True)
class FmtOptions:
    paths: Sequence[Path] = ()  # files or directories; none: the project's packs directory
    check: bool = False  # change nothing; fail when a file would change
    project_dir: Path = Path(".")


def run_fmt(options: FmtOptions, io: Streams) -> ExitCode:
    project = load_project(options.project_dir)
    check, out, err = options.check, io.out, io.err
    targets = list(options.paths) or [project.packs_dir]
    files = [p for p in find_pack_files(targets) if p.name != PROJECT_FILE]
    if not files:
        raise NothingToFormat(f"no pack files found in {', '.join(display_path(p) for p in targets)}")
    changed, failed = [], []
    for path in files:
        shown = display_path(path)
        if path.is_symlink():
            err.write(f"{shown}: is a symbolic link; fmt rewrites files in place and leaves links alone\n")
            failed.append(shown)
            continue
        loaded = load_file(path, shown)
        if loaded.document is None:
            report_text(loaded.diagnostics, 1, err, err)
            failed.append(shown)
            continue
        text = path.read_text(encoding="utf-8-sig")
        result = format_text(text, shown)
        if result.text is None:
            err.write(f"{shown}: {result.error}\n")
            failed.append(shown)
            continue
        if result.changed:
            changed.append(shown)
            if not check:
                atomic_write(path, result.text)
    for shown in changed:
        out.write(f"{'would reformat' if check else 'reformatted'} {shown}\n")
    if not changed and not failed:
        out.write(f"{len(files)} file(s) already formatted\n")
    if failed:
        return ExitCode.ERROR
    return ExitCode.ERROR if (check and changed) else ExitCode.OK
