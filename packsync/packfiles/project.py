"""The project: ``packsync.yaml`` (optional) and where the pack files are."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packsync.facts import DEFAULT_URL
from packsync.packfiles.diagnostics import Diagnostic, make
from packsync.packfiles.loader import load_file
from packsync.packfiles.schema import PROJECT_SCHEMA, SchemaValidator

PROJECT_FILE = "packsync.yaml"
DEFAULT_PACKS_DIR = "packs"
DEFAULT_KEY_ENV = "ASTRIA_API_KEY"
PACK_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Target:
    name: str
    url: str = DEFAULT_URL
    key_env: str = DEFAULT_KEY_ENV
    workspace_id: str | None = None
    tune_ids: tuple[tuple[int, int], ...] = ()
    test_tune_ids: tuple[int, ...] = ()  # tunes for previews: stats never counts their runs


@dataclass(frozen=True)
class Policy:
    max_remove_share: float = 0.3
    max_remove_count: int | None = None
    max_images: int | None = None
    on_remove: str = "detach"


@dataclass
class Project:
    root: Path
    packs_dir: Path
    file: Path | None = None
    default_target: str | None = None
    targets: dict[str, Target] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def display_path(path: Path) -> str:
    """A path as shown to the user: relative to the current directory when it can be."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a symbolic link loop
        return str(path)


def load_project(root: Path) -> Project:
    """Read ``packsync.yaml`` in ``root`` when it exists; problems become diagnostics."""
    file = root / PROJECT_FILE
    project = Project(root=root, packs_dir=root / DEFAULT_PACKS_DIR)
    if not file.exists():
        return project
    project.file = file
    loaded = load_file(file, display_path(file))
    project.diagnostics.extend(loaded.diagnostics)
    if loaded.document is None or any(d.is_error for d in loaded.diagnostics):
        return project
    doc = loaded.document
    found = SchemaValidator(PROJECT_SCHEMA).check(doc)
    project.diagnostics.extend(found)
    if found:
        return project
    data: dict[str, Any] = doc.data
    project.packs_dir = root / data.get("packs_dir", DEFAULT_PACKS_DIR)
    for name, spec in (data.get("targets") or {}).items():
        workspace = spec.get("workspace_id")
        project.targets[name] = Target(
            name=name,
            url=spec.get("url", DEFAULT_URL),
            key_env=spec.get("key_env", DEFAULT_KEY_ENV),
            workspace_id=None if workspace is None else str(workspace),
            tune_ids=tuple(sorted((int(k), v) for k, v in (spec.get("tune_ids") or {}).items())),
            test_tune_ids=tuple(dict.fromkeys(int(t) for t in spec.get("test_tune_ids") or ())),
        )
    project.default_target = data.get("default_target")
    if project.default_target is not None and project.default_target not in project.targets:
        known = ", ".join(sorted(project.targets)) or "none"
        project.diagnostics.append(
            make(
                "target-unknown",
                doc.location(("default_target",)),
                f'default_target "{project.default_target}" is not defined under targets (defined: {known})',
            )
        )
    policy = data.get("policy") or {}
    project.policy = Policy(
        max_remove_share=float(policy.get("max_remove_share", 0.3)),
        max_remove_count=policy.get("max_remove_count"),
        max_images=policy.get("max_images"),
        on_remove=policy.get("on_remove", "detach"),
    )
    if "packs_dir" in data and not project.packs_dir.is_dir():
        project.diagnostics.append(
            make(
                "packs-dir-missing",
                doc.location(("packs_dir",)),
                f'packs_dir "{data["packs_dir"]}" is not a directory',
            )
        )
    return project


def find_pack_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Expand directories into their YAML files (sorted); keep files as given."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.suffix in PACK_SUFFIXES and p.is_file() and not _hidden(p, path)
            )
        else:
            yield path


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)
