"""Options that several commands share, built with click alone (imported at every start)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class RegistryChoice(click.Choice):  # type: ignore[type-arg]
    """A --format choice built from a registry of renderers, imported only when it is needed
    (parsing that option, or its help), so that a command's start-up imports nothing more."""

    def __init__(self, module: str, registry: str) -> None:
        self._where = (module, registry)
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        import importlib

        module, registry = self._where
        return tuple(getattr(importlib.import_module(module), registry))

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # the registry is the one source of the choices


def format_option(module: str, registry: str, default: str, help: str | None = None) -> Callable[[F], F]:
    """``--format``, its choices the names of a registry (imported only when needed)."""
    kind = RegistryChoice(module, registry)
    return click.option("--format", "output_format", type=kind, default=default, show_default=True, help=help)


keeper_option = click.option(
    "--keeper", "keeper_k", type=click.IntRange(1), default=3, show_default=True, help="Likes that make a keeper run."
)
project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Directory of packsync.yaml.",
)


set_option = functools.partial(click.option, "--set", "values", metavar="NAME=VALUE", multiple=True)


target_option = click.option(
    "--target",
    "target_name",
    metavar="NAME",
    help="A target of packsync.yaml (default: PACKSYNC_TARGET, default_target).",
)
pack_option = click.option("--pack", "packs", metavar="SLUG", multiple=True, help="Only this pack (repeatable).")


def tune_ids(value: str | None, flag: str) -> list[int]:
    """A comma-separated list of tune ids (none when the option is not given)."""
    try:
        ids = [int(part) for part in (value or "").split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("a comma-separated list of tune ids", param_hint=flag) from None
    if value is not None and (not ids or any(i < 1 for i in ids)):
        raise click.BadParameter("a comma-separated list of tune ids", param_hint=flag)
    return ids
