"""``packsync experiment plan|status|conclude``: the handlers."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from packsync.astria.client import AstriaClient
from packsync.astria.target import ResolvedTarget
from packsync.commands.base import Streams
from packsync.commands.prologue import checked_workspace
from packsync.commands.stats import StatsOptions, read_report
from packsync.errors import ExitCode, PacksyncError
from packsync.facts import PROMPT_PARAM_DEFAULTS as DEFAULTS
from packsync.feedback.estimates import RunLikes
from packsync.feedback.experiment_output import PLAN_FORMATS, STATUS_FORMATS, ExperimentPlan
from packsync.feedback.experiments import ExperimentStatus, arm_templates, observe
from packsync.feedback.forecast import DESIGNS, History, fit_history, forecast
from packsync.feedback.stats import PackStats
from packsync.github import GitHub, ProposedChange
from packsync.packfiles.pack import Experiment, Pack
from packsync.packfiles.safe_write import atomic_write
from packsync.plan.model import Plan

HISTORY_DAYS = 30


class ExperimentNotFound(PacksyncError):
    """No declared experiment has the name given, or more than one pack has one of that name."""


class NotDecided(PacksyncError):
    """``conclude`` of an experiment with no decision (and no ``--winner``)."""


@dataclass(frozen=True)
class ExperimentOptions:
    project_dir: Path = Path(".")
    target: str | None = None
    name: str | None = None  # NAME or PACK/NAME; None: every experiment
    output_format: str = "text"
    detailed_exitcode: bool = False
    keeper_k: int = 3
    runs_per_day: float | None = None  # plan: instead of the account's traffic
    baseline: float | None = None  # plan: instead of the control's rate
    winner: str | None = None  # conclude: the arm to keep, whatever the status says
    write: bool = False  # conclude: edit the file
    now: datetime | None = None  # the moment of the report (tests); default: the clock
    dry_run: bool = False  # rotate: say what would change, change nothing
    post: bool = False  # propose: open the pull requests
    base: str | None = None  # propose: the branch they merge into (default: the repository's)
    github: GitHub | None = None  # propose: the GitHub to talk to (default: from the environment)

    def with_overrides(self, runs_per_day: float | None, baseline: float | None) -> ExperimentOptions:
        return dataclasses.replace(self, runs_per_day=runs_per_day, baseline=baseline)

    def for_conclude(self, winner: str | None, write: bool) -> ExperimentOptions:
        return dataclasses.replace(self, winner=winner, write=write)

    def moment(self) -> datetime:
        return self.now or datetime.now(timezone.utc)


def find_experiments(packs: Sequence[Pack], name: str | None) -> list[tuple[Pack, Experiment]]:
    """The experiments ``name`` (NAME or PACK/NAME) means; every one when it is None."""
    every = [(pack, e) for pack in packs for e in pack.experiments]
    if name is None:
        return every
    slug, _, short = name.rpartition("/")
    found = [(p, e) for p, e in every if e.name == short and slug in ("", p.slug)]
    if not found:
        known = ", ".join(f"{p.slug}/{e.name}" for p, e in every) or "none is declared"
        raise ExperimentNotFound(f'no experiment is named "{name}" (the experiments: {known})')
    if len(found) > 1:
        raise ExperimentNotFound(
            f'"{name}" is an experiment of several packs; name one: ' + ", ".join(f"{p.slug}/{short}" for p, _ in found)
        )
    return found


def _runs(stats: PackStats, until: datetime, days: int = HISTORY_DAYS) -> list[RunLikes]:
    start = until - timedelta(days=days)
    return [
        RunLikes(r.tune, r.class_name, tuple(sorted(r.templates)), r.liked)
        for r in stats.customer_runs
        if r.at is not None and start <= r.at < until
    ]


def _images(pack: Pack, experiment: Experiment) -> float:
    """Images one prompt of a variant makes in a run (its num_images, else the pack's default)."""
    for prompt in pack.prompts:
        if prompt.key in experiment.variants:
            value = dict(prompt.params).get("num_images", dict(pack.defaults).get("num_images"))
            return float(value if isinstance(value, int) else DEFAULTS.get("num_images", 1))
    return float(DEFAULTS.get("num_images", 1))


def history_of(pack: Pack, stats: PackStats, experiment: Experiment, until: datetime, keeper_k: int) -> History:
    """The planner's model of the pack from its last 30 days of customer runs before ``until``."""
    control = arm_templates(stats, experiment)[experiment.control].values()
    runs = _runs(stats, until)
    return fit_history(runs, HISTORY_DAYS, list(control), experiment.metric, keeper_k, _images(pack, experiment))


def _remaining(pack: Pack, stats: PackStats, experiment: Experiment, keeper_k: int, now: datetime):  # type: ignore[no-untyped-def]
    def remaining(status: ExperimentStatus) -> float | None:
        started = datetime.fromisoformat(status.started) if status.started else None
        history = history_of(
            pack, stats, experiment, now if started is None else started.replace(tzinfo=timezone.utc), keeper_k
        )
        if history.runs_per_day <= 0:
            history = history_of(pack, stats, experiment, now, keeper_k)
        expected = forecast(history, experiment.min_effect, experiment.design, len(experiment.arms), sims=200)
        if expected.days is None:
            return None
        return round(max(expected.days - status.days, 0.0), 1)

    return remaining


def statuses(options: ExperimentOptions, io: Streams) -> list[ExperimentStatus]:
    """The status of each experiment ``options.name`` means, from the target's runs."""
    workspace = checked_workspace(options.project_dir, io)
    chosen = find_experiments(workspace.packs, options.name)
    if not chosen:
        return []
    slugs = sorted({p.slug for p, _ in chosen})
    report, _ = read_report(StatsOptions(options.project_dir, options.target, slugs, keeper_k=options.keeper_k), io)
    by_slug = {s.pack: s for s in report.packs}
    now = options.moment()
    out = []
    for pack, experiment in chosen:
        stats = by_slug[pack.slug]
        remaining = _remaining(pack, stats, experiment, options.keeper_k, now)
        out.append(observe(pack, stats, experiment, now, options.keeper_k, remaining))
    return out


def run_experiment_status(options: ExperimentOptions, io: Streams) -> ExitCode:
    found = statuses(options, io)
    io.out.write(STATUS_FORMATS[options.output_format](found))
    if options.detailed_exitcode and any(s.decision_ready for s in found):
        return ExitCode.CHANGES
    return ExitCode.OK


def run_experiment_plan(options: ExperimentOptions, io: Streams) -> ExitCode:
    workspace = checked_workspace(options.project_dir, io)
    ((pack, experiment),) = find_experiments(workspace.packs, options.name)
    now = options.moment()
    report, _ = read_report(
        StatsOptions(options.project_dir, options.target, [pack.slug], keeper_k=options.keeper_k), io
    )
    history = history_of(pack, report.packs[0], experiment, now, options.keeper_k)
    measured = history
    if options.runs_per_day is not None:
        history = dataclasses.replace(history, runs_per_day=options.runs_per_day)
    if options.baseline is not None:
        history = dataclasses.replace(history, baseline=options.baseline, like_rate=None)
    forecasts = [forecast(history, experiment.min_effect, d, len(experiment.arms)) for d in DESIGNS]
    plan = ExperimentPlan(pack.slug, experiment, history, measured, forecasts, HISTORY_DAYS)
    io.out.write(PLAN_FORMATS[options.output_format](plan))
    return ExitCode.OK


def run_experiment_conclude(options: ExperimentOptions, io: Streams) -> ExitCode:
    workspace = checked_workspace(options.project_dir, io)
    ((pack, experiment),) = find_experiments(workspace.packs, options.name)
    winner = options.winner
    if winner is None:
        (status,) = statuses(dataclasses.replace(options, name=f"{pack.slug}/{experiment.name}"), io)
        if status.status in ("winner", "no-difference"):
            winner = status.winner or experiment.control  # no difference: the control stays
        else:
            raise NotDecided(
                f'experiment "{pack.slug}/{experiment.name}" is {status.status} ({status.reason}); '
                "conclude it with --winner KEY to decide yourself"
            )
    from packsync.packfiles.edit import conclude_experiment

    path = Path(pack.path)
    text = path.read_text(encoding="utf-8")
    changed = conclude_experiment(text, str(path), experiment.name, winner)
    removed = [key for key in experiment.arms if key != winner]
    if options.write:
        atomic_write(path, changed)
        io.err.write(
            f"packsync: {path}: experiment {experiment.name} concluded on {winner}; "
            f"removed {', '.join(removed)} (run packsync plan to review the removal)\n"
        )
    else:
        diff = difflib.unified_diff(text.splitlines(True), changed.splitlines(True), str(path), str(path))
        io.out.write("".join(diff))
        io.err.write(f"packsync: would keep {winner} and remove {', '.join(removed)}; --write to edit {path}\n")
    return ExitCode.OK


def run_experiment_rotate(options: ExperimentOptions, io: Streams) -> ExitCode:
    """Attach each running rotation experiment's scheduled arm, detach the others."""
    import asyncio

    from packsync.apply.rotate import RotationStep, Rotator
    from packsync.commands.prologue import prepare
    from packsync.desired.state import desired_state
    from packsync.plan.build import read_declared

    workspace = checked_workspace(options.project_dir, io)
    chosen = [(p, e) for p, e in find_experiments(workspace.packs, options.name) if e.design == "rotation"]
    running = sorted({p.slug for p, e in chosen if e.status == "running"})
    if not running:
        io.err.write("packsync: no running rotation experiment: nothing to rotate\n")
        return ExitCode.OK
    ready = prepare(options.project_dir, options.target, running, io)
    now = options.moment()
    rotator_steps: list[RotationStep] = []

    async def rotate() -> None:
        async with ready.client() as client:
            rotator = Rotator(client, ready.observation(io), options.dry_run)
            states, _ = await read_declared(client, ready.packs, lambda pack, live: live)
            for desired in desired_state(ready.packs, ready.target.tune_ids):
                live = states[desired.slug]
                if live.summary is None:
                    io.err.write(f"packsync: {desired.slug}: not on the account yet (run packsync apply)\n")
                    continue
                pack_id = int(live.summary["id"])
                steps = await rotator.rotate_pack(desired, pack_id, live.templates, now)
                await rotator.verify(steps, desired, pack_id)
                rotator_steps.extend(steps)

    asyncio.run(rotate())
    verb = ("would attach", "would detach") if options.dry_run else ("attached", "detached")
    for step in rotator_steps:
        done = [f"{verb[0]} #{step.attached}"] if step.attached else []
        done += [f"{verb[1]} #{t}" for t in step.detached]
        said = "; ".join(done) or "already so"
        line = f"{step.pack}/{step.experiment} {step.class_name}: {step.arm} until {step.until}: {said}"
        io.out.write(line + (f" — {step.problem}" if step.problem else "") + "\n")
    return ExitCode.PARTIAL if any(s.problem for s in rotator_steps) else ExitCode.OK


async def add_forecasts(client: AstriaClient, plan: Plan, packs: Sequence[Pack], target: ResolvedTarget) -> None:
    """A note in the plan for each experiment it starts (a running experiment whose variant the
    plan creates): the planner's runs, days and images to a decision, from the pack's history."""
    from packsync.feedback.experiment_output import forecast_note
    from packsync.feedback.stats import gather_stats

    now = datetime.now(timezone.utc)
    for pack_plan in plan.packs:
        pack = next((p for p in packs if p.slug == pack_plan.slug), None)
        created = {c.create.key for c in pack_plan.changes if c.create is not None}
        added = [e for e in (pack.experiments if pack else ()) if e.status == "running" and set(e.variants) & created]
        if pack is None or not added:
            continue
        report = await gather_stats(client, [pack], target.tune_ids, None, 10, target.test_tune_ids)
        for experiment in added:
            history = history_of(pack, report.packs[0], experiment, now, 3)
            forecasts = (
                [forecast(history, experiment.min_effect, d, len(experiment.arms), sims=200) for d in DESIGNS]
                if history.runs_per_day > 0
                else []
            )
            pack_plan.notes.append(forecast_note(experiment, history, forecasts))


def _repository_root(start: Path) -> Path:
    """The git work tree that holds ``start`` (its own directory when none does)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def proposals(options: ExperimentOptions, io: Streams) -> list[ProposedChange]:
    """One pull request per experiment with a decision ready: its pack file concluded."""
    from packsync.feedback.experiment_output import status_markdown
    from packsync.packfiles.edit import conclude_experiment

    workspace = checked_workspace(options.project_dir, io)
    root = _repository_root(options.project_dir)
    out = []
    for status in statuses(options, io):
        if not status.decision_ready or status.status == "stopped":
            continue  # a stopped experiment needs a person: status says why
        ((pack, experiment),) = find_experiments(workspace.packs, f"{status.pack}/{status.name}")
        winner = status.winner or experiment.control
        path = Path(pack.path).resolve()
        text = conclude_experiment(path.read_text(encoding="utf-8"), str(path), experiment.name, winner)
        losers = ", ".join(f"`{k}`" for k in experiment.arms if k != winner)
        body = (
            f"The experiment `{status.name}` of `{status.pack}` has a decision: **{status.status}**"
            f"{f', `{winner}` wins' if status.winner else f' (the control `{winner}` stays)'}.\n\n"
            f"{status_markdown([status])}\n"
            f"This change removes {losers} from the pack file and marks the experiment concluded; "
            "the plan on this pull request shows the removal. Merging applies it.\n"
        )
        out.append(
            ProposedChange(
                branch=f"packsync/conclude-{status.pack}-{status.name}",
                path=path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name,
                content=text,
                title=f"Conclude experiment {status.name} ({status.pack}): keep {winner}",
                body=body,
                base=options.base,
            )
        )
    return out


def run_experiment_propose(options: ExperimentOptions, io: Streams) -> ExitCode:
    changes = proposals(options, io)
    if not changes:
        io.err.write("packsync: no experiment has a decision to propose\n")
        return ExitCode.OK
    if not options.post:
        for change in changes:
            io.out.write(f"{change.title}\n  branch {change.branch}, file {change.path}\n")
        io.err.write("packsync: --post to open the pull requests\n")
        return ExitCode.OK
    github = options.github or GitHub.from_environment()
    for change in changes:
        io.out.write(f"{change.title}: {github.propose_change(change)}\n")
    return ExitCode.OK
