"""``packsync catalog``: the packs and their prompts ranked by the estimates of ``stats``, as JSON
for an app or markdown for people."""

from __future__ import annotations

from dataclasses import dataclass

from packsync.commands.base import Streams
from packsync.commands.stats import StatsOptions, read_report
from packsync.errors import ExitCode
from packsync.feedback.catalog import CATALOG_FORMATS, catalog
from packsync.feedback.stats import SCOPE_NOTE


@dataclass(frozen=True)
class CatalogOptions:
    stats: StatsOptions  # which packs, which target, which runs count (as stats)
    output_format: str = "json"


def run_catalog(options: CatalogOptions, io: Streams) -> ExitCode:
    report, packs = read_report(options.stats, io)
    io.out.write(CATALOG_FORMATS[options.output_format](catalog(report, packs)))
    io.err.write(f"packsync: note: the catalog {SCOPE_NOTE}\n")
    return ExitCode.OK
