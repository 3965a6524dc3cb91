"""Benchmark: the client reads 200 packs of 60 template prompts each through 50 ms of latency.

The sandbox adds 50 ms to every API request. The lower bound of the read is
latency x ceil(requests / concurrency): what perfect use of the client's
concurrency slots would take. Target: at most 1.3x that bound.

    python bench/bench_client.py [--packs 200] [--prompts 60] [--latency-ms 50] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sandboxproc import KEY, SandboxProcess

from packsync.astria.client import AstriaClient
from packsync.astria.live import read_account
from packsync.astria.settings import ClientConfig, Secret
from packsync.sandbox.store import Store


def seed(db: Path, packs: int, prompts: int) -> None:
    """Fill a sandbox database directly (much faster than through the API)."""
    store = Store(db)
    store.begin()
    store.insert_tune("", {"title": "ref man", "name": "man", "branch": "flux1"}, ready_at=0, tune_id=5000)
    store.finish_tune(5000, "2026-01-01T00:00:00.000Z")
    for p in range(packs):
        pack_id = store.insert_pack(
            "", {"slug": f"pack-{p}", "title": f"Pack {p}", "base_tune_id": 1, "model_type": "lora"}
        )
        for i in range(prompts):
            store.insert_prompt(
                "",
                {
                    "tune_id": 5000,
                    "pack_id": pack_id,
                    "text": f"<lora:5000:1> ohwx man, pack {p} prompt {i}",
                    "class_name": "man",
                    "ready_at": 0,
                },
            )
    store.db.execute("UPDATE prompts SET trained_at = '2026-01-01T00:00:00.000Z'")
    store.commit()
    store.close()


async def read(url: str, concurrency: int) -> tuple[float, int, int, int]:
    config = ClientConfig(url, Secret(KEY), concurrency=concurrency)
    async with AstriaClient(config) as client:
        start = time.perf_counter()
        live = await read_account(client)
        elapsed = time.perf_counter() - start
        return elapsed, client.requests_sent, len(live), sum(len(p.templates) for p in live)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=200)
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="small sizes are fine: report, never fail on a target")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sandbox.db"
        seed(db, args.packs, args.prompts)
        with SandboxProcess(db, "--latency-ms", str(args.latency_ms), "--render-delay", "0") as sandbox:
            elapsed, requests, packs, templates = asyncio.run(read(sandbox.url, args.concurrency))
    if packs != args.packs or templates != args.packs * args.prompts:
        sys.exit(f"read {packs} packs and {templates} templates; expected {args.packs} and {args.packs * args.prompts}")
    bound = args.latency_ms / 1000 * math.ceil(requests / args.concurrency)
    ratio = elapsed / bound
    passed = ratio <= 1.3
    print(f"{'case':<44} {'time':>7} {'bound':>7} {'ratio':>6} {'target':>7}  result")
    case = f"{args.packs} packs x {args.prompts} templates, {args.latency_ms:g} ms"
    print(f"{case:<44} {elapsed:>6.2f}s {bound:>6.2f}s {ratio:>6.2f} {'<= 1.3':>7}  {'ok' if passed else 'MISSED'}")
    print(f"{requests} requests at concurrency {args.concurrency}; bound = latency x ceil(requests / concurrency)")
    return 0 if (passed) or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
