"""Measurement: how many applies the example packs need to converge from scratch against the realistic
sandbox (sparse echo, gallery slugs, dedup, late commits, ...) with 20% of requests faulted.

Each seed is one account: apply (faults on), plan (faults off), until the plan is empty or five
applies have run. Prints how many seeds converged after 1, 2, ... applies, and the stray packs and
extra copies left on the accounts (both must be 0). Exits 1 when a seed needs more than two applies
or leaves a stray pack or a copy. Everything runs on 127.0.0.1 and stops by itself.

    python bench/bench_converge.py [--seeds 30]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PACKSYNC_LOST_ANSWER_WAITS", "0.02,0.05,0.1,0.2,0.4")  # the sandbox's clock runs 1000x

from packsync.sandbox.realism import REALISTIC  # noqa: E402
from tests.conftest import with_packs  # noqa: E402
from tests.engine.conftest import REFERENCE_TUNES, Project  # noqa: E402
from tests.sandbox_helpers import ThreadSandbox  # noqa: E402

FAULTS = {"500": 0.04, "502": 0.03, "503": 0.03, "504": 0.04, "reset": 0.03, "429": 0.03}  # 20% in all
ENV = {"PACKSYNC_RETRY_ATTEMPTS": "8", "PACKSYNC_RETRY_MAX_DELAY": "0.02", "PACKSYNC_READ_TIMEOUT": "0.5"}
MAX_APPLIES = 5


def one_account(sandbox: ThreadSandbox, seed: int) -> tuple[int, int, int]:
    """(applies to converge, or MAX_APPLIES + 1; stray packs; extra copies) for one seeded account."""
    sandbox.admin("POST", "reset")
    root = Path(tempfile.mkdtemp(prefix="packsync-converge-"))
    with_packs(root)
    (root / "packsync.yaml").write_text(
        f"default_target: test\ntargets:\n  test:\n    url: {sandbox.url}\n    key_env: PACKSYNC_TEST_KEY\n"
    )
    sandbox.seed_tunes(*REFERENCE_TUNES)
    sandbox.admin("POST", "settings", {"realism": sorted(REALISTIC), "time_scale": 1000})
    project = Project(root, sandbox)
    applies = MAX_APPLIES + 1
    for n in range(1, MAX_APPLIES + 1):
        sandbox.faults(rates=FAULTS, seed=seed * 10 + n, retry_after=0.01)
        project.run("apply", "--auto-approve", env=ENV)
        sandbox.faults()
        if project.run("plan", "--detailed-exitcode", env=ENV).code == 0:
            applies = n
            break
    with sandbox.http() as http:
        own = [p for p in http.get("/packs").json() if p.get("user_id") == 1]
        copies = 0
        for pack in own:
            live = http.get("/prompts", params={"pack_id": pack["id"], "limit": 120}).json()
            keys = [(t["text"], t.get("seed")) for t in live]
            copies += len(keys) - len(set(keys))
    sandbox.admin("POST", "settings", {"realism": [], "time_scale": 1})
    return applies, len(own) - 2, copies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    sandbox = ThreadSandbox().start()
    try:
        needed: collections.Counter[int] = collections.Counter()
        stray = copies = 0
        for seed in range(args.seeds):
            applies, extra_packs, extra_copies = one_account(sandbox, 100 + seed)
            needed[applies] += 1
            stray += extra_packs
            copies += extra_copies
    finally:
        sandbox.stop()
    shown = ", ".join(
        f"{n} apply: {c}" if n <= MAX_APPLIES else f"not in {MAX_APPLIES}: {c}" for n, c in sorted(needed.items())
    )
    print(f"realistic sandbox, 20% faults, {args.seeds} accounts: converged after {shown}")
    print(f"stray packs: {stray}; extra copies: {copies}")
    worst = max(needed)
    return 0 if worst <= 2 and stray == 0 and copies == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
