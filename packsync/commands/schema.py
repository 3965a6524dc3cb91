"""``packsync schema``: print the JSON Schema of pack files, or write the schemas into the repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packsync.commands.base import Streams
from packsync.errors import ExitCode, PacksyncError
from packsync.packfiles.project import display_path, load_project
from packsync.packfiles.schemafiles import SCHEMA_FILES, project_schema_dir, shipped_text, write_schemas


class SchemaNotWritten(PacksyncError):
    """The schemas cannot be written where they were asked for."""


@dataclass(frozen=True)
class SchemaOptions:
    kind: str | None = None  # "pack" or "project"; None: the pack schema when printing, both when writing
    write_dir: str | None = None  # None: print; "": the project's schemas/ directory
    project_dir: Path = Path(".")


def run_schema(options: SchemaOptions, io: Streams) -> ExitCode:
    """Print one schema, or write them (up to date) into a directory."""
    kind = options.kind
    if options.write_dir is None:
        io.out.write(shipped_text(SCHEMA_FILES[kind or "pack"]))
        return ExitCode.OK
    directory = Path(options.write_dir) if options.write_dir else project_schema_dir(load_project(options.project_dir))
    names = [SCHEMA_FILES[kind]] if kind else list(SCHEMA_FILES.values())
    if directory.exists() and not directory.is_dir():
        raise SchemaNotWritten(f"{display_path(directory)} is not a directory (schema --write DIR)")
    try:
        written = write_schemas(directory, names, replace=True)
    except OSError as exc:
        raise SchemaNotWritten(
            f"cannot write the schemas into {display_path(directory)}: {exc.strerror or exc}"
        ) from None
    for file in written:
        shown = display_path(file.path)
        io.out.write(f"{shown} is up to date\n" if file.status == "unchanged" else f"{file.status} {shown}\n")
    return ExitCode.OK
