"""``packsync plan``: the account read, compared with the files, and shown (or saved for apply)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packsync.commands.base import Streams
from packsync.commands.prologue import prepare
from packsync.errors import ExitCode, PacksyncError, fail
from packsync.plan.build import make_plan
from packsync.plan.formats import PLAN_FORMATS, preflight_failure
from packsync.plan.model import Plan


class PlanNotSaved(PacksyncError):
    """The plan file cannot be written."""


@dataclass(frozen=True)
class PlanOptions:
    project_dir: Path = Path(".")
    target: str | None = None
    packs: Sequence[str] = ()
    output_format: str = "text"
    out_file: Path | None = None
    detailed_exitcode: bool = False
    replace: Sequence[str] = ()  # templates to recreate: PACK/KEY or PACK/KEY/CLASS


def run_plan(options: PlanOptions, io: Streams) -> ExitCode:
    ready = prepare(options.project_dir, options.target, options.packs, io)

    async def read_and_compare() -> Plan:
        async with ready.client() as client:
            observation = ready.observation(io)
            made = await make_plan(
                client, ready.workspace, ready.target, ready.packs, observation, options.replace, check_tunes=True
            )
            if any(p.experiments for p in ready.packs):
                from packsync.commands.experiment import add_forecasts

                await add_forecasts(client, made, ready.packs, ready.target)
            return made

    plan = asyncio.run(read_and_compare())
    if options.out_file is not None:
        try:
            plan.save(options.out_file)
        except OSError as exc:
            raise PlanNotSaved(f"cannot write the plan to {options.out_file}: {exc.strerror or exc}") from None
    PLAN_FORMATS[options.output_format](plan, io.out)
    if options.output_format == "text" and options.out_file is not None:
        io.out.write(f"Saved the plan to {options.out_file}; apply it with: packsync apply {options.out_file}\n")
    if plan.preflight_errors:
        return ExitCode(fail(io.err, preflight_failure(plan)))
    if options.detailed_exitcode and plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK
