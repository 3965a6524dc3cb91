"""``packsync stats``: likes per template prompt and per pack, from customers' runs only."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from packsync.commands.base import Streams
from packsync.commands.prologue import prepare
from packsync.errors import ExitCode
from packsync.feedback.preview import preview_slug
from packsync.feedback.stats import SCOPE_NOTE, Lineage, StatsReport, gather_stats
from packsync.feedback.stats_output import STATS_FORMATS
from packsync.packfiles.pack import Pack


@dataclass(frozen=True)
class StatsOptions:
    project_dir: Path = Path(".")
    target: str | None = None
    packs: Sequence[str] = ()
    since: date | None = None  # only runs from this day on
    output_format: str = "table"
    min_runs: int = 10  # the fewest runs before a template is tested and flagged
    exclude_tune_ids: Collection[int] = ()  # more test tunes, besides the target's test_tune_ids
    keeper_k: int = 3  # liked prompts that make a customer run a keeper


def read_report(options: StatsOptions, io: Streams) -> tuple[StatsReport, list[Pack]]:
    """The stats of the chosen packs (customers' runs only, every version), and those packs."""
    ready = prepare(options.project_dir, options.target, options.packs, io)
    test = set(ready.target.test_tune_ids) | set(options.exclude_tune_ids)
    declared = {p.slug for p in ready.workspace.packs}
    previews = {preview_slug(p) for p in ready.workspace.packs} - declared
    state = ready.observation(io).state
    lineage = Lineage(state.texts(), ready.workspace.project.root, state.retired)

    async def read() -> StatsReport:
        async with ready.client() as client:
            return await gather_stats(
                client,
                ready.packs,
                ready.target.tune_ids,
                options.since,
                options.min_runs,
                test,
                previews,
                lineage,
                options.keeper_k,
            )

    return asyncio.run(read()), ready.packs


def run_stats(options: StatsOptions, io: Streams) -> ExitCode:
    report, _ = read_report(options, io)
    io.out.write(STATS_FORMATS[options.output_format](report, options.since))
    io.err.write(f"packsync: note: stats {SCOPE_NOTE}\n")  # once; stdout stays the report alone
    return ExitCode.OK
