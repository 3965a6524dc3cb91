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

EXIT_OK = 0
EXIT_ERROR = 1


class UserError(click.ClickException):
    """A problem the user can fix; printed as one line, exit code 1."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"packsync: error: {self.format_message()}", err=True)


project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Directory of packsync.yaml.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="packsync")
def cli() -> None:
    """Astria packs as code: validate pack files, plan and apply them to an account."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for workflow annotations.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@project_option
def validate(paths: tuple[Path, ...], output_format: str, strict: bool, project_dir: Path) -> None:
    """Check pack files against the schema and the semantic rules (no network).

    PATHS are files or directories; the default is the project's packs directory.
    Exit 0 when valid, 1 when any file is invalid.
    """
    from packsync.validate import run_validate

    code = run_validate(list(paths), project_dir, output_format, strict, sys.stdout, sys.stderr)
    sys.exit(code)


@cli.command()
@click.argument("pack")
@click.option("--class", "class_name", metavar="C", help="Only this class.")
@click.option(
    "--set",
    "values",
    metavar="NAME=VALUE",
    multiple=True,
    help="Fill a characteristic, to preview what a run would generate (repeatable).",
)
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
    """
    from packsync.render import RenderRequest, run_render

    request = RenderRequest(pack, class_name, list(values), list(keys), output_format)
    sys.exit(run_render(request, project_dir, sys.stdout, sys.stderr))


def main() -> NoReturn:
    """Entry point: no traceback reaches the user unless PACKSYNC_DEBUG is set."""
    try:
        cli(prog_name="packsync")
    except KeyboardInterrupt:
        click.echo("packsync: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, keep the details for debugging
        if os.environ.get("PACKSYNC_DEBUG"):
            import traceback

            traceback.print_exc()
        else:
            click.echo(
                f"packsync: internal error: {type(exc).__name__}: {exc} (set PACKSYNC_DEBUG=1 for details)",
                err=True,
            )
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_OK)
