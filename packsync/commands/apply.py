"""``packsync apply``: a fresh or saved plan carried out under the account's lock, then verified.

A saved plan is re-checked against the account and the files before anything is sent; the
account is read again afterwards, so the exit code says whether it now matches.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from packsync.aio import gather_all
from packsync.apply.applier import Applier, ApplyReport, Result, recheck_saved, verify_saved
from packsync.apply.converge import learn_echoes, misplaced, not_sticking
from packsync.apply.lock import account_lock
from packsync.astria.client import AstriaClient
from packsync.astria.connect import env_number, lost_answer_waits
from packsync.astria.errors import ConfigError
from packsync.astria.objects import LiveTemplate
from packsync.astria.target import IMPLICIT_TARGET, ResolvedTarget, resolve_target
from packsync.commands.base import Streams
from packsync.commands.prologue import Prepared, checked_workspace
from packsync.desired.state import desired_state
from packsync.errors import ExitCode, fail
from packsync.plan.build import Workspace, make_plan, select_packs
from packsync.plan.diff import evaluate_safety
from packsync.plan.formats import preflight_failure, render_text
from packsync.plan.model import Change, PackPlan, Plan
from packsync.plan.observe import Observation
from packsync.plan.preflight import check_reference_tunes
from packsync.term import Style, color_enabled


@dataclass(frozen=True)
class ApplyOptions:
    project_dir: Path = Path(".")
    target: str | None = None
    packs: Sequence[str] = ()
    plan_file: Path | None = None
    auto_approve: bool = False
    allow: frozenset[str] = field(default_factory=frozenset)  # safety flags given, e.g. "--allow-protected"
    replace: Sequence[str] = ()  # templates to recreate: PACK/KEY or PACK/KEY/CLASS (fresh plans only)


def run_apply(options: ApplyOptions, io: Streams) -> ExitCode:
    workspace = checked_workspace(options.project_dir, io)
    saved: Plan | None = None
    if options.plan_file is not None:
        if options.replace:
            raise ConfigError("--replace makes a fresh plan: give it to `packsync plan --out`, not with a plan file")
        saved = Plan.load(options.plan_file)
        target = _saved_plan_target(workspace, saved, options.target)
    else:
        target = resolve_target(workspace.project, options.target)
    ready = Prepared(workspace, target, select_packs(workspace.packs, options.packs))
    account = target.lock_key(str(workspace.project.root.resolve()))
    wait = env_number("PACKSYNC_LOCK_TIMEOUT", 600.0, least=0)
    try:
        with account_lock(account, wait, io.err):
            return asyncio.run(_apply(options, ready, saved, io))
    except KeyboardInterrupt:
        io.err.write("\npacksync: interrupted. Run apply again: it finds what was done and finishes the rest.\n")
        return ExitCode.INTERRUPTED


def _saved_plan_target(workspace: Workspace, saved: Plan, name: str | None) -> ResolvedTarget:
    """The target a saved plan is applied to: the one it was made for, found the way plan found it.

    ``--target`` must agree with the plan. Without it, the plan's own target is used; a plan made
    with no target chosen (the account given by ``ASTRIA_API_URL`` and the key alone) is resolved
    from the environment again. Either way the account must be the one the plan was read from.
    """
    if name and name != saved.target:
        raise ConfigError(f"the plan was made for target {saved.target!r}, not {name!r}")
    chosen: str | None = name or saved.target
    if chosen == IMPLICIT_TARGET and chosen not in workspace.project.targets:
        chosen = None
    target = resolve_target(workspace.project, chosen)
    if target.name != saved.target:
        raise ConfigError(
            f"the plan was made for target {saved.target!r}, but this environment chooses {target.name!r}; "
            f"give --target {saved.target} or make a new plan"
        )
    if saved.account is not None and saved.account != target.account:
        raise ConfigError(
            f"the plan was made for the account at {_account_text(saved.account)}, but target {target.name!r} "
            f"is now {_account_text(target.account)} (ASTRIA_API_URL, ASTRIA_WORKSPACE_ID); apply it with the "
            "environment that made it, or make a new plan"
        )
    return target


def _account_text(account: dict[str, str | None]) -> str:
    workspace = account.get("workspace_id")
    return f"{account.get('url')}" + (f" (workspace {workspace})" if workspace else "")


async def _apply(options: ApplyOptions, ready: Prepared, saved: Plan | None, io: Streams) -> ExitCode:
    style = Style(color_enabled(io.out))
    policy = ready.workspace.project.policy
    seen = ready.observation(io)
    async with ready.client() as client:
        if saved is not None:
            checked = await _recheck(client, ready, saved, options, io)
            if isinstance(checked, ExitCode):
                return checked
            plan = checked
        else:
            plan = await make_plan(
                client, ready.workspace, ready.target, ready.packs, seen, options.replace, check_tunes=True
            )
        render_text(plan, io.out, style)
        if plan.preflight_errors:
            return ExitCode(fail(io.err, preflight_failure(plan)))
        refused = [r for r in plan.refusals if r.flag not in options.allow]
        if refused:
            for refusal in refused:
                io.err.write(f"packsync: refused: {refusal.message}; allow it with {refusal.flag}\n")
            return ExitCode.REFUSED
        if not plan.has_applicable_changes:
            if plan.count("manual"):
                io.out.write("Nothing packsync can apply; the manual changes above are made in the Astria web UI.\n")
            return ExitCode.OK
        if not options.auto_approve and not _confirm(io):
            return ExitCode.ERROR
        total = sum(len(p.applicable) + (1 if p.create_pack is not None else 0) for p in plan.packs)
        view = ProgressView(total, io.out)
        applier = Applier(client, plan, policy.on_remove, view, seen, lost_answer_waits())
        try:
            report = await applier.run()
        finally:
            seen.state.save()  # what was sent is kept even when the apply stops half-way
        view.finish()
        io.out.write(f"\nApplied {report.done} change(s); verifying...\n")
        reads, astray = await gather_all(
            learn_echoes(client, applier.pack_ids, applier.created, seen),
            misplaced(client, applier.pack_ids, applier.declared),
        )
        seen.state.save()
        for line in astray:
            io.err.write(f"packsync: warning: {line}\n")
        if saved is not None:
            return await _verify_saved(client, plan, report, io, style, seen)
        return await _verify_fresh(client, ready, report, io, style, Converging(seen, applier.created, reads))


async def _recheck(
    client: AstriaClient, ready: Prepared, saved: Plan, options: ApplyOptions, io: Streams
) -> Plan | ExitCode:
    """The saved plan, if the account and the files still allow every change of it."""
    plan = saved
    if options.packs:
        plan.packs = [p for p in plan.packs if p.slug in options.packs]
    policy = ready.workspace.project.policy
    # The reference tunes are read again, never taken from the file, alongside the recheck.
    planned = {p.slug for p in plan.packs}
    tunes = check_reference_tunes(client, [p for p in ready.packs if p.slug in planned], ready.target.tune_ids)
    check, plan.preflight = await gather_all(
        recheck_saved(client, plan, desired_state(ready.packs, ready.target.tune_ids), policy), tunes
    )
    if check.stale:
        why = f"the saved plan is stale: {len(check.stale)} object(s) changed since it was made; make a new plan"
        return _refuse_saved(check.stale, why, ExitCode.STALE, io)
    if check.refused:
        why = (
            f"the saved plan asks for {len(check.refused)} change(s) that the pack files, the account "
            "or the policy do not allow; nothing was applied: make a new plan"
        )
        return _refuse_saved(check.refused, why, ExitCode.ERROR, io)
    # The limits of the policy in force now, on the counts just read: never the file's own.
    plan.refusals = evaluate_safety(plan, policy)
    return plan


def _refuse_saved(lines: list[str], why: str, code: ExitCode, io: Streams) -> ExitCode:
    """A saved plan not applied: each reason on its own line, then the error."""
    for line in lines:
        io.err.write(f"  {line}\n")
    return ExitCode(fail(io.err, why, code))


def _confirm(io: Streams) -> bool:
    stdin = sys.stdin
    out = io.out
    if not (hasattr(stdin, "isatty") and stdin.isatty() and hasattr(out, "isatty") and out.isatty()):
        fail(io.err, "apply needs confirmation: run it in a terminal, or pass --auto-approve")
        return False
    out.write("\nApply these changes? Only 'yes' will be accepted: ")
    out.flush()
    answer = stdin.readline().strip()
    if answer != "yes":
        out.write("Apply cancelled; nothing was changed.\n")
        return False
    return True


def _raced_copy(change: Change, pack: PackPlan) -> bool:
    """An extra copy of a kept template that this apply's own plan had not seen."""
    ref = change.remove
    return (
        change.kind == "remove"
        and change.reason.startswith("duplicate")
        and ref is not None
        and ref.id not in pack.live_fingerprints
    )


def _write_failures(failures: list[Result], err: TextIO) -> None:
    for result in failures:
        where = f"{result.source}: " if result.source else ""
        err.write(f"  {where}{result.pack}: {result.description}: {result.error}\n")


async def _verify_saved(
    client: AstriaClient, plan: Plan, report: ApplyReport, io: Streams, style: Style, seen: Observation
) -> ExitCode:
    """A saved plan's own changes must all be in effect."""
    missing = await verify_saved(client, plan, seen)
    _write_failures(report.failures, io.err)
    if missing:
        io.err.write(style("The account does not hold what the plan says yet:\n", "red"))
        for line in missing:
            io.err.write(f"  {line}\n")
        io.err.write("Make a new plan and apply it to finish.\n")
        return ExitCode.PARTIAL
    if report.failures:
        return ExitCode.PARTIAL
    io.out.write(style("Verified: every change of the plan is in effect.", "green") + "\n")
    return ExitCode.OK


@dataclass(frozen=True)
class Converging:
    """What the check after a fresh apply needs: what is known of the account, what was created."""

    seen: Observation
    created: dict[int, dict[str, Any]]
    reads: dict[int, LiveTemplate]


async def _verify_fresh(
    client: AstriaClient, ready: Prepared, report: ApplyReport, io: Streams, style: Style, done: Converging
) -> ExitCode:
    """A fresh plan is planned again and must now be empty."""
    workspace, target, packs = ready.workspace, ready.target, ready.packs
    after = await make_plan(client, workspace, target, packs, done.seen)
    left = [p for p in after.packs if p.needs_applying]
    if left and all(_raced_copy(c, p) for p in left for c in p.applicable):
        # Only extra copies remain that appeared while this apply ran (an apply elsewhere raced
        # it): remove them, keeping the oldest copy of each, as every apply does, and look again.
        io.out.write("Removing extra copies that appeared meanwhile...\n")
        await Applier(client, after, workspace.project.policy.on_remove, observation=done.seen).run()
        after = await make_plan(client, workspace, target, packs, done.seen)
        left = [p for p in after.packs if p.needs_applying]
    if report.failures:
        io.err.write(f"{len(report.failures)} change(s) failed:\n")
        _write_failures(report.failures, io.err)
    stuck = not_sticking(after, done.created, done.reads, done.seen)
    if stuck:
        io.err.write(style("Stopped: templates this apply created do not read back as they were sent:\n", "red"))
        for line in stuck:
            io.err.write(f"  {line}\n")
        io.err.write(
            "Applying again would create them again (and pay for them) without converging. Set those "
            "parameters to the values the account keeps, or leave them out, then plan again.\n"
        )
        return ExitCode.PARTIAL
    if left:
        io.err.write(style("The account does not match the pack files yet; still different:\n", "red"))
        render_text(after, io.err, Style(color_enabled(io.err)))
        io.err.write("Run packsync apply again to finish.\n")
        return ExitCode.PARTIAL
    if report.failures:
        return ExitCode.PARTIAL
    manual = after.count("manual")
    tail = f" ({manual} manual change(s) remain for the Astria web UI)" if manual else ""
    io.out.write(style(f"Verified: the account matches the pack files.{tail}", "green") + "\n")
    return ExitCode.OK


class ProgressView:
    """A progress bar on a terminal; one line per change otherwise."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.style = Style(color_enabled(stream))
        self.count = 0

    def __call__(self, result: Result) -> None:
        self.count += 1
        if self.tty:
            width = 30
            filled = int(width * min(self.count, self.total) / max(self.total, 1))
            bar = "#" * filled + "." * (width - filled)
            line = f"\rapplying [{bar}] {min(self.count, self.total)}/{self.total}"
            if not result.ok:
                line = f"\r{self._line(result)}\n" + line
            self.stream.write(line)
            self.stream.flush()
            return
        self.stream.write(self._line(result) + "\n")
        self.stream.flush()

    def _line(self, result: Result) -> str:
        where = f" ({result.source})" if result.source else ""
        if result.ok:
            return f"{self.style('ok', 'green')}   {result.pack}: {result.description}"
        word = "skip" if result.skipped else "FAIL"
        return f"{self.style(word, 'red')} {result.pack}: {result.description}{where}: {result.error}"

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
