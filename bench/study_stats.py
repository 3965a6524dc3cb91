"""Study: how far the like rates of ``packsync stats`` can be trusted, on seeded simulated packs.

Every truth comes from the customer model of the sandbox (``packsync/sandbox/customers.py``:
``draw_truth`` and ``simulate_runs``); every row compares the estimates of
``packsync/feedback/estimates.py`` with today's rule, measured on the same simulated runs:
raw rate likes/runs, "rework" for no like in at least ``--min-runs`` runs (10), ranking by raw
rate, and a pack interval that takes all prompts as independent (Wald).

Scenarios (a run is one customer run of a one-class pack: it gets every template there is):

* null: 60 templates all at 20%, 10 runs; every flag is a false one.
* bad: 40 templates at 20% with 4 planted at 2% (a prompt that hardly ever works), 30 runs;
  the share of the 4 flagged. The same with 4 weak ones at 5%, at 30 and 60 runs, without a
  target: in 30 runs a 5% prompt gets 0-2 likes where a 20% one gets 2 or fewer 4% of the time,
  so no test that keeps false alarms bounded across 40 prompts can flag most of them yet.
* uneven: 60 templates drawn around 20% (Beta, concentration 20), 200 runs, and 20 of the
  templates added late (they have 3-15 runs); is the truly best one ranked first, how many of
  the top five are truly top five, how many flags are on the wrong side of the pack's true
  rate ("rework" for a prompt at or above it, "best" at or below; today's rule flags rework
  only), and do the per-template 95% intervals cover the truth.
* pack: 20 templates drawn around 20%, 30 runs with run correlation 0.3; does the pack's 95%
  interval cover its true rate (the mean of its templates' probabilities).

Exits 1 when a target is missed. Seeds are fixed; ``--quick`` runs fewer packs.

    python bench/study_stats.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from packsync.feedback.estimates import Z95, RunLikes, estimate_pack  # noqa: E402
from packsync.sandbox.customers import draw_truth, simulate_runs  # noqa: E402

NAIVE_MIN_RUNS = 10


@dataclass
class Row:
    name: str
    new: float
    naive: float
    target: str
    ok: Callable[[float], bool]
    percent: bool = False


def one_class(truth: dict[int, float], runs: int, seed: int, correlation: float = 0.3) -> list[RunLikes]:
    drawn = simulate_runs({"dog": sorted(truth)}, truth, runs, seed=seed, run_correlation=correlation)
    return [RunLikes(r.index, r.class_name, r.templates, r.liked) for r in drawn]


def naive_rework(runs: list[RunLikes]) -> set[int]:
    counts = _counts(runs)
    return {t for t, (y, n) in counts.items() if n >= NAIVE_MIN_RUNS and y == 0}


def _counts(runs: list[RunLikes]) -> dict[int, tuple[int, int]]:
    counts: dict[int, tuple[int, int]] = {}
    for run in runs:
        for t in run.templates:
            y, n = counts.get(t, (0, 0))
            counts[t] = (y + (t in run.liked), n + 1)
    return counts


def naive_order(runs: list[RunLikes]) -> list[int]:
    counts = _counts(runs)
    return sorted(counts, key=lambda t: (-counts[t][0] / counts[t][1], -counts[t][0], -counts[t][1], t))


def null_pack(seeds: int) -> tuple[float, float]:
    truth = dict.fromkeys(range(60), 0.2)
    new = naive = 0
    for seed in range(seeds):
        runs = one_class(truth, 10, seed=1000 + seed)
        found = estimate_pack(runs)
        new += sum(1 for r in found.templates.values() if r.flag == "rework")
        naive += len(naive_rework(runs))
    return new / seeds, naive / seeds


def bad_pack(seeds: int, bad_rate: float, runs_each: int = 30) -> tuple[float, float, float, float]:
    """(share of the 4 bad prompts flagged, the same by today's rule, other prompts flagged per
    report, the same by today's rule)."""
    bad = set(range(4))
    truth = {t: (bad_rate if t in bad else 0.2) for t in range(40)}
    new = naive = false = naive_false = 0
    for seed in range(seeds):
        runs = one_class(truth, runs_each, seed=2000 + seed)
        found = estimate_pack(runs)
        flagged = {t for t, r in found.templates.items() if r.flag == "rework"}
        theirs = naive_rework(runs)
        new += len(flagged & bad)
        false += len(flagged - bad)
        naive += len(theirs & bad)
        naive_false += len(theirs - bad)
    return new / (4 * seeds), naive / (4 * seeds), false / seeds, naive_false / seeds


def uneven_runs(truth: dict[int, float], seed: int) -> list[RunLikes]:
    """200 runs of the pack; 20 of its templates were added late, at a run drawn from the last 15."""
    rng = random.Random(seed)
    late = {t: rng.randint(185, 197) for t in rng.sample(sorted(truth), 20)}
    runs = []
    for run in one_class(truth, 200, seed=seed):
        got = tuple(t for t in run.templates if late.get(t, 0) <= run.run_id)  # type: ignore[operator]
        runs.append(RunLikes(run.run_id, run.class_name, got, run.liked & frozenset(got)))
    return runs


def uneven(seeds: int) -> dict[str, tuple[float, float]]:
    first = [0, 0]
    top5 = [0.0, 0.0]
    covered = [0, 0]
    flags = [0, 0]
    wrong = [0, 0]
    total = 0
    for seed in range(seeds):
        truth = draw_truth(range(60), seed=3000 + seed)
        runs = uneven_runs(truth, seed=4000 + seed)
        found = estimate_pack(runs)
        truly = sorted(truth, key=lambda t: -truth[t])
        mine = sorted(found.templates, key=lambda t: (-found.templates[t].estimate, t))
        theirs = naive_order(runs)
        for i, order in enumerate((mine, theirs)):
            first[i] += order[0] == truly[0]
            top5[i] += len(set(order[:5]) & set(truly[:5])) / 5
        pack_rate = sum(truth.values()) / len(truth)
        for t, r in found.templates.items():
            flags[0] += r.flag is not None
            wrong[0] += (r.flag == "rework" and truth[t] >= pack_rate) or (r.flag == "best" and truth[t] <= pack_rate)
        for t in naive_rework(runs):
            flags[1] += 1
            wrong[1] += truth[t] >= pack_rate
        for t, r in found.templates.items():
            covered[0] += r.low <= truth[t] <= r.high
            y, n = r.likes, r.runs
            p = y / n
            half = Z95 * math.sqrt(p * (1 - p) / n)
            covered[1] += p - half <= truth[t] <= p + half
            total += 1
    return {
        "first": (first[0] / seeds, first[1] / seeds),
        "top5": (top5[0] / seeds, top5[1] / seeds),
        "cover": (covered[0] / total, covered[1] / total),
        "wrong": (wrong[0] / max(flags[0], 1), wrong[1] / max(flags[1], 1)),
    }


def pack_coverage(seeds: int) -> tuple[float, float]:
    new = naive = 0
    for seed in range(seeds):
        truth = draw_truth(range(20), seed=5000 + seed)
        true_rate = sum(truth.values()) / len(truth)
        runs = one_class(truth, 30, seed=6000 + seed, correlation=0.3)
        found = estimate_pack(runs)
        new += found.low <= true_rate <= found.high
        p, n = found.likes / found.prompts, found.prompts
        half = Z95 * math.sqrt(p * (1 - p) / n)
        naive += p - half <= true_rate <= p + half
    return new / seeds, naive / seeds


def timing() -> float:
    truth = draw_truth(range(60), seed=7)
    runs = one_class(truth, 1000, seed=8)
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        estimate_pack(runs)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeded packs (a quarter)")
    args = parser.parse_args()
    scale = 4 if args.quick else 1
    start = time.perf_counter()
    null_new, null_naive = null_pack(400 // scale)
    bad_new, bad_naive, bad_false, bad_naive_false = bad_pack(400 // scale, 0.02)
    weak_new, weak_naive, _, _ = bad_pack(400 // scale, 0.05)
    later_new, later_naive, _, _ = bad_pack(400 // scale, 0.05, 60)
    spread = uneven(400 // scale)
    pack_new, pack_naive = pack_coverage(1000 // scale)
    elapsed = timing()
    in_band = lambda v: 0.93 <= v <= 0.97  # noqa: E731
    rows = [
        Row(
            "false rework flags per report, 60 prompts at 20%, 10 runs",
            null_new,
            null_naive,
            "≤ 0.3",
            lambda v: v <= 0.3,
        ),
        Row("bad prompts (2% in a 20% pack) flagged, 30 runs", bad_new, bad_naive, "≥ 80%", lambda v: v >= 0.8, True),
        Row(
            "other prompts of that pack flagged rework, per report",
            bad_false,
            bad_naive_false,
            "≤ 0.3",
            lambda v: v <= 0.3,
        ),
        Row("weak prompts (5% in a 20% pack) flagged, 30 runs", weak_new, weak_naive, "", lambda v: True, True),
        Row("weak prompts (5% in a 20% pack) flagged, 60 runs", later_new, later_naive, "", lambda v: True, True),
        Row("truly best prompt ranked first, uneven runs", *spread["first"], "≥ 40%", lambda v: v >= 0.4, True),
        Row("top-5 precision, uneven runs", *spread["top5"], "", lambda v: True, True),
        Row(
            "flags on the wrong side of the true pack rate, uneven runs",
            *spread["wrong"],
            "≤ 10%",
            lambda v: v <= 0.1,
            True,
        ),
        Row("per-template 95% intervals covering the truth", *spread["cover"], "93-97%", in_band, True),
        Row("pack 95% interval covering the truth, correlation 0.3", pack_new, pack_naive, "93-97%", in_band, True),
    ]
    print("| case | estimates | today's rule | target | |")
    print("| --- | --- | --- | --- | --- |")
    missed = 0
    for row in rows:
        shown = (lambda v: f"{v * 100:.1f}%") if row.percent else (lambda v: f"{v:.2f}")
        ok = row.ok(row.new)
        missed += not ok
        mark = "pass" if ok else "FAIL"
        print(f"| {row.name} | {shown(row.new)} | {shown(row.naive)} | {row.target} | {mark if row.target else ''} |")
    fast = elapsed < 0.1
    missed += not fast
    mark = "pass" if fast else "FAIL"
    print(f"| estimate_pack, 60 templates x 1,000 runs | {elapsed * 1000:.0f} ms | | < 100 ms | {mark} |")
    print(f"({'quick: a quarter of the packs; ' if args.quick else ''}{time.perf_counter() - start:.0f} s in all)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
