"""Benchmark: plan, diff, peak memory and apply at the scale of a large account.

Against the sandbox with 50 ms added to every request:

1. ``plan`` of 200 packs x 60 templates (12,000) that the account already holds
   (an empty plan: the "plan on every pull request" case), against the lower
   bound latency x ceil(requests / concurrency). Target: at most 1.3x.
2. The diff alone (no network) of those 12,000 templates. Target: under 1 s.
3. Peak RSS of a whole plan (files, reads, diff) in a child process, next to a
   child that imports the same modules and does nothing. Target: under 300 MB.
4. ``apply`` of 1,000 template creates, against the same kind of lower bound.
   Target: at most 1.3x.

Prints one table and exits 1 when a target is missed.

    python bench/bench_plan.py [--packs 200] [--prompts 30] [--apply 1000] [--latency-ms 50] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sandboxproc import KEY, SandboxProcess

from packsync.apply.applier import Applier
from packsync.astria.client import AstriaClient
from packsync.astria.settings import ClientConfig, Secret
from packsync.astria.target import ResolvedTarget
from packsync.desired.state import DesiredPack, desired_state
from packsync.packfiles.project import Policy
from packsync.plan.build import Workspace, load_workspace, make_plan, read_live
from packsync.plan.diff import LiveState, diff
from packsync.sandbox.store import Store

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "plan"
TUNES = {"man": 5000, "woman": 5001}
APPLY_SLUG = "bench-apply"

VOCABULARY = """
studio portrait soft light window office city bokeh film grain golden hour backdrop charcoal blazer
linen shirt smile confident editorial lens sharp eyes warm cool tones evening rooftop library
bookshelf marble minimal clean modern classic black white
"""
WORDS = VOCABULARY.split()

# The child of the memory row: a whole plan (files, reads, diff), or only the imports.
CHILD = """
import asyncio, resource, sys
from pathlib import Path
from packsync.astria.client import AstriaClient
from packsync.astria.settings import ClientConfig, Secret
from packsync.plan.build import load_workspace, make_plan
from packsync.astria.target import ResolvedTarget

async def plan(url, project, key):
    workspace = load_workspace(Path(project))
    async with AstriaClient(ClientConfig(url, Secret(key), concurrency=8)) as client:
        made = await make_plan(client, workspace, ResolvedTarget(name="bench", url=url), workspace.packs)
    if made.has_changes or made.refusals:
        sys.exit("the plan has changes")
    return sum(p.desired_count for p in made.packs)

if sys.argv[1] == "plan":
    print("templates", asyncio.run(plan(*sys.argv[2:5])))
print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
try:  # the peak of this process's own memory only (Linux), to check ru_maxrss against
    print("hwm_kb", next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
except (OSError, StopIteration):
    pass
"""


# -- the pack files ------------------------------------------------------------


def pack_file(slug: str, title: str, prompts: int, rng: random.Random) -> str:
    """A pack of ``prompts`` prompts, each applied to both classes (man and woman)."""
    lines = [
        f"slug: {slug}",
        f"title: {title}",
        "model:",
        "  base_tune_id: 666678",  # SDXL: negative prompts and any cfg_scale are allowed
        "  model_type: lora",
        "classes:",
        *(f"  {name}: {{ tune_id: {tune} }}" for name, tune in TUNES.items()),
        "defaults:",
        "  num_images: 4",
        '  negative_prompt: "blurry, lowres, watermark"',
        "  super_resolution: true",
        "prompts:",
    ]
    for p in range(prompts):
        words = " ".join(rng.choice(WORDS) for _ in range(18))
        lines.append(f"  - key: prompt-{p}")
        lines.append(f'    text: "{{{{subject}}}}, {words}, {slug} variant {p}"')
        if p % 3 == 0:
            lines.append(f"    seed: {rng.randrange(0, 2**32)}")
        if p % 4 == 1:
            lines.append(f"    cfg_scale: {rng.choice([3, 3.5, 5, 7.5])}")
        if p % 5 == 2:
            lines.append(f'    aspect_ratio: "{rng.choice(["1:1", "4:5", "2:3"])}"')
    return "\n".join(lines) + "\n"


def write_project(root: Path, packs: list[tuple[str, str, int]], seed: int) -> Path:
    """A project directory (no packsync.yaml: default policy) with one file per pack."""
    if root.exists():
        shutil.rmtree(root)
    (root / "packs").mkdir(parents=True)
    rng = random.Random(seed)
    for slug, title, prompts in packs:
        (root / "packs" / f"{slug}.yaml").write_text(pack_file(slug, title, prompts, rng), encoding="utf-8")
    return root


def load(root: Path) -> Workspace:
    workspace = load_workspace(root)
    if workspace.errors:
        sys.exit(f"generated pack files are invalid: {workspace.errors[0]}")
    return workspace


# -- the sandbox's database ----------------------------------------------------


def seed(db: Path, full: list[DesiredPack], empty: list[DesiredPack]) -> None:
    """The account: every template of ``full`` already there (trained), ``empty`` packs without any."""
    store = Store(db)
    store.begin()
    for name, tune in TUNES.items():
        store.insert_tune("", {"title": f"ref {name}", "name": name, "branch": "flux1"}, ready_at=0, tune_id=tune)
        store.finish_tune(tune, "2026-01-01T00:00:00.000Z")
    empty_slugs = {want.slug for want in empty}
    for want in full + empty:
        model = want.pack.model
        pack_id = store.insert_pack(
            "",
            {
                "slug": want.slug,
                "title": want.pack.title,
                "base_tune_id": model.base_tune_id,
                "model_type": model.model_type,
                "token": model.token,
            },
        )
        if want.slug in empty_slugs:
            continue
        for t in want.templates:
            params = dict(t.params)
            images = int(params.pop("num_images", 1))
            store.insert_prompt(
                "",
                {
                    "tune_id": t.tune_id,
                    "pack_id": pack_id,
                    "text": t.text,
                    "class_name": t.class_name,
                    "params": params,
                    "num_images": images,
                    "cost_mc": images * 800,
                    "ready_at": 0,
                },
            )
    store.db.execute("UPDATE prompts SET trained_at = '2026-01-01T00:00:00.000Z'")
    store.commit()
    store.close()


# -- the measurements ----------------------------------------------------------


@dataclass
class Row:
    case: str
    measured: str
    baseline: str
    ratio: float | None
    target: str
    passed: bool


def client_for(url: str, concurrency: int) -> AstriaClient:
    return AstriaClient(ClientConfig(url, Secret(KEY), concurrency=concurrency))


def bound(latency_ms: float, requests: int, concurrency: int) -> float:
    return latency_ms / 1000 * math.ceil(requests / concurrency)


async def measure_plan(
    url: str, workspace: Workspace, concurrency: int, repeat: int
) -> tuple[list[float], int, dict[str, LiveState]]:
    """Wall times of make_plan, the requests of one, and the live state it read (for the diff row)."""
    target = ResolvedTarget(name="bench", url=url)
    times = []
    requests = 0
    for _ in range(repeat):
        async with client_for(url, concurrency) as client:
            start = time.perf_counter()
            plan = await make_plan(client, workspace, target, workspace.packs)
            times.append(time.perf_counter() - start)
            requests = client.requests_sent
        if plan.has_changes or plan.refusals:
            first = plan.changed_packs[0].changes[:1] if plan.changed_packs else plan.refusals[:1]
            sys.exit(f"the plan is not empty: {len(plan.changed_packs)} packs change; first: {first}")
    async with client_for(url, concurrency) as client:
        live, _ = await read_live(client, desired_state(workspace.packs))
    return times, requests, live


def measure_diff(workspace: Workspace, live: dict[str, LiveState], repeat: int) -> tuple[float, float, int]:
    """Median times of expanding the desired state and of diffing it; templates diffed."""
    expand_times, diff_times = [], []
    templates = 0
    for _ in range(repeat):
        start = time.perf_counter()
        desired = desired_state(workspace.packs)
        expand_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        plan = diff(desired, live, "bench", Policy())
        diff_times.append(time.perf_counter() - start)
        if plan.has_changes:
            sys.exit("the diff found changes")
        templates = sum(p.desired_count for p in plan.packs)
    return statistics.median(expand_times), statistics.median(diff_times), templates


def child_rss(*args: str) -> tuple[int, dict[str, str]]:
    """Peak RSS (KiB) of the memory child, and what else it printed.

    Linux carries a process's peak RSS over fork and exec, so a child started from
    this (large) process would report this process's peak; a shell in between,
    made to fork (the command is not its last), starts the child from a small process.
    """
    cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", sys.executable, "-c", CHILD, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"memory child failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    out = dict(line.split(maxsplit=1) for line in done.stdout.splitlines() if " " in line)
    maxrss = int(out["maxrss_kb"])
    if "hwm_kb" in out and maxrss > int(out["hwm_kb"]) * 1.2 + 4096:
        sys.exit(f"ru_maxrss {maxrss} KiB of the child is not its own (VmHWM {out['hwm_kb']} KiB)")
    return maxrss, out


async def measure_apply(url: str, workspace: Workspace, concurrency: int) -> tuple[float, int, int, int]:
    """Wall time and requests of Applier.run() only; templates then on the pack; failures."""
    target = ResolvedTarget(name="bench", url=url)
    async with client_for(url, concurrency) as client:
        plan = await make_plan(client, workspace, target, workspace.packs)
        creates = plan.count("create")
        before = client.requests_sent
        start = time.perf_counter()
        report = await Applier(client, plan, "detach").run()
        elapsed = time.perf_counter() - start
        requests = client.requests_sent - before
        pack = plan.packs[0]
        assert pack.live_id is not None
        held = len(await client.pack_templates(pack.live_id))
    if creates != sum(len(p.templates) for p in desired_state(workspace.packs)):
        sys.exit(f"the apply plan has {creates} creates")
    return elapsed, requests, held, len(report.failures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=200)
    parser.add_argument("--prompts", type=int, default=30, help="per pack; each applies to 2 classes")
    parser.add_argument("--apply", type=int, default=1000, help="templates the apply row creates (even)")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="plans timed (median)")
    parser.add_argument("--smoke", action="store_true", help="small sizes are fine: report, never fail on a target")
    args = parser.parse_args()

    plan_root = write_project(
        WORK / "many", [(f"bench-plan-{i}", f"Bench Plan {i}", args.prompts) for i in range(args.packs)], 1
    )
    apply_root = write_project(WORK / "apply", [(APPLY_SLUG, "Bench Apply", args.apply // 2)], 2)
    workspace = load(plan_root)
    apply_workspace = load(apply_root)
    db = WORK / "sandbox.db"
    for stale in WORK.glob("sandbox.db*"):
        stale.unlink()
    seed(db, desired_state(workspace.packs), desired_state(apply_workspace.packs))

    rows: list[Row] = []
    lat, conc = args.latency_ms, args.concurrency
    with SandboxProcess(db, "--latency-ms", str(lat), "--render-delay", "0") as sandbox:
        url = sandbox.url
        # 1. plan, empty
        times, requests, live = asyncio.run(measure_plan(url, workspace, conc, args.repeat))
        elapsed, low = statistics.median(times), bound(lat, requests, conc)
        templates = sum(len(s.templates) for s in live.values())
        rows.append(
            Row(
                f"plan {args.packs} packs, {templates:,} templates",
                f"{elapsed:.2f} s",
                f"{low:.2f} s",
                elapsed / low,
                "<= 1.3x",
                elapsed / low <= 1.3,
            )
        )
        plan_requests = requests
        # 2. diff alone
        expand_time, diff_time, diffed = measure_diff(workspace, live, 5)
        rows.append(
            Row(f"diff {diffed:,} templates (no network)", f"{diff_time:.3f} s", "", None, "< 1 s", diff_time < 1)
        )
        # 3. peak memory
        idle_kb, _ = child_rss("idle")
        plan_kb, out = child_rss("plan", url, str(plan_root), KEY)
        rows.append(
            Row(
                f"peak RSS of a plan of {int(out['templates']):,} templates",
                f"{plan_kb / 1024:.0f} MB",
                f"{idle_kb / 1024:.0f} MB",
                plan_kb / idle_kb,
                "< 300 MB",
                plan_kb / 1024 < 300,
            )
        )
        # 4. apply
        elapsed, requests, held, failures = asyncio.run(measure_apply(url, apply_workspace, conc))
        low = bound(lat, requests, conc)
        wanted = args.apply // 2 * 2
        ok = held == wanted and failures == 0
        rows.append(
            Row(
                f"apply {wanted:,} creates, {requests:,} requests",
                f"{elapsed:.2f} s",
                f"{low:.2f} s",
                elapsed / low,
                "<= 1.3x",
                ok and elapsed / low <= 1.3,
            )
        )

    print(f"{'case':<44} {'measured':>9} {'baseline':>9} {'ratio':>6} {'target':>9}  result")
    for row in rows:
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        print(
            f"{row.case:<44} {row.measured:>9} {row.baseline or '-':>9} {ratio:>6} {row.target:>9}  "
            f"{'ok' if row.passed else 'MISSED'}"
        )
    print(
        f"{lat:g} ms latency, concurrency {conc}; baseline of plan and apply = latency x ceil(requests / concurrency)"
        f" (plan: {plan_requests} requests, median of {args.repeat} runs)"
    )
    print(f"expanding the desired state (not in the diff row): {expand_time:.3f} s; diff: median of 5 runs")
    print("memory baseline: a child that imports the same packsync modules and does nothing")
    if held != wanted or failures:
        print(f"apply: the pack holds {held} templates (expected {wanted}); {failures} failures")
    return 0 if (all(r.passed for r in rows)) or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
