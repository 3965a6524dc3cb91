"""``packsync sandbox``: the local Astria-compatible server, and ``sandbox simulate``.

Only click is imported at start; the server's modules when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from packsync.commands.simulate import simulate_command


@click.group(invoke_without_command=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free port.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".packsync/sandbox.db"),
    show_default=True,
    help="SQLite file that keeps the state across restarts (':memory:' for none).",
)
@click.option(
    "--key",
    envvar="PACKSYNC_SANDBOX_KEY",
    help="Accept only this API key (default: any non-empty key). Also PACKSYNC_SANDBOX_KEY.",
)
@click.option(
    "--idempotency",
    type=click.Choice(["off", "on", "text-seed"]),
    help="The account's idempotency setting (kept in the database; default off).",
)
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file of reference tunes to create at start ({tunes: [{id, name, ...}]}).",
)
@click.option("--latency-ms", type=click.FloatRange(0), default=0, help="Added latency per API request.")
@click.option(
    "--fault", "faults", multiple=True, metavar="KIND=RATE", help="Inject a fault, e.g. 429=0.1 (repeatable)."
)
@click.option("--fault-seed", type=int, default=0, show_default=True, help="Seed of the fault sequence.")
@click.option("--retry-after", type=click.FloatRange(0), default=1.0, show_default=True, help="Retry-After of a 429.")
@click.option("--render-delay", type=click.FloatRange(0), default=0.2, show_default=True, help="Seconds until images.")
@click.option(
    "--train-delay", type=click.FloatRange(0), default=1.0, show_default=True, help="Seconds to train a tune."
)
@click.option("--access-log", is_flag=True, help="Print one line per API request to stderr (never a header or key).")
@click.option(
    "--realistic",
    is_flag=True,
    help="Take the least convenient plausible reading of the API everywhere (every behaviour below but lost-writes).",
)
@click.option(
    "--realism",
    multiple=True,
    metavar="NAME",
    help="Turn one realistic behaviour on (NAME), or off (-NAME, after --realistic); repeatable, or a comma list.",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(0, min_open=True),
    default=1.0,
    show_default=True,
    help="Sandbox seconds per real second in the realistic waits (100: a 180 s wait lasts 1.8 s).",
)
@click.pass_context
def sandbox(ctx: click.Context, /, **options: Any) -> None:
    """Run the local Astria-compatible server on 127.0.0.1.

    The first line on stdout is always `listening http://127.0.0.1:PORT`. Fault kinds:
    429, 429-bare, 500, 502, 503, 504 (after the write), reset (after the write), slow.
    `packsync sandbox simulate --pack SLUG --runs N --seed S` makes seeded customer runs
    and likes of a pack in a running sandbox (see `packsync sandbox simulate --help`).

    \b
    Realistic behaviours (--realistic, or --realism NAME each):
      sparse-echo          prompts read back only the documented fields;
                           scheduler/backend_version from the account
      account-packs        GET /packs ignores X-Workspace-Id
      error-bodies         Rails field errors on 422, HTML on 502/504
      packs-page-cap       GET /packs caps limit at 20
      minimal-pack-create  POST /packs keeps title, base_tune_id, model_type,
                           subtitle; answers 200
      gallery              other users' gallery packs (260 corporate-headshots, ...);
                           a taken slug gets a random tail
      tune-expiry          a tune past expires_at (no auto_extend) is 404
      dedup                (text, seed) dedup per tune; the replay answers 201
      patch-ignores        PATCH of a prompt ignores other fields (no 422)
      no-tune-filter       GET /prompts?tune_id= is ignored
      async-runs           tune_ids runs answer without ids; clones 10-180 s later,
                           polls meanwhile 404/503
      poll-limit           polling a run's listing within 5 s answers 429
      like-once            a repeated like answers 422
      late-commit          a write faulted 500/504 is answered first, committed 5-60 s later
      lost-writes          (not in --realistic) ... and never committed
      model-rules          faceid only on gallery tunes; <pti:...> is a 422
      class-after-tag      a template's class is the word after its tag
      flux-rules           on Flux: negative_prompt, cfg_scale >= 5, resolution are 422s

    Example: packsync sandbox --port 8765 --db /tmp/astria.db --realistic
    """
    if ctx.invoked_subcommand is not None:
        return  # `packsync sandbox simulate ...` talks to a running sandbox
    from packsync.sandbox.main import SandboxOptions, run_sandbox

    listed = {name: list(options[name]) for name in ("faults", "realism")}
    sys.exit(run_sandbox(SandboxOptions(**{**options, **listed})))


sandbox.add_command(simulate_command)
