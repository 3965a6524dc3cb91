"""``packsync preview``: run chosen prompts of a pack on test tunes and write a contact sheet.

Exit 0 when every run gave images and every image is on the sheet; 1 otherwise, or on an error
before anything ran; 3 when the policy's image budget refuses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packsync.astria.client import AstriaClient
from packsync.astria.connect import env_number
from packsync.commands.base import Streams
from packsync.commands.prologue import Prepared, prepare
from packsync.errors import ExitCode, PacksyncError
from packsync.feedback.characteristics import choose_values, describe_values, set_on_tunes, used_placeholders
from packsync.feedback.embed import Embedded, ImageFetcher
from packsync.feedback.preview import (
    Estimate,
    PreviewRequest,
    PreviewResult,
    choose,
    contact_sheet,
    cost_line,
    default_sheet,
    estimate,
    plan_shots,
    planned_runs,
    read_pack_state,
    read_test_tunes,
    report_problems,
    take_shots,
    tunes_for_pack,
    undeclared_warnings,
    versions_to_create,
)
from packsync.feedback.runwatch import WaitTiming
from packsync.packfiles.pack import Pack
from packsync.packfiles.project import display_path
from packsync.packfiles.safe_write import atomic_write, state_dir
from packsync.plan.build import PlanError, make_plan
from packsync.plan.model import PackPlan


class SheetNotWritten(PacksyncError):
    """The contact sheet cannot be written."""


# For tests against a sandbox whose clock runs this many times faster (its time_scale): every
# wait of the preview shrinks as much. Unset against the real API, which wants polls >= 5 s apart.
TIME_SCALE_ENV = "PACKSYNC_PREVIEW_TIME_SCALE"


def wait_timing(timeout: float | None) -> WaitTiming:
    """How the preview waits for its runs (``runwatch``): Part A's bounds, scaled by $PACKSYNC_PREVIEW_TIME_SCALE;
    ``timeout`` (not scaled) replaces the wait for the images."""
    timing = WaitTiming().scaled(env_number(TIME_SCALE_ENV, 1.0, least=0, above=True))
    return timing if timeout is None else replace(timing, finish=timeout)


@dataclass(frozen=True)
class PreviewOptions:
    pack: str  # the pack's slug
    project_dir: Path = Path(".")
    target: str | None = None
    tune_ids: Sequence[int] = ()  # test tunes; none: the target's test_tune_ids
    keys: Sequence[str] = ()  # the prompts to preview
    changed: bool = False  # the prompts the plan would create or replace
    out_file: Path | None = None  # default: .packsync/preview/PACK.html
    timeout: float | None = None  # seconds to wait for the images once the prompts appeared (default: 600)
    allow_over_budget: bool = False
    assignments: Sequence[str] = ()  # --set NAME=VALUE: a characteristic's value for the runs


def run_preview(options: PreviewOptions, io: Streams) -> ExitCode:
    ready = prepare(options.project_dir, options.target, [options.pack], io)
    (pack,) = ready.packs
    out_file = options.out_file
    if out_file is not None and not out_file.parent.is_dir():  # found out before anything is spent
        raise PlanError(f"cannot write the contact sheet to {out_file}: {out_file.parent} is not a directory")
    wanted = list(dict.fromkeys(options.tune_ids)) or list(ready.target.test_tune_ids)
    if not wanted:
        raise PlanError(
            f"no test tunes to run on: give --tune-ids ID,..., or list the account's test tunes under "
            f"targets.{ready.target.name}.test_tune_ids in packsync.yaml"
        )

    async def go() -> PreviewResult | ExitCode:
        async with ready.client() as client:
            return await _preview(client, ready, pack, wanted, options, io)

    result = asyncio.run(go())
    if isinstance(result, ExitCode):
        return result
    return _write_sheet(ready, pack, out_file, result, io)


async def _preview(
    client: AstriaClient, ready: Prepared, pack: Pack, wanted: list[int], options: PreviewOptions, io: Streams
) -> PreviewResult | ExitCode:
    plan = await make_plan(client, ready.workspace, ready.target, [pack])
    pack_plan = plan.packs[0]
    live = await read_pack_state(client, pack)
    chosen = choose(pack, pack_plan, options.keys, options.changed)
    if not chosen:
        io.out.write("Nothing to preview: the plan changes no prompt of this pack.\n")
        return ExitCode.OK
    declared = not options.tune_ids
    where = f" (targets.{ready.target.name}.test_tune_ids in packsync.yaml)" if declared else ""
    found = await read_test_tunes(client, wanted, where)
    tunes = tunes_for_pack(pack, found, declared, ready.target.name)
    if not planned_runs(pack, chosen, tunes):
        classes = ", ".join(sorted({str(t.get("name")) for t in tunes.values()}))
        raise PlanError(
            f"nothing to run: no chosen prompt of pack {pack.slug} ({', '.join(chosen)}) is for the "
            f"class of the test tunes ({classes})"
        )
    request = PreviewRequest(pack, pack_plan, list(tunes), chosen, options.changed)
    shot_plan = plan_shots(request, live, ready.target.tune_ids, tunes)
    # Before anything is spent: a placeholder the runs would leave unfilled is the user's to fix.
    used = used_placeholders([(s.key, s.text) for s in shot_plan.shots])
    values = choose_values(pack, used, options.assignments)
    shot_plan.characteristics = {v.name: v.value for v in values}
    io.out.writelines(describe_values(values))
    cost = estimate(shot_plan, await versions_to_create(client, shot_plan))
    if not _within_budget(ready, cost, pack_plan, options, io):
        return ExitCode.REFUSED
    if shot_plan.characteristics:  # the tunes' own values are the ones a run fills in (A6)
        running = {s.tune_id for s in shot_plan.shots}
        run_on = {i: t for i, t in tunes.items() if i in running}
        await set_on_tunes(client, run_on, shot_plan.characteristics, io.out, io.err)
    shots = await take_shots(client, shot_plan, live, wait_timing(options.timeout))
    # Fetched now, while the server is still there: the embedded sandbox stops with the client.
    async with ImageFetcher(client.base_url, client.config.key) as fetcher:
        embedded = await fetcher.embed_all(url for shot in shots for url in shot.images)
    return PreviewResult(shots, dict(tunes), embedded, shot_plan.characteristics)


def _within_budget(ready: Prepared, found: Estimate, pack_plan: PackPlan, options: PreviewOptions, io: Streams) -> bool:
    """Say what the preview costs; False (refused, said why) when it is over the policy's budget."""
    io.out.write(cost_line(found, pack_plan.price_per_image_mc) + "\n")
    budget = ready.workspace.project.policy.max_images
    if budget is not None and found.images > budget and not options.allow_over_budget:
        io.err.write(
            f"packsync: refused: the preview would generate {found.images:,} images; the policy's budget is "
            f"{budget:,}; allow it with --allow-over-budget\n"
        )
        return False
    return True


def _write_sheet(ready: Prepared, pack: Pack, out_file: Path | None, result: PreviewResult, io: Streams) -> ExitCode:
    """Write the contact sheet and report what it holds; 1 when a run or an image is missing."""
    root, target = ready.workspace.project.root, ready.target
    path = out_file if out_file is not None else default_sheet(root, pack.slug)
    names = {tune_id: str(tune.get("name") or "") for tune_id, tune in result.tunes.items()}
    try:
        if out_file is None:
            state_dir(root)  # with the .gitignore that keeps it out of the repository
            path.parent.mkdir(exist_ok=True)
        atomic_write(path, contact_sheet(pack, result.shots, names, result.embedded, result.characteristics))
    except OSError as exc:
        raise SheetNotWritten(
            f"cannot write the contact sheet to {display_path(path)}: {exc.strerror or exc}"
        ) from None
    total = sum(len(s.images) for s in result.shots)
    shown = sum(1 for s in result.shots for u in s.images if (result.embedded.get(u) or Embedded(u)).ok)
    io.out.write(f"Wrote {display_path(path)}: {len(result.shots)} run(s), {total} image(s), {shown} embedded\n")
    for line in undeclared_warnings(result, target.test_tune_ids, target.name):
        io.err.write(line)
    return ExitCode.ERROR if report_problems(result, io.err) else ExitCode.OK
