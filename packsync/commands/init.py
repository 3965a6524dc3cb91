"""``packsync init [DIR]``: a working repository of pack files in one command.

It writes what :mod:`packsync.packfiles.scaffold` holds, and the schemas where the files'
``$schema`` headers find them (``schemas/``, as ``packsync schema --write`` does). A file that
is there already is kept (``--force`` replaces it); ``.gitignore`` only gets the lines it
lacks. Right after it, ``validate``, ``plan`` and ``apply`` work against the embedded sandbox.
``--from-account`` makes the production target the default and imports the account's packs
instead of writing the example.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from packsync.commands.base import Streams
from packsync.errors import ExitCode, PacksyncError
from packsync.facts import DEFAULT_URL
from packsync.packfiles.project import display_path, load_project
from packsync.packfiles.safe_write import atomic_write
from packsync.packfiles.scaffold import (
    DEFAULT_SOURCE,
    EXAMPLE_SLUG,
    example_pack,
    gitignore_lines,
    precommit_config,
    project_file,
    workflow,
)
from packsync.packfiles.schemafiles import PROJECT_SCHEMA_DIR, SCHEMA_FILES, schema_header, write_schemas


class InitError(PacksyncError):
    """The directory cannot be made into a repository of pack files (not a directory, not writable)."""


@dataclass(frozen=True)
class InitOptions:
    directory: Path = Path(".")
    force: bool = False  # replace the files that are there
    from_account: bool = False  # import the account's packs instead of writing the example
    url: str = DEFAULT_URL
    key_env: str = "ASTRIA_API_KEY"
    source: str = DEFAULT_SOURCE  # OWNER/NAME of packsync's repository, for the workflow and the hooks


def _files(options: InitOptions) -> list[tuple[str, str]]:
    return [
        ("packsync.yaml", project_file(options.from_account, options.url, options.key_env)),
        (".pre-commit-config.yaml", precommit_config(options.source)),
        (".github/workflows/packsync.yml", workflow(options.source)),
    ]


def _example(root: Path) -> tuple[str, str]:
    """The example pack, in the project's packs directory (a kept packsync.yaml may name another)."""
    project = load_project(root)
    path = project.packs_dir / f"{EXAMPLE_SLUG}.yaml"
    return os.path.relpath(path, root), example_pack(schema_header(path, project))


def _write(root: Path, name: str, text: str, force: bool, io: Streams) -> None:
    path = root / name
    shown = display_path(path)
    if path.parent.is_symlink() or (path.is_symlink() and force):
        raise InitError(f"{shown}: a symbolic link is in the way; init writes plain files only")
    if (path.exists() or path.is_symlink()) and not force:
        io.out.write(f"kept {shown} (it exists; --force replaces it)\n")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    except OSError as exc:
        raise InitError(f"cannot write {shown}: {exc.strerror or exc}") from None
    io.out.write(f"wrote {shown}\n")


def _ignore(root: Path, io: Streams) -> None:
    path = root / ".gitignore"
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    missing = gitignore_lines(existing)
    if not missing:
        return
    joined = existing + ("" if not existing or existing.endswith("\n") else "\n") + "".join(f"{r}\n" for r in missing)
    try:
        atomic_write(path, joined)
    except OSError as exc:
        raise InitError(f"cannot write {display_path(path)}: {exc.strerror or exc}") from None
    io.out.write(f"{'added ' + ', '.join(missing) + ' to' if existing else 'wrote'} {display_path(path)}\n")


def run_init(options: InitOptions, io: Streams) -> ExitCode:
    root = options.directory
    if root.exists() and not root.is_dir():
        raise InitError(f"{display_path(root)} is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InitError(f"cannot make {display_path(root)}: {exc.strerror or exc}") from None
    files = _files(options)
    for name, text in files:
        _write(root, name, text, options.force, io)
    if not options.from_account:
        name, text = _example(root)
        _write(root, name, text, options.force, io)
    try:
        for schema in write_schemas(root / PROJECT_SCHEMA_DIR, list(SCHEMA_FILES.values()), replace=options.force):
            said = {"differs": "kept (it differs; --force replaces it)", "unchanged": "is up to date"}
            io.out.write(f"{display_path(schema.path)} {said.get(schema.status, '')}\n" if schema.status in said
                         else f"wrote {display_path(schema.path)}\n")  # fmt: skip
    except OSError as exc:
        raise InitError(f"cannot write the schemas: {exc.strerror or exc}") from None
    _ignore(root, io)
    if options.from_account:
        from packsync.commands.import_packs import ImportOptions, run_import

        code = run_import(ImportOptions(root, "production", all=True, force=options.force), io)
        if code != ExitCode.OK:
            return code
    where = "" if root.resolve() == Path.cwd().resolve() else f"cd {display_path(root)} && "
    io.err.write(f"packsync: next: {where}packsync validate && packsync plan && packsync apply\n")
    if options.source == DEFAULT_SOURCE:
        io.err.write(
            "packsync: note: the workflow calls OWNER/packsync: give --source OWNER/NAME, or edit "
            ".github/workflows/packsync.yml\n"
        )
    return ExitCode.OK
