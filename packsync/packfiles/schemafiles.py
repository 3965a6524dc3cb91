"""The schemas a user's repository keeps: ``packsync schema`` prints or writes them, ``import`` adds them.

Contract: a pack file points editors at its schema with a path relative to the
file, into the project's own ``schemas/`` directory (``../schemas/pack.schema.json``
from ``packs/``) — never into packsync's install location, which differs on every
machine and moves on every reinstall. The repository then works the same in every
clone and in CI, offline. The files written are byte for byte the schemas this
packsync ships (``schema.schema_dir()``); ``import`` adds the ones that are missing
and never replaces one that differs, ``packsync schema --write`` brings them up to date.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from packsync.packfiles.project import Project
from packsync.packfiles.safe_write import atomic_write
from packsync.packfiles.schema import PACK_SCHEMA, PROJECT_SCHEMA, schema_dir

PROJECT_SCHEMA_DIR = "schemas"  # inside the project root, beside packsync.yaml
# --kind: the schema of a pack file, and of packsync.yaml
SCHEMA_FILES: dict[str, str] = {"pack": PACK_SCHEMA, "project": PROJECT_SCHEMA}


def shipped_text(name: str) -> str:
    """The text of one of the schemas this packsync ships."""
    return (schema_dir() / name).read_text(encoding="utf-8")


def project_schema_dir(project: Project) -> Path:
    return project.root / PROJECT_SCHEMA_DIR


def schema_header(pack_file: Path, project: Project) -> str:
    """The editor line of a pack file at ``pack_file``: the project's pack schema, relative to the file."""
    schema = project_schema_dir(project).resolve() / PACK_SCHEMA
    relative = os.path.relpath(schema, pack_file.parent.resolve())
    return f"# yaml-language-server: $schema={PurePath(relative).as_posix()}"


@dataclass(frozen=True)
class SchemaFile:
    """One schema file of a project and what writing it did: written, updated, unchanged or differs (kept)."""

    path: Path
    status: str


def write_schemas(directory: Path, names: Sequence[str], *, replace: bool) -> list[SchemaFile]:
    """Write the shipped schemas ``names`` into ``directory``; one that differs is replaced only with ``replace``.

    Raises OSError when the directory or a file cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    done: list[SchemaFile] = []
    for name in names:
        path = directory / name
        text = shipped_text(name)
        if path.is_file():
            if path.read_text(encoding="utf-8", errors="replace") == text:
                done.append(SchemaFile(path, "unchanged"))
                continue
            if not replace:
                done.append(SchemaFile(path, "differs"))
                continue
            atomic_write(path, text)
            done.append(SchemaFile(path, "updated"))
            continue
        atomic_write(path, text)
        done.append(SchemaFile(path, "written"))
    return done
