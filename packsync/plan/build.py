"""The stages of plan and apply, each one function: files -> desired state; account -> live state; both -> plan."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from packsync.aio import cancelled_on_failure, gather_all
from packsync.astria.client import AstriaClient
from packsync.astria.errors import NotFound
from packsync.astria.target import ResolvedTarget
from packsync.desired.check import PackChecker
from packsync.desired.state import DesiredPack, desired_state
from packsync.errors import PacksyncError
from packsync.packfiles.diagnostics import Diagnostic
from packsync.packfiles.pack import Pack
from packsync.packfiles.project import Project, display_path, find_pack_files, load_project
from packsync.plan.diff import LiveState, diff_pack, evaluate_safety
from packsync.plan.model import Finding, PackPlan, Plan
from packsync.plan.observe import Observation
from packsync.plan.preflight import check_reference_tunes


class PlanError(PacksyncError):
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


T = TypeVar("T")


def declares(pack: Pack, summary: dict[str, Any]) -> bool:
    """Whether ``pack`` is the file of the live pack ``summary``: by pinned id, else by slug."""
    if pack.id is not None:
        return bool(summary.get("id") == pack.id)
    return bool(summary.get("slug") == pack.slug)


async def read_declared(
    client: AstriaClient, packs: Sequence[Pack], handle: Callable[[Pack, LiveState], T]
) -> tuple[dict[str, T], list[dict[str, Any]]]:
    """``handle(pack, live state)`` for every declared pack, and the summaries of undeclared packs.

    A pack's templates are read as soon as the pack turns up in the pack list,
    and ``handle`` runs as soon as they are in, while other reads are still on
    the wire, so the work of a plan overlaps with its waiting.
    """
    by_id = {p.id: p for p in packs if p.id is not None}
    by_slug = {p.slug: p for p in packs if p.id is None}
    tasks: dict[str, asyncio.Task[T]] = {}
    undeclared: list[dict[str, Any]] = []

    async def read(summary: dict[str, Any], pack: Pack) -> T:
        pack_id = int(summary["id"])
        templates_read = client.pack_templates(pack_id)
        if pack.subtitle is not None or pack.model.preset is not None:
            templates, detail = await gather_all(templates_read, client.get_pack(pack_id))
        else:
            templates, detail = await templates_read, None
        return handle(pack, LiveState(summary, templates, detail))

    listed: list[dict[str, Any]] = []
    foreign: dict[str, dict[str, Any]] = {}
    async with cancelled_on_failure(tasks.values()):
        async for summary in client.iter_packs():
            listed.append(summary)
            pack = by_id.get(int(summary["id"])) or by_slug.get(str(summary.get("slug")))
            if pack is None or pack.slug in tasks:
                undeclared.append(summary)
                continue
            tasks[pack.slug] = asyncio.ensure_future(read(summary, pack))
        # An unpinned pack whose slug the account does not have is its own pack with that exact
        # title, if there is one: the server, not the file, names a new pack (taken or
        # transliterated slugs), and apply adopts what it created.
        for pack in by_slug.values():
            if pack.slug in tasks:
                continue
            titled = [s for s in undeclared if s.get("title") == pack.title]
            if len(titled) > 1:
                ids = ", ".join(f"#{s['id']} ({s.get('slug')})" for s in titled)
                raise PlanError(
                    f"{pack.path}: no pack on the account has the slug {pack.slug}, and {len(titled)} have its "
                    f"title {pack.title!r}: {ids}; pin the right one with `id:`"
                )
            if titled:
                undeclared.remove(titled[0])
                tasks[pack.slug] = asyncio.ensure_future(read(titled[0], pack))
        for pack in packs:
            if pack.slug in tasks or pack.id is None:
                continue
            # A pinned pack the list did not show (e.g. another workspace): ask for it directly.
            try:
                summary = await client.get_pack(pack.id)
            except NotFound:
                raise PlanError(
                    f"{pack.path}: pack {pack.slug} pins id {pack.id}, which the target account does not "
                    "have; remove the id to create the pack anew"
                ) from None
            tasks[pack.slug] = asyncio.ensure_future(read(summary, pack))
        owned = {int(s["id"]) for s in undeclared} | {int(s["id"]) for s in listed}
        new = [p for p in packs if p.slug not in tasks]
        taken = await gather_all(*(_slug_holder(client, p.slug) for p in new))
        for pack, holder in zip(new, taken, strict=True):
            if holder is not None and int(holder["id"]) in owned:
                # listed, but not found by the listing's slug or title: the account's own all the same
                if holder in undeclared:
                    undeclared.remove(holder)
                tasks[pack.slug] = asyncio.ensure_future(read(holder, pack))
            elif holder is not None:
                foreign[pack.slug] = holder
        results = dict(zip(tasks, await gather_all(*tasks.values()), strict=True))
    for pack in packs:
        if pack.slug not in results:
            results[pack.slug] = handle(pack, LiveState(None, taken_by=foreign.get(pack.slug)))
    return {p.slug: results[p.slug] for p in packs}, undeclared


async def _slug_holder(client: AstriaClient, slug: str) -> dict[str, Any] | None:
    """The pack ``GET /p/<slug>`` resolves, if any: slugs are global, so it may be another user's."""
    try:
        found = await client.get_pack(slug)
    except NotFound:
        return None
    return found if isinstance(found.get("id"), int) else None


async def read_live(
    client: AstriaClient, desired: Sequence[DesiredPack]
) -> tuple[dict[str, LiveState], list[dict[str, Any]]]:
    """Every declared pack's live state, and the summaries of undeclared packs."""
    return await read_declared(client, [d.pack for d in desired], lambda pack, live: live)


async def make_plan(
    client: AstriaClient,
    workspace: Workspace,
    target: ResolvedTarget,
    packs: Sequence[Pack],
    observation: Observation | None = None,
    replace: Sequence[str] = (),
    *,
    check_tunes: bool = False,
) -> Plan:
    """Read, expand and diff each pack as its templates arrive; then the plan-wide safety checks.

    ``replace`` names templates to recreate whatever the account shows (``SLUG/KEY`` or
    ``SLUG/KEY/CLASS``); each must name a declared template. ``check_tunes``: the reference
    tune preflight too, its reads alongside the account's."""
    policy = workspace.project.policy
    forced = replace_keys(packs, target, replace)

    def plan_pack(pack: Pack, live: LiveState) -> PackPlan:
        (desired,) = desired_state([pack], target.tune_ids)
        return diff_pack(desired, live, observation, forced)

    findings: list[Finding] = []
    if check_tunes:
        (pack_plans, unread), findings = await gather_all(
            read_declared(client, packs, plan_pack), check_reference_tunes(client, packs, target.tune_ids)
        )
    else:
        pack_plans, unread = await read_declared(client, packs, plan_pack)
    # Packs left out by --pack are declared all the same: only the rest is "not in the files".
    others = [p for p in workspace.packs if p not in packs]
    undeclared = [s for s in unread if not any(declares(p, s) for p in others)]
    plan = Plan(target=target.name, account=target.account, on_remove=policy.on_remove, undeclared=undeclared)
    plan.preflight = findings
    plan.packs = list(pack_plans.values())
    plan.refusals = evaluate_safety(plan, policy)
    return plan


def replace_keys(packs: Sequence[Pack], target: ResolvedTarget, names: Sequence[str]) -> set[tuple[str, ...]]:
    """The templates ``--replace`` names, as (slug, key) or (slug, key, class); a name that matches
    no declared template is an error, not a silent no-op."""
    if not names:
        return set()
    known = {(d.slug, t.key, t.class_name) for d in desired_state(list(packs), target.tune_ids) for t in d.templates}
    out: set[tuple[str, ...]] = set()
    for name in names:
        parts = tuple(name.split("/"))
        if len(parts) not in (2, 3) or not all(parts):
            raise PlanError(f"--replace {name!r}: expected PACK/KEY or PACK/KEY/CLASS")
        if not any(k[: len(parts)] == parts for k in known):
            raise PlanError(f"--replace {name!r}: no declared template is {name} (see packsync render)")
        out.add(parts)
    return out
