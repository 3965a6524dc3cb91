"""The stages of plan and apply, each one function: files -> desired state; account -> live state; both -> plan."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packsync.check import PackChecker
from packsync.client import AstriaClient, NotFound
from packsync.desired import DesiredPack, desired_state
from packsync.diagnostics import Diagnostic
from packsync.diff import LiveState, diff
from packsync.model import Pack
from packsync.plan import Plan
from packsync.project import Project, display_path, find_pack_files, load_project
from packsync.target import ResolvedTarget


class PlanError(Exception):
    """A plan cannot be made (for a reason that is not a network error)."""


@dataclass
class Workspace:
    """The project, its valid packs, and what is wrong with its files."""

    project: Project
    packs: list[Pack] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def load_workspace(project_dir: Path) -> Workspace:
    """Load and check every pack file of the project (nothing is sent when any is invalid)."""
    project = load_project(project_dir)
    workspace = Workspace(project, diagnostics=list(project.diagnostics))
    if not project.packs_dir.is_dir():
        raise PlanError(f"no packs directory at {display_path(project.packs_dir)}")
    files = list(find_pack_files([project.packs_dir]))
    result = PackChecker().check_files((f, display_path(f)) for f in files)
    workspace.packs = result.packs
    workspace.diagnostics += result.diagnostics
    return workspace


def select_packs(packs: Sequence[Pack], slugs: Sequence[str]) -> list[Pack]:
    if not slugs:
        return list(packs)
    known = {p.slug for p in packs}
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise PlanError(f"no pack file declares {', '.join(repr(s) for s in unknown)} (--pack)")
    return [p for p in packs if p.slug in slugs]


async def read_live(
    client: AstriaClient, desired: Sequence[DesiredPack]
) -> tuple[dict[str, LiveState], list[dict[str, Any]]]:
    """Every declared pack's live state (read concurrently) and the summaries of undeclared packs.

    Templates of a pack are read as soon as the pack turns up in the pack list.
    """
    by_id = {d.pack.id: d for d in desired if d.pack.id is not None}
    by_slug = {d.slug: d for d in desired if d.pack.id is None}
    reads: dict[str, asyncio.Task[LiveState]] = {}
    undeclared: list[dict[str, Any]] = []

    async def read(summary: dict[str, Any], want: DesiredPack) -> LiveState:
        pack_id = int(summary["id"])
        needs_detail = want.pack.subtitle is not None or want.pack.model.preset is not None
        templates_task = client.pack_templates(pack_id)
        if needs_detail:
            templates, detail = await asyncio.gather(templates_task, client.get_pack(pack_id))
        else:
            templates, detail = await templates_task, None
        return LiveState(summary, templates, detail)

    try:
        async for summary in client.iter_packs():
            want = by_id.get(int(summary["id"])) or by_slug.get(str(summary.get("slug")))
            if want is None or want.slug in reads:
                undeclared.append(summary)
                continue
            reads[want.slug] = asyncio.ensure_future(read(summary, want))
        for want in desired:
            if want.slug in reads or want.pack.id is None:
                continue
            # A pinned pack the list did not show (e.g. another workspace): ask for it directly.
            try:
                summary = await client.get_pack(want.pack.id)
            except NotFound:
                raise PlanError(
                    f"{want.pack.path}: pack {want.slug} pins id {want.pack.id}, which the target account does not "
                    "have; remove the id to create the pack anew"
                ) from None
            reads[want.slug] = asyncio.ensure_future(read(summary, want))
        states = dict(zip(reads, await asyncio.gather(*reads.values()), strict=True))
    except BaseException:
        for task in reads.values():
            task.cancel()
        await asyncio.gather(*reads.values(), return_exceptions=True)
        raise
    for want in desired:
        states.setdefault(want.slug, LiveState(None))
    return states, undeclared


async def make_plan(client: AstriaClient, workspace: Workspace, target: ResolvedTarget, packs: Sequence[Pack]) -> Plan:
    desired = desired_state(packs, target.tune_ids)
    live, undeclared = await read_live(client, desired)
    return diff(desired, live, target.name, workspace.project.policy, undeclared)
