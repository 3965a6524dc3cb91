"""``packsync experiment``: plan, follow and close the prompt tests declared in pack files.

Only click is imported at start; each command imports its handler when it runs.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from packsync.commands.base import invoke
from packsync.commands.options import format_option, keeper_option, project_option, target_option

experiment_name = click.argument("name", metavar="[PACK/]NAME")


@click.group()
def experiment() -> None:
    """Plan, follow and close the experiments declared in pack files (`experiments:`).

    \b
    Example:
      packsync experiment plan warmer-light
      packsync experiment status --format markdown
      packsync experiment conclude warmer-light --write
    """


@experiment.command("plan")
@experiment_name
@format_option("packsync.feedback.experiment_output", "PLAN_FORMATS", "text")
@click.option(
    "--runs-per-day", type=click.FloatRange(0, min_open=True), help="Plan for this traffic, not the account's."
)
@click.option(
    "--baseline", type=click.FloatRange(0, 1, min_open=True, max_open=True), help="Plan for this control rate."
)
@keeper_option
@target_option
@project_option
def plan_command(
    name: str, output_format: str, runs_per_day: float | None, baseline: float | None, keeper_k: int,
    target_name: str | None, project_dir: Path,
) -> None:  # fmt: skip
    """Before it starts: the runs, days and images a decision will take, per design, from the
    account's last 30 days of the pack's runs.

    Example: packsync experiment plan warmer-light
    """
    from packsync.commands.experiment import ExperimentOptions, run_experiment_plan

    options = ExperimentOptions(project_dir, target_name, name, output_format, keeper_k=keeper_k)
    sys.exit(invoke(run_experiment_plan, options.with_overrides(runs_per_day, baseline)))


@experiment.command("status")
@click.argument("name", metavar="[[PACK/]NAME]", required=False)
@format_option("packsync.feedback.experiment_output", "STATUS_FORMATS", "text")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when a running experiment has a decision ready.")
@keeper_option
@target_option
@project_option
def status_command(
    name: str | None, output_format: str, detailed_exitcode: bool, keeper_k: int, target_name: str | None,
    project_dir: Path,
) -> None:  # fmt: skip
    """Where each experiment stands: runs, the effect and its always-valid interval, the decision.

    Example: packsync experiment status --detailed-exitcode --format json
    """
    from packsync.commands.experiment import ExperimentOptions, run_experiment_status

    options = ExperimentOptions(project_dir, target_name, name, output_format, detailed_exitcode, keeper_k)
    sys.exit(invoke(run_experiment_status, options))


@experiment.command("conclude")
@experiment_name
@click.option("--winner", metavar="KEY", help="Keep this arm whatever the status says (no account read).")
@click.option("--write", is_flag=True, help="Edit the pack file; without it, print the change only.")
@keeper_option
@target_option
@project_option
def conclude_command(
    name: str, winner: str | None, write: bool, keeper_k: int, target_name: str | None, project_dir: Path
) -> None:
    """Close a decided experiment in its pack file: the other arms' prompts removed, the winner
    kept, the experiment marked concluded, comments kept; the next plan shows those removals.

    Example: packsync experiment conclude warmer-light --write
    """
    from packsync.commands.experiment import ExperimentOptions, run_experiment_conclude

    options = ExperimentOptions(project_dir, target_name, name, "text", keeper_k=keeper_k)
    sys.exit(invoke(run_experiment_conclude, options.for_conclude(winner, write)))


@experiment.command("rotate")
@click.argument("name", metavar="[[PACK/]NAME]", required=False)
@click.option("--dry-run", is_flag=True, help="Say what would be attached and detached; change nothing.")
@click.option(
    "--at",
    "moment",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="Rotate as of this moment (UTC unless it says), e.g. to see tomorrow's arm with --dry-run.",
)
@target_option
@project_option
def rotate_command(
    name: str | None, dry_run: bool, moment: datetime | None, target_name: str | None, project_dir: Path
) -> None:
    """Attach the arm each running rotation experiment's schedule names for now and detach the
    others (only attach and detach: no prompt is created, no image made). Run it on a schedule,
    e.g. hourly; it changes nothing within a block.

    Example: packsync experiment rotate --dry-run
    """
    from packsync.commands.experiment import ExperimentOptions, run_experiment_rotate

    at = None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
    options = ExperimentOptions(project_dir, target_name, name, "text", now=at, dry_run=dry_run)
    sys.exit(invoke(run_experiment_rotate, options))


@experiment.command("propose")
@click.argument("name", metavar="[[PACK/]NAME]", required=False)
@click.option(
    "--post", is_flag=True, help="Open (or update) the pull requests on GitHub (GITHUB_TOKEN, GITHUB_REPOSITORY)."
)
@click.option("--base", metavar="BRANCH", help="The branch they merge into (default: the repository's default).")
@keeper_option
@target_option
@project_option
def propose_command(
    name: str | None, post: bool, base: str | None, keeper_k: int, target_name: str | None, project_dir: Path
) -> None:
    """One pull request per decided experiment, made by `conclude` on a branch of its own
    (packsync/conclude-PACK-NAME), with the status in its description. For a scheduled job.

    Example: packsync experiment propose --post
    """
    from packsync.commands.experiment import ExperimentOptions, run_experiment_propose

    options = ExperimentOptions(project_dir, target_name, name, "text", keeper_k=keeper_k, post=post, base=base)
    sys.exit(invoke(run_experiment_propose, options))
