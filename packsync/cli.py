"""The command line: parse flags, call one function, map its result to an exit code.

Modules are imported inside each command so that start-up stays fast (the
pre-commit hook runs ``validate`` on every commit) and so that commands that
need no network import nothing networked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from packsync import __version__
from packsync.commands.base import invoke
from packsync.commands.experiment_cli import experiment
from packsync.commands.options import (
    format_option,
    keeper_option,
    pack_option,
    project_option,
    set_option,
    target_option,
)
from packsync.commands.options import (
    tune_ids as parse_tune_ids,
)
from packsync.commands.sandbox_cli import sandbox
from packsync.errors import ExitCode
from packsync.facts import DEFAULT_URL


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="packsync")
def cli() -> None:
    """Astria packs as code: validate pack files, plan and apply them to an account.

    Example: packsync validate && packsync plan && packsync apply
    """


cli.add_command(sandbox)
cli.add_command(experiment)


@cli.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the files that are there (default: keep them).")
@click.option("--from-account", is_flag=True, help="Import the production account's packs instead of the example.")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The production target's API.")
@click.option("--key-env", default="ASTRIA_API_KEY", show_default=True, help="The variable with its API key.")
@click.option("--source", metavar="OWNER/NAME", help="packsync's GitHub repository, for the workflow and the hooks.")
def init(directory: Path, force: bool, from_account: bool, url: str, key_env: str, source: str | None) -> None:
    """Make DIRECTORY (default: here) a repository of pack files: packsync.yaml, an example pack,
    the schemas, pre-commit hooks, the GitHub workflow and .gitignore. Files there are kept.

    Example: packsync init my-packs --source acme/packsync
    """
    from packsync.commands.init import InitOptions, run_init
    from packsync.packfiles.scaffold import DEFAULT_SOURCE

    options = InitOptions(directory, force, from_account, url, key_env, source or DEFAULT_SOURCE)
    sys.exit(invoke(run_init, options))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@format_option(
    "packsync.packfiles.reporters",
    "REPORTERS",
    "text",
    "text for people, json for tools, github for workflow annotations.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@project_option
def validate(paths: tuple[Path, ...], output_format: str, strict: bool, project_dir: Path) -> None:
    """Check pack files against the schema and the semantic rules (no network).

    PATHS are files or directories; the default is the project's packs directory.
    Exit 0 when valid, 1 when any file is invalid.

    Example: packsync validate packs/ --format github
    """
    from packsync.commands.validate import ValidateOptions, run_validate

    sys.exit(invoke(run_validate, ValidateOptions(paths, project_dir, output_format, strict)))


@cli.command()
@click.argument("pack")
@click.option("--class", "class_name", metavar="C", help="Only this class.")
@set_option(help="Fill a characteristic, to preview what a run would generate (repeatable).")
@click.option("--prompt", "keys", metavar="KEY", multiple=True, help="Only the prompt with this key (repeatable).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@project_option
def render(
    pack: str,
    class_name: str | None,
    values: tuple[str, ...],
    keys: tuple[str, ...],
    output_format: str,
    project_dir: Path,
) -> None:
    """Print the exact template texts and parameters that would be sent for PACK.

    PACK is a pack's slug or the path of its file.

    Example: packsync render pet-portraits --prompt autumn-park
    """
    from packsync.commands.render import RenderOptions, run_render

    sys.exit(invoke(run_render, RenderOptions(pack, class_name, values, keys, output_format, project_dir)))


@cli.command()
@click.option("--target", "target_name", metavar="NAME", help="A target of packsync.yaml (or PACKSYNC_TARGET).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@project_option
def packs(target_name: str | None, output_format: str, project_dir: Path) -> None:
    """List the packs on the target account and the file that declares each.

    Packs that no file declares are shown here and never touched by apply.

    Example: packsync packs --target production --format json
    """
    from packsync.commands.packs import PacksOptions, run_packs

    sys.exit(invoke(run_packs, PacksOptions(project_dir, target_name, output_format)))


replace_option = click.option(
    "--replace",
    "replace",
    metavar="PACK/KEY[/CLASS]",
    multiple=True,
    help="Recreate this template even if the account shows it in sync (repeatable).",
)


@cli.command()
@pack_option
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for apply.")
@format_option("packsync.plan.formats", "PLAN_FORMATS", "text", "markdown: for a pull-request comment.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes, 1 on error.")
@replace_option
@target_option
@project_option
def plan(
    packs: tuple[str, ...],
    out_file: Path | None,
    output_format: str,
    detailed_exitcode: bool,
    replace: tuple[str, ...],
    target_name: str | None,
    project_dir: Path,
) -> None:
    """Show what apply would change on the account to make it match the pack files.

    Example: packsync plan --out plan.json --detailed-exitcode
    """
    from packsync.commands.plan import PlanOptions, run_plan

    options = PlanOptions(project_dir, target_name, packs, output_format, out_file, detailed_exitcode, replace)
    sys.exit(invoke(run_plan, options))


@cli.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (for CI).")
@pack_option
@click.option("--allow-mass-removal", is_flag=True, help="Allow removing more than the policy's share or count.")
@click.option("--allow-over-budget", is_flag=True, help="Allow generating more images than the policy's budget.")
@click.option("--allow-empty", is_flag=True, help="Allow emptying a pack that declares no prompts.")
@click.option("--allow-protected", is_flag=True, help="Allow removals in packs with protect: true.")
@replace_option
@target_option
@project_option
def apply(
    plan_file: Path | None,
    auto_approve: bool,
    packs: tuple[str, ...],
    allow_mass_removal: bool,
    allow_over_budget: bool,
    allow_empty: bool,
    allow_protected: bool,
    replace: tuple[str, ...],
    target_name: str | None,
    project_dir: Path,
) -> None:
    """Make the account match the pack files: from a fresh plan, or from a saved PLAN_FILE.

    Exit 3 when a safety limit refuses the plan, 4 when a saved plan is stale,
    5 when some changes failed or the account does not match afterwards.

    Example: packsync apply plan.json --auto-approve
    """
    from packsync.commands.apply import ApplyOptions, run_apply

    flags = {
        "--allow-mass-removal": allow_mass_removal,
        "--allow-over-budget": allow_over_budget,
        "--allow-empty": allow_empty,
        "--allow-protected": allow_protected,
    }
    options = ApplyOptions(
        project_dir=project_dir,
        target=target_name,
        packs=packs,
        plan_file=plan_file,
        auto_approve=auto_approve,
        allow=frozenset(flag for flag, given in flags.items() if given),
        replace=replace,
    )
    sys.exit(invoke(run_apply, options))


@cli.command("import")
@click.option("--pack", "packs", metavar="SLUG_OR_ID", multiple=True, help="A pack to import (repeatable).")
@click.option("--all", "import_all", is_flag=True, help="Import every pack of the account.")
@click.option("--force", is_flag=True, help="Overwrite existing pack files.")
@click.option(
    "--diff", "show_diff", is_flag=True, help="Show what the account has that the files do not; write nothing."
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="With --diff: exit 0 when nothing differs, 2 when something does."
)
@target_option
@project_option
def import_(
    packs: tuple[str, ...],
    import_all: bool,
    force: bool,
    show_diff: bool,
    detailed_exitcode: bool,
    target_name: str | None,
    project_dir: Path,
) -> None:
    """Write pack files from the packs on the account (plan is empty right after).

    Example: packsync import --all --target production
    """
    from packsync.commands.import_packs import ImportOptions, run_import

    options = ImportOptions(project_dir, target_name, packs, import_all, force, show_diff, detailed_exitcode)
    sys.exit(invoke(run_import, options))


@cli.command()
@click.option(
    "--kind",
    type=click.Choice(["pack", "project"]),
    help="pack: a pack file's schema (printed by default); project: packsync.yaml's.",
)
@click.option(
    "--write",
    "write_dir",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[DIR]",
    help="Write pack.schema.json and packsync.schema.json into DIR (default: the project's schemas/).",
)
@project_option
def schema(kind: str | None, write_dir: str | None, project_dir: Path) -> None:
    """Print the JSON Schema of pack files, or write the schemas into the repository.

    Pack files point editors at the project's schemas/ directory; `packsync schema --write`
    puts this packsync's schemas there (run it again after upgrading packsync).

    Example: packsync schema --write
    """
    from packsync.commands.schema import SchemaOptions, run_schema

    sys.exit(invoke(run_schema, SchemaOptions(kind, write_dir, project_dir)))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 and list the files that would change.")
@project_option
def fmt(paths: tuple[Path, ...], check: bool, project_dir: Path) -> None:
    """Rewrite pack files in the canonical layout, keeping comments (default: the packs directory).

    Example: packsync fmt --check
    """
    from packsync.commands.fmt import FmtOptions, run_fmt

    sys.exit(invoke(run_fmt, FmtOptions(paths, check, project_dir)))


@cli.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write comment-N.md files here (removing those of an earlier run that this one does not write).",
)
@click.option(
    "--post", is_flag=True, help="Create or update the pull request's comments (GITHUB_TOKEN, GITHUB_REPOSITORY)."
)
@click.option("--pull", type=int, help="The pull request number (default: from GITHUB_EVENT_PATH).")
def comment(plan_file: Path, out_dir: Path | None, post: bool, pull: int | None) -> None:
    """Turn a saved plan into pull-request comments: split between packs, found again by a hidden marker.

    Example: packsync comment plan.json --post
    """
    from packsync.commands.github import CommentOptions, run_comment

    sys.exit(invoke(run_comment, CommentOptions(plan_file, out_dir, post, pull)))


@cli.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the issue's body to drift.md here when there is drift (and remove an old one when not).",
)
@click.option("--post", is_flag=True, help="Open, update or close the drift issue (GITHUB_TOKEN, GITHUB_REPOSITORY).")
def drift(plan_file: Path, out_dir: Path | None, post: bool) -> None:
    """Report drift from a saved plan: exit 0 when the account matches, 2 when it does not.

    Example: packsync drift plan.json --out-dir drift/
    """
    from packsync.commands.github import DriftOptions, run_drift

    sys.exit(invoke(run_drift, DriftOptions(plan_file, out_dir, post)))


@cli.command("reviewed-plan")
@click.option("--target", "target_name", required=True, metavar="NAME", help="The target the plan was made for.")
@click.option("--commit", metavar="SHA", help="The pushed merge commit (default: GITHUB_SHA).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=Path("plan.json"))
def reviewed_plan(target_name: str, commit: str | None, out_file: Path) -> None:
    """Download the plan saved when the merged pull request was reviewed (GitHub Actions).

    Example: packsync reviewed-plan --target production --out plan.json
    """
    from packsync.commands.github import ReviewedPlanOptions, run_reviewed_plan

    sys.exit(invoke(run_reviewed_plan, ReviewedPlanOptions(target_name, commit, out_file)))


@cli.command()
@click.option("--probe", is_flag=True, help="Also write: a free fast probe (leaves a tune and a pack behind).")
@click.option("--save", is_flag=True, help="Keep what the probe learned for plan and apply (.packsync/state).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@target_option
@project_option
def doctor(probe: bool, save: bool, output_format: str, target_name: str | None, project_dir: Path) -> None:
    """Check what the account does where the API's docs leave it open; read-only without --probe.

    Example: packsync doctor --target production --format json
    """
    from packsync.commands.doctor import DoctorOptions, run_doctor

    sys.exit(invoke(run_doctor, DoctorOptions(project_dir, target_name, probe, save, output_format)))


@cli.command()
@pack_option
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only runs from this day on (YYYY-MM-DD).")
@format_option(
    "packsync.feedback.stats_output", "STATS_FORMATS", "table", "html: one self-contained page with bar charts."
)
@click.option("--min-runs", type=click.IntRange(1), default=10, show_default=True, help="Fewest runs to flag a prompt.")
@keeper_option
@click.option(
    "--exclude-tune-ids",
    metavar="ID,...",
    help="More test tunes whose runs are not customers' (besides the target's test_tune_ids).",
)
@target_option
@project_option
def stats(
    packs: tuple[str, ...],
    since: Any,
    output_format: str,
    min_runs: int,
    keeper_k: int,
    exclude_tune_ids: str | None,
    target_name: str | None,
    project_dir: Path,
) -> None:
    """Likes per template prompt and per pack, best first, mapped back to the pack files.

    Runs on test tunes are left out: the target's test_tune_ids, --exclude-tune-ids, and
    every tune a preview pack (PACK-preview) has run on.

    Example: packsync stats --since 2026-11-01 --format html
    """
    from packsync.commands.stats import StatsOptions, run_stats

    day = since.date() if since is not None else None
    exclude = parse_tune_ids(exclude_tune_ids, "--exclude-tune-ids")
    options = StatsOptions(project_dir, target_name, packs, day, output_format, min_runs, exclude, keeper_k)
    sys.exit(invoke(run_stats, options))


@cli.command()
@pack_option
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only runs from this day on (YYYY-MM-DD).")
@format_option("packsync.feedback.catalog", "CATALOG_FORMATS", "json")
@click.option("--min-runs", type=click.IntRange(1), default=10, show_default=True, help="Fewest runs to flag a prompt.")
@keeper_option
@target_option
@project_option
def catalog(
    packs: tuple[str, ...], since: Any, output_format: str, min_runs: int, keeper_k: int, target_name: str | None,
    project_dir: Path,
) -> None:  # fmt: skip
    """The packs and their prompts ranked by how well customers like them, with template ids
    (the figures of stats).

    Example: packsync catalog --format markdown
    """
    from packsync.commands.catalog import CatalogOptions, run_catalog
    from packsync.commands.stats import StatsOptions

    day = since.date() if since is not None else None
    stats = StatsOptions(project_dir, target_name, packs, day, "json", min_runs, keeper_k=keeper_k)
    sys.exit(invoke(run_catalog, CatalogOptions(stats, output_format)))


@cli.command()
@click.argument("pack")
@click.option(
    "--tune-ids",
    metavar="ID,...",
    help="Existing test tunes to run the prompts on (default: the target's test_tune_ids of the pack's classes).",
)
@click.option("--prompt", "keys", metavar="KEY", multiple=True, help="A prompt to preview (repeatable).")
@click.option("--changed", is_flag=True, help="The prompts the current plan would create or replace.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the contact sheet (default: .packsync/preview/PACK.html in the project).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    help="Seconds to wait for the images once a run's prompts appeared (default: 600).",
)
@click.option("--allow-over-budget", is_flag=True, help="Allow more images than the policy's budget.")
@set_option(help="A characteristic's value for the runs (repeatable; default: its example in the pack file).")
@target_option
@project_option
def preview(
    pack: str,
    tune_ids: str | None,
    keys: tuple[str, ...],
    changed: bool,
    out_file: Path | None,
    timeout: float | None,
    allow_over_budget: bool,
    values: tuple[str, ...],
    target_name: str | None,
    project_dir: Path,
) -> None:
    """Run prompts of PACK on test tunes and write an HTML contact sheet of the images.

    Exit 1 when a run failed or an image could not be embedded (the sheet is written all the same).

    Example: packsync preview pet-portraits --changed --tune-ids 690310
    """
    from packsync.commands.preview import PreviewOptions, run_preview

    options = PreviewOptions(
        pack=pack,
        project_dir=project_dir,
        target=target_name,
        tune_ids=parse_tune_ids(tune_ids, "--tune-ids"),
        keys=keys,
        changed=changed,
        out_file=out_file,
        timeout=timeout,
        allow_over_budget=allow_over_budget,
        assignments=values,
    )
    sys.exit(invoke(run_preview, options))


def main() -> NoReturn:
    """Entry point: no traceback reaches the user unless PACKSYNC_DEBUG is set."""
    level = os.environ.get("PACKSYNC_LOG", "")
    if level:
        from packsync import logs

        logs.configure(level)
    try:
        cli(prog_name="packsync")
    except KeyboardInterrupt:
        click.echo("packsync: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: say so in one line, keep the details for debugging
        if os.environ.get("PACKSYNC_DEBUG"):
            import traceback

            traceback.print_exc()
        else:
            click.echo(
                f"packsync: internal error: {type(exc).__name__}: {exc} (set PACKSYNC_DEBUG=1 for details)",
                err=True,
            )
        sys.exit(ExitCode.ERROR)
    sys.exit(ExitCode.OK)
