"""``packsync doctor``: what this account does where the API's docs leave it open, and what
packsync does about each; ``--probe`` learns the echo profile with a free fast probe, ``--save``
keeps it in the target's state for plan and apply."""

from __future__ import annotations

import asyncio
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from packsync.astria.client import AstriaClient
from packsync.astria.connect import open_client
from packsync.astria.doctor import Doctor, Finding, Odd, guarded
from packsync.astria.echo import OMITTED_ECHOES, SENT_ECHOES, EchoProfile, load_state
from packsync.astria.probe import ANNOUNCEMENT, LEFT_OUT, PROBE_PARAMS, ProbeResult, probe
from packsync.astria.target import ResolvedTarget, resolve_target
from packsync.commands.base import Streams
from packsync.commands.packs import declared_packs
from packsync.errors import ExitCode
from packsync.packfiles.pack import Pack
from packsync.packfiles.project import Project, load_project
from packsync.plan.preflight import check_reference_tunes, tune_uses
from packsync.term import json_text, printable


@dataclass(frozen=True)
class DoctorOptions:
    project_dir: Path = Path(".")
    target: str | None = None
    probe: bool = False  # write: the free fast probe
    save: bool = False  # merge what the probe learned into .packsync/state/TARGET.json
    output_format: str = "text"


@dataclass
class Report:
    findings: list[Finding]
    probe: ProbeResult | None = None
    saved: Path | None = None
    notes: list[str] = field(default_factory=list)


def run_doctor(options: DoctorOptions, io: Streams) -> ExitCode:
    project = load_project(options.project_dir)
    packs = declared_packs(project)
    target = resolve_target(project, options.target)
    if options.probe:
        io.err.write(textwrap.fill(ANNOUNCEMENT, 100) + "\n")
    report = asyncio.run(_examine(project, target, packs, options.probe))
    if options.save:
        report.saved = _save(project, target, report, io)
    if options.output_format == "json":
        io.out.write(json_text(_as_json(target, report)) + "\n")
    else:
        _write_text(target, report, io.out)
    return ExitCode.OK


async def reference_tunes(client: AstriaClient, packs: list[Pack], target: ResolvedTarget) -> Finding:
    """The reference tunes, checked by plan's own preflight: what the doctor says is what plan does."""
    uses = tune_uses(packs, target.tune_ids)
    if not uses:
        raise Odd("no pack file names a reference tune")
    found = await check_reference_tunes(client, packs, target.tune_ids)
    errors = sum(1 for f in found if f.severity == "error")
    head = f"{len(uses)} reference tune(s) read ({', '.join(f'#{t}' for t in sorted(uses))}): "
    said = "; ".join(f.message for f in found) or "each exists, is named as its class and does not expire soon"
    data = {"tunes": sorted(uses), "errors": errors, "findings": [f.to_json() for f in found]}
    return Finding("reference-tunes", head + said, data=data)


async def _examine(project: Project, target: ResolvedTarget, packs: list[Pack], with_probe: bool) -> Report:
    async with open_client(project, target, packs) as client:
        doctor = Doctor(client)
        report = Report(await doctor.run())
        report.findings.append(await guarded("reference-tunes", lambda: reference_tunes(client, packs, target)))
        if with_probe:
            report.probe = await probe(client, doctor.own)
        return report


def _save(project: Project, target: ResolvedTarget, report: Report, io: Streams) -> Path | None:
    """The probe's pairs learned into the target's saved profile; None when there is nothing to save."""
    if report.probe is None or not report.probe.pairs:
        why = "--save without --probe" if report.probe is None else "the probe read nothing back"
        report.notes.append(f"nothing saved ({why}): only the probe learns the echo profile")
        return None
    state = load_state(project.root, target.name, json.dumps(target.account, sort_keys=True))
    if state.problem is not None:
        io.err.write(f"packsync: warning: {state.problem}\n")
    for sent, read in report.probe.pairs:
        state.profile.learn(sent, read)
    state.save()
    return state.path


def profile_lines(profile: EchoProfile) -> list[tuple[str, str]]:
    """What the profile says of the probe's parameters, sent and left out, one line each."""
    sent = [*PROBE_PARAMS, "seed"]
    lines = []
    for kind in SENT_ECHOES:
        names = [n for n in sent if profile.of(n).sent == kind]
        if names:
            lines.append((f"sent, {kind}", ", ".join(names)))
    for omitted in OMITTED_ECHOES:
        names = [n for n in LEFT_OUT if profile.of(n).omitted == omitted]
        if names:
            lines.append((f"left out, {omitted}", ", ".join(names)))
    return lines


def _write_text(target: ResolvedTarget, report: Report, out: TextIO) -> None:
    def row(label: str, text: str) -> None:
        out.write(textwrap.fill(printable(text), 100, initial_indent=f"   {label:<10}", subsequent_indent=" " * 13))
        out.write("\n")

    out.write(f"packsync doctor: target {target.name} ({target.account['url']})\n")
    for number, finding in enumerate(report.findings, 1):
        out.write(f"\n{number}. {finding.key}{'' if finding.known else ' (unknown)'}: {finding.assumption}?\n")
        row("found:", finding.found)
        row("packsync:", finding.packsync)
    result = report.probe
    if result is not None:
        out.write("\nprobe (--probe):\n")
        for step in result.steps:
            row("did:", step)
        for label, names in profile_lines(result.profile):
            row("learned:", f"{label}: {names}")
        if result.pairs:
            row("packsync:", "plan compares templates only on what is echoed or normalized; the rest from the record")
        if result.run_answer is not None:
            row("packsync:", "preview never needs a run's ids: it waits for the run's prompts to appear")
        for problem in result.problems:
            row("problem:", problem)
        for item in result.left_behind:
            row("left:", item)
    unknown = sum(1 for f in report.findings if not f.known)
    out.write(f"\n{len(report.findings)} checks, {unknown} unknown")
    if report.saved is not None:
        out.write(f"; saved the echo profile to {report.saved} (plan and apply use it)")
    elif result is not None and not report.notes:
        out.write("; nothing written (--save keeps the echo profile for plan and apply)")
    out.write(".\n")
    for note in report.notes:
        out.write(f"{note}\n")


def _as_json(target: ResolvedTarget, report: Report) -> dict[str, Any]:
    return {
        "target": target.name,
        "account": target.account,
        "checks": [f.to_json() for f in report.findings],
        "unknown": sum(1 for f in report.findings if not f.known),
        "probe": None if report.probe is None else report.probe.to_json(),
        "saved": None if report.saved is None else str(report.saved),
        "notes": report.notes,
    }
