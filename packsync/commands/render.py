"""``packsync render``: the exact templates a pack would send."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from packsync.commands.base import Streams
from packsync.desired.check import PackChecker
from packsync.desired.expand import Template, expand_pack, expand_text
from packsync.errors import ExitCode, PacksyncError
from packsync.packfiles.pack import Pack
from packsync.packfiles.project import display_path, find_pack_files, load_project
from packsync.packfiles.reporters import report_text
from packsync.term import Style, color_enabled


class RenderError(PacksyncError):
    """The pack, class, prompt or characteristic asked for is not there."""


@dataclass(frozen=True)
class RenderOptions:
    pack: str  # a slug or a file path
    class_name: str | None = None
    assignments: Sequence[str] = ()  # NAME=VALUE
    keys: Sequence[str] = ()  # prompt keys; empty: all
    output_format: str = "text"
    project_dir: Path = Path(".")


def run_render(options: RenderOptions, io: Streams) -> ExitCode:
    """Print the templates of one pack."""
    pack_ref, class_name = options.pack, options.class_name
    checker = PackChecker()
    candidate = Path(pack_ref)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        files = [candidate]
    else:
        project = load_project(options.project_dir)
        if not project.packs_dir.is_dir():
            raise RenderError(f"no packs directory at {display_path(project.packs_dir)}")
        files = list(find_pack_files([project.packs_dir]))
    pack, problems = _find(checker, files, pack_ref)
    if pack is None:
        if problems:
            report_text(problems, len(files), io.err, io.err)
            return ExitCode.ERROR
        where = ", ".join(sorted({display_path(f.parent) for f in files})) or "the project"
        raise RenderError(f'no pack with slug "{pack_ref}" in {where}')
    if class_name is not None and class_name not in {c.name for c in pack.classes}:
        known = ", ".join(c.name for c in pack.classes)
        raise RenderError(f'pack "{pack.slug}" has no class "{class_name}" (classes: {known})')
    values: dict[str, str] = {}
    declared = {c.name for c in pack.characteristics}
    for assignment in options.assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise RenderError(f"--set needs NAME=VALUE, got {assignment!r}")
        if name not in declared:
            shown = ", ".join(sorted(declared)) or "none"
            raise RenderError(f'"{name}" is not a characteristic of pack "{pack.slug}" (declared: {shown})')
        values[name] = value
    unknown = [k for k in options.keys if k not in {p.key for p in pack.prompts}]
    if unknown:
        raise RenderError(f'pack "{pack.slug}" has no prompt with key "{unknown[0]}"')
    templates = expand_pack(pack, class_name=class_name)
    if options.keys:
        templates = [t for t in templates if t.key in options.keys]
    if options.output_format == "json":
        io.out.write(json.dumps(_as_json(pack, templates, values), indent=2, ensure_ascii=False) + "\n")
    else:
        _as_text(pack, templates, values, io.out)
    return ExitCode.OK


def _find(checker: PackChecker, files: list[Path], ref: str) -> tuple[Pack | None, list[Any]]:
    """The pack named by ``ref`` (a file or a slug) and, when it is invalid, why."""
    by_file = len(files) == 1 and (files[0].suffix in (".yaml", ".yml") or files[0].is_file())
    for path in files:
        loaded_pack, problems = _check_one(checker, path)
        if by_file:
            return loaded_pack, problems
        if loaded_pack is not None and loaded_pack.slug == ref:
            return loaded_pack, []
        if loaded_pack is None and _declares_slug(path, ref):
            return None, problems
    return None, []


def _check_one(checker: PackChecker, path: Path) -> tuple[Pack | None, list[Any]]:
    result = checker.check_files([(path, display_path(path))])
    errors = result.errors
    if errors or not result.packs:
        return None, errors or result.diagnostics
    return result.packs[0], []


def _declares_slug(path: Path, slug: str) -> bool:
    from packsync.packfiles.loader import load_file

    loaded = load_file(path, display_path(path))
    return loaded.document is not None and loaded.document.data.get("slug") == slug


def _endpoint(template: Template) -> str:
    return f"POST /tunes/{template.tune_id}/prompts"


def _as_json(pack: Pack, templates: list[Template], values: dict[str, str]) -> dict[str, Any]:
    rows = []
    for t in templates:
        body = {"prompt": t.body(pack.id)}
        if values:
            body["prompt"]["text"] = _fill(t.text, values)
        rows.append(
            {
                "class": t.class_name,
                "key": t.key,
                "source": str(t.location),
                "request": {"method": "POST", "path": f"/tunes/{t.tune_id}/prompts", "body": body},
            }
        )
    return {"pack": pack.slug, "id": pack.id, "file": pack.path, "characteristics": values, "templates": rows}


def _fill(text: str, values: dict[str, str]) -> str:
    """Fill characteristics the way Astria does at run time (preview only)."""
    return expand_text(text, "{{subject}}", values)


def _as_text(pack: Pack, templates: list[Template], values: dict[str, str], out: TextIO) -> None:
    style = Style(color_enabled(out))
    pinned = f"id {pack.id}" if pack.id is not None else "not pinned"
    out.write(f"{style(pack.slug, 'bold')}  {pack.title}  ({pack.path}, {pinned})\n")
    if values:
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        out.write(style(f"characteristics filled for preview: {shown} (Astria fills them at run time)\n", "dim"))
    current = None
    for t in templates:
        if t.class_name != current:
            current = t.class_name
            count = sum(1 for x in templates if x.class_name == current)
            out.write(f"\nclass {style(current, 'cyan')}: {count} template(s) -> {_endpoint(t)}\n")
        text = _fill(t.text, values) if values else t.text
        out.write(f"  {style(t.key, 'bold')}  {style(str(t.location), 'dim')}\n")
        out.write(f"    text: {text}\n")
        for name, value in t.params:
            out.write(f"    {name}: {json.dumps(value, ensure_ascii=False)}\n")
    out.write(f"\n{len(templates)} template(s)\n")
