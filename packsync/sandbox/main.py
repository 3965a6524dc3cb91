"""``packsync sandbox``: options in, a running server out."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packsync.errors import ExitCode, fail
from packsync.sandbox.context import SandboxConfig
from packsync.sandbox.faults import FaultConfigError, FaultPlan, parse_fault_option
from packsync.sandbox.realism import REALISTIC, RealismError, parse_realism
from packsync.sandbox.server import load_seed_file, serve


@dataclass
class SandboxOptions:
    port: int = 8765
    db: Path | str = Path(".packsync/sandbox.db")
    key: str | None = None
    idempotency: str | None = None
    seed_file: Path | None = None
    latency_ms: float = 0.0
    faults: list[str] = field(default_factory=list)
    fault_seed: int = 0
    retry_after: float = 1.0
    render_delay: float = 0.2
    train_delay: float = 1.0
    access_log: bool = False
    realistic: bool = False  # every behaviour of realism.REALISTIC
    realism: list[str] = field(default_factory=list)  # NAME, -NAME or comma lists, applied after `realistic`
    time_scale: float = 1.0


def run_sandbox(options: SandboxOptions) -> int:
    try:
        rates = dict(parse_fault_option(f) for f in options.faults)
        plan = FaultPlan(
            rates=rates,
            seed=options.fault_seed,
            latency_ms=options.latency_ms,
            retry_after=options.retry_after,
        )
        seed = load_seed_file(options.seed_file) if options.seed_file else None
        realism = parse_realism(options.realism, REALISTIC if options.realistic else ())
    except (FaultConfigError, RealismError, ValueError, OSError) as exc:
        return fail(sys.stderr, f"{exc}")
    config = SandboxConfig(
        key=options.key,
        idempotency=options.idempotency,
        render_delay=options.render_delay,
        train_delay=options.train_delay,
        faults=plan,
        realism=realism,
        time_scale=options.time_scale,
    )
    try:
        asyncio.run(
            serve(options.db, config, options.port, seed, access_log=sys.stderr if options.access_log else None)
        )
    except ValueError as exc:
        return fail(sys.stderr, f"{exc}")
    except OSError as exc:
        return fail(sys.stderr, f"cannot serve on 127.0.0.1:{options.port}: {exc.strerror or exc}")
    return ExitCode.OK
