"""``packsync packs``: what the target account holds, next to what the files declare."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from packsync.astria.connect import open_client
from packsync.astria.live import LivePack, read_account
from packsync.astria.target import ResolvedTarget, resolve_target
from packsync.commands.base import Streams
from packsync.desired.check import PackChecker
from packsync.errors import ExitCode
from packsync.packfiles.pack import Pack
from packsync.packfiles.project import Project, display_path, find_pack_files, load_project
from packsync.term import Style, color_enabled, json_text, printable


@dataclass(frozen=True)
class PacksOptions:
    project_dir: Path = Path(".")
    target: str | None = None
    output_format: str = "text"


def run_packs(options: PacksOptions, io: Streams) -> ExitCode:
    """The account's packs, each with the file that declares it. Invalid files are no obstacle:
    this only reads, and the valid ones still name their packs."""
    project = load_project(options.project_dir)
    packs = declared_packs(project)
    target = resolve_target(project, options.target)
    live = asyncio.run(_read(project, target, packs))
    out = io.out
    by_id = {p.id: p for p in packs if p.id is not None}
    by_slug = {p.slug: p for p in packs}
    rows = []
    for pack in live:
        declared = by_id.get(pack.id) or by_slug.get(pack.slug)
        rows.append(
            {
                "id": pack.id,
                "slug": pack.slug,
                "title": pack.summary.get("title"),
                "templates": len(pack.templates),
                "file": declared.path if declared else None,
            }
        )
    if options.output_format == "json":
        out.write(json_text({"target": target.name, "packs": rows}) + "\n")
        return ExitCode.OK
    style = Style(color_enabled(out))
    out.write(f"target {style(target.name, 'bold')}: {len(rows)} pack(s)\n")
    if rows:
        width = max(len(printable(str(r["slug"]))) for r in rows)
        out.write(f"{'ID':>8}  {'SLUG':<{width}}  {'TEMPLATES':>9}  FILE\n")
        for r in rows:
            where = r["file"] or style("(not in the pack files: never touched)", "dim")
            out.write(f"{r['id']:>8}  {printable(str(r['slug'])):<{width}}  {r['templates']:>9}  {where}\n")
    return ExitCode.OK


def declared_packs(project: Project) -> list[Pack]:
    """The packs of the project's valid pack files (invalid ones are left out: reading needs none)."""
    if not project.packs_dir.is_dir():
        return []
    return PackChecker().check_files((f, display_path(f)) for f in find_pack_files([project.packs_dir])).packs


async def _read(project: Project, target: ResolvedTarget, packs: list[Pack]) -> list[LivePack]:
    async with open_client(project, target, packs) as client:
        return await read_account(client)
