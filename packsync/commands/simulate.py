"""``packsync sandbox simulate``: ask a running sandbox for seeded customer runs of a pack.

It only sends ``POST /_sandbox/simulate`` and prints the answer (the truth the runs were drawn
from) as JSON; the model is :mod:`packsync.sandbox.customers`. Only click is imported at start.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

DEFAULT_URL = "http://127.0.0.1:8765"


def _share(text: str) -> tuple[str, float]:
    name, _, weight = text.partition("=")
    try:
        return name.strip(), float(weight)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not CLASS=WEIGHT", param_hint="--class-share") from None


@click.command("simulate")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The running sandbox.")
@click.option(
    "--key",
    envvar=["PACKSYNC_SANDBOX_KEY", "ASTRIA_API_KEY"],
    help="The sandbox's key (also PACKSYNC_SANDBOX_KEY, else ASTRIA_API_KEY; any key if it has none).",
)
@click.option("--pack", required=True, metavar="ID_OR_SLUG", help="One of the account's packs.")
@click.option("--runs", type=click.IntRange(0, 100_000), required=True, help="Customer runs to make.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the truth and the runs.")
@click.option("--days", type=click.FloatRange(0, 3650), default=30.0, show_default=True, help="Period ending now.")
@click.option("--until", metavar="TIME", help="End of the period, ISO 8601 (default: now).")
@click.option("--mean", type=click.FloatRange(0, 1, min_open=True, max_open=True), help="Mean like rate (0.2).")
@click.option("--concentration", type=click.FloatRange(0, min_open=True), help="How alike templates are (20).")
@click.option(
    "--truth",
    "truth_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file {"<template id>": probability, ...} for every template (instead of --mean).',
)
@click.option(
    "--run-correlation", type=click.FloatRange(0, 1, max_open=True), help="How alike one run's likes are (0.3)."
)
@click.option("--class-share", "shares", multiple=True, metavar="CLASS=W", help="Weight of a class (repeatable).")
def simulate_command(truth_file: Path | None, shares: tuple[str, ...], **given: Any) -> None:
    """Make seeded customer runs of a pack in a running sandbox and print the truth as JSON.

    Each run is a trained customer tune of one class with the class's prompts cloned from the
    pack's templates; each prompt is liked with its template's true probability (drawn from
    --mean/--concentration, or given by --truth), one run's likes correlated. Another --seed adds
    more runs.

    Example: packsync sandbox simulate --pack pet-portraits --runs 200 --seed 7
    """
    import httpx

    url, key = given.pop("url"), given.pop("key") or "sandbox"
    body: dict[str, Any] = {k: v for k, v in given.items() if v is not None and k not in ("mean", "concentration")}
    if truth_file is not None and (given["mean"] is not None or given["concentration"] is not None):
        raise click.UsageError("--truth gives every probability: leave out --mean and --concentration")
    if truth_file is not None:
        try:
            body["truth"] = json.loads(truth_file.read_text())
        except (OSError, ValueError) as exc:
            raise click.UsageError(f"--truth {truth_file}: {exc}") from exc
    else:
        body["truth"] = {k: given[k] for k in ("mean", "concentration") if given[k] is not None}
    if shares:
        body["class_shares"] = dict(_share(s) for s in shares)
    try:
        answer = httpx.post(
            f"{url.rstrip('/')}/_sandbox/simulate",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=600,
        )
    except httpx.HTTPError as exc:
        sys.stderr.write(f"packsync: error: cannot reach the sandbox at {url}: {exc}\n")
        sys.exit(1)
    if answer.status_code >= 400:
        try:
            problem = answer.json().get("error") or answer.text
        except ValueError:
            problem = answer.text
        sys.stderr.write(f"packsync: error: the sandbox answered {answer.status_code}: {problem}\n")
        sys.exit(1)
    click.echo(json.dumps(answer.json(), indent=2))
