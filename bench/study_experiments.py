"""Study: is the experiments' decision rule sound, and is the planner right, on the sandbox's
simulated customers?

Every experiment is one control prompt against one variant in a pack, checked once a day for
up to 60 days; customers arrive at ``--runs-per-day`` a day (Poisson), the control is liked at
25%, one run's likes are correlated (ρ = 0.3), and the declared smallest effect is 5 points.
The likes come from the customer model of ``packsync/sandbox/customers.py``: a paired run's
pair of likes is drawn from ``joint_likes`` (the model's exact chances for two prompts of one
run, so a day's runs are drawn at once), a split or rotation run's like from its arm's rate;
rotation days follow the real schedule (``packsync/desired/rotation.py``). A cross-check draws
a few hundred paired experiments run by run with ``simulate_runs`` itself.

On the same simulated data, beside packsync's rule (``packsync/feedback/sequential.py``), two
rules in common use, each checked daily and declaring a winner the first day it holds:

* z-test: a two-proportion z-test at p < 0.05;
* Bayes 95%: "chance to beat the control" above 95%, Beta(1, 1) priors (the variant is
  named the winner; one-sided, as such dashboards do).

Targets: with two identical prompts the rule names a winner in at most 5% of experiments;
with a true difference of the declared size it finds it (power) in at least 80% within 60 days
in the paired design; paired needs at most 60% of the runs a split needs; the planner's median
days to a decision are within ±20% of the simulated median (the planner fitted on a simulated
30-day history, as ``packsync experiment plan`` does it); the rotation design makes no image of
its own (the experiment's images: paired, the variant's prompt in every run). Exits 1 when a
target is missed.

    python bench/study_experiments.py [--experiments N] [--jobs J] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from statistics import NormalDist

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from packsync.desired.rotation import arm_of_block  # noqa: E402
from packsync.feedback.estimates import RunLikes  # noqa: E402
from packsync.feedback.forecast import History, binomial, fit_history, forecast, median_of, poisson  # noqa: E402
from packsync.feedback.sequential import SequentialTest, paired_look, two_sample_look  # noqa: E402
from packsync.sandbox.customers import draw_truth, joint_likes, simulate_runs  # noqa: E402

CONTROL_RATE = 0.25
EFFECT = 0.05
CORRELATION = 0.3
HORIZON = 60
LONG = 365  # for the runs a slow design needs
Z = NormalDist()


@dataclass(frozen=True)
class Scenario:
    design: str
    variant_rate: float
    runs_per_day: float
    days: int = HORIZON


@dataclass(frozen=True)
class Outcome:
    decision: str | None  # ours: better, worse, same, None
    day: int | None
    runs: int | None  # runs when ours decided
    z_winner: bool  # a naive rule named a winner within the horizon
    bayes_winner: bool


@functools.cache
def _cells(variant_rate: float) -> tuple[float, float, float, float]:
    """One paired run's chances: both liked, only the control, only the variant, neither."""
    return joint_likes(CONTROL_RATE, variant_rate, CORRELATION)


def _naive(cn: int, cy: int, vn: int, vy: int) -> tuple[bool, bool]:
    """(z-test says a winner, Bayes 95% says a winner) on the two groups' counts."""
    if cn == 0 or vn == 0:
        return False, False
    pooled = (cy + vy) / (cn + vn)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / cn + 1 / vn))
    z_hit = spread > 0 and abs(vy / vn - cy / cn) / spread > 1.959964
    a_c, b_c, a_v, b_v = 1 + cy, 1 + cn - cy, 1 + vy, 1 + vn - vy
    mean = a_v / (a_v + b_v) - a_c / (a_c + b_c)
    var = a_v * b_v / ((a_v + b_v) ** 2 * (a_v + b_v + 1)) + a_c * b_c / ((a_c + b_c) ** 2 * (a_c + b_c + 1))
    chance = Z.cdf(mean / math.sqrt(var))
    return z_hit, chance > 0.95


def run_one(scenario: Scenario, seed: int) -> Outcome:
    """One experiment, day by day: ours and the naive rules on the same runs."""
    rng = random.Random(seed)
    paired = scenario.design == "paired"
    test = SequentialTest(EFFECT, paired=paired)
    cells = _cells(scenario.variant_rate)
    counts = [0, 0, 0, 0]  # control runs, likes; variant runs, likes (the naive view)
    pair = [0, 0, 0]  # paired: runs, variant only, control only
    decision = day_decided = runs_decided = None
    z_hit = bayes_hit = False
    block_seed = rng.getrandbits(63)
    first_block = rng.randrange(1_000_000)
    for day in range(1, scenario.days + 1):
        runs = poisson(rng, scenario.runs_per_day)
        if paired:
            drawn = rng.choices(range(4), cells, k=runs)
            b, c, v = drawn.count(0), drawn.count(1), drawn.count(2)
            pair[0] += runs
            pair[1] += v
            pair[2] += c
            counts[0] += runs
            counts[1] += b + c
            counts[2] += runs
            counts[3] += b + v
            look = paired_look(*pair)
        else:
            if scenario.design == "split":
                to_variant = binomial(rng, runs, 0.5)
                to_control = runs - to_variant
            else:
                arm = arm_of_block(block_seed, 2, first_block + day)
                to_control, to_variant = (runs, 0) if arm == 0 else (0, runs)
            counts[0] += to_control
            counts[1] += binomial(rng, to_control, CONTROL_RATE)
            counts[2] += to_variant
            counts[3] += binomial(rng, to_variant, scenario.variant_rate)
            look = two_sample_look(*counts)
        if decision is None and test.look(look) is not None:
            decision, day_decided = test.decision, day
            runs_decided = pair[0] if paired else counts[0] + counts[2]
        if day <= HORIZON and not (z_hit and bayes_hit):
            z_now, bayes_now = _naive(*counts)
            z_hit, bayes_hit = z_hit or z_now, bayes_hit or bayes_now
        if decision is not None and day >= HORIZON:
            break
    return Outcome(decision, day_decided, runs_decided, z_hit, bayes_hit)


def _batch(job: tuple[Scenario, int, int]) -> list[Outcome]:
    scenario, first, count = job
    return [run_one(scenario, first + i) for i in range(count)]


def many(scenario: Scenario, experiments: int, seed: int, jobs: int) -> list[Outcome]:
    chunk = max(1, experiments // (jobs * 4))
    work = [(scenario, seed * 10_000_000 + i, min(chunk, experiments - i)) for i in range(0, experiments, chunk)]
    if jobs <= 1:
        return [o for part in map(_batch, work) for o in part]
    with Pool(jobs) as pool:
        return [o for part in pool.map(_batch, work) for o in part]


def share(outcomes: Sequence[Outcome], test: str) -> float:
    if test == "winner":
        hits = sum(1 for o in outcomes if o.decision in ("better", "worse") and (o.day or 0) <= HORIZON)
    elif test == "better":
        hits = sum(1 for o in outcomes if o.decision == "better" and (o.day or 0) <= HORIZON)
    elif test == "same":
        hits = sum(1 for o in outcomes if o.decision == "same" and (o.day or 0) <= HORIZON)
    elif test == "z":
        hits = sum(o.z_winner for o in outcomes)
    else:
        hits = sum(o.bayes_winner for o in outcomes)
    return hits / len(outcomes)


def history_for(runs_per_day: float, seed: int) -> History:
    """The planner's input, as ``experiment plan`` gets it: 30 days of a 20-prompt pack's runs
    (the control one of them, at the scenario's rate), fitted."""
    ids = list(range(1, 21))
    truth = draw_truth(ids, seed, CONTROL_RATE, 20.0)
    truth[1] = CONTROL_RATE
    rng = random.Random(seed)
    count = sum(poisson(rng, runs_per_day) for _ in range(30))
    drawn = simulate_runs({"dog": ids}, truth, count, seed, 30.0, CORRELATION)
    runs = [RunLikes(r.index, r.class_name, r.templates, r.liked) for r in drawn]
    return fit_history(runs, 30.0, [1])


def cross_check(experiments: int, seed: int, variant_rate: float) -> tuple[float, float | None]:
    """Paired experiments drawn run by run with ``simulate_runs``: (winner share, median day)."""
    decided_days: list[float] = []
    winners = 0
    for e in range(experiments):
        rng = random.Random(seed + e)
        total = sum(poisson(rng, 30.0) for _ in range(HORIZON))
        drawn = simulate_runs(
            {"dog": [1, 2]}, {1: CONTROL_RATE, 2: variant_rate}, total, seed + e, HORIZON, CORRELATION
        )
        test = SequentialTest(EFFECT, paired=True)
        pair = [0, 0, 0]
        day_of = [math.floor(r.at / 86_400) for r in drawn]
        for index, run in enumerate(drawn):
            pair[0] += 1
            pair[1] += 2 in run.liked and 1 not in run.liked
            pair[2] += 1 in run.liked and 2 not in run.liked
            last_of_day = index + 1 == len(drawn) or day_of[index + 1] != day_of[index]
            if last_of_day and test.look(paired_look(*pair)) is not None:
                winners += test.decision in ("better", "worse")
                decided_days.append(day_of[index] + 1.0)
                break
    return winners / experiments, median_of(decided_days, experiments)


@dataclass
class Row:
    name: str
    ours: str
    z: str = ""
    bayes: str = ""
    target: str = ""
    ok: bool = True


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _days(value: float | None) -> str:
    return "never (median)" if value is None else f"{value:g} d"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=10_000, help="experiments per null scenario")
    parser.add_argument("--runs-per-day", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a tenth of the experiments")
    args = parser.parse_args()
    n = max(args.experiments // (10 if args.quick else 1), 50)
    rate = args.runs_per_day
    began = time.perf_counter()
    rows: list[Row] = []
    for design in ("paired", "rotation", "split"):
        null = many(Scenario(design, CONTROL_RATE, rate), n, args.seed, args.jobs)
        ours = share(null, "winner")
        rows.append(
            Row(
                f"false winners, identical prompts, {design}, {n:,} experiments, daily for 60 days",
                _pct(ours), _pct(share(null, "z")), _pct(share(null, "bayes")), "≤ 5%", ours <= 0.05,
            )
        )  # fmt: skip
    alt = {
        design: many(
            Scenario(design, CONTROL_RATE + EFFECT, rate, LONG),
            n if design == "paired" else n // 5,
            args.seed + 7,
            args.jobs,
        )
        for design in ("paired", "rotation", "split")
    }
    for design, outcomes in alt.items():
        power = share(outcomes, "better")
        rows.append(
            Row(
                f"power, variant {EFFECT:g} better, {design}, within 60 days, {rate:g} runs a day ({len(outcomes):,})",
                _pct(power), _pct(share(outcomes, "z")), _pct(share(outcomes, "bayes")),
            )
        )  # fmt: skip
    rows += power_rows(args.seed, n, args.jobs)
    wrong = sum(1 for o in alt["paired"] if o.decision in ("worse", "same")) / len(alt["paired"])
    rows.append(
        Row(
            "wrong decisions (worse or no difference) when it is better, paired",
            _pct(wrong),
            target="≤ 5%",
            ok=wrong <= 0.05,
        )
    )
    runs = {
        d: median_of([float(o.runs) for o in alt[d] if o.decision == "better" and o.runs], len(alt[d])) for d in alt
    }
    ratio = (runs["paired"] or math.inf) / (runs["split"] or math.inf) if runs["split"] else math.nan
    rows.append(
        Row(
            "median runs to the decision: paired / split",
            f"{runs['paired']:,.0f} / {runs['split']:,.0f} = {ratio:.2f}" if runs["split"] and runs["paired"] else "-",
            target="≤ 0.60", ok=ratio <= 0.6,
        )
    )  # fmt: skip
    rows += planner_rows(args.seed, n, args.jobs)
    count = max(n // 25, 100)
    check, _ = cross_check(count, args.seed + 99, CONTROL_RATE)
    fast = share(many(Scenario("paired", CONTROL_RATE, 30.0), count, args.seed + 99, args.jobs), "winner")
    rows.append(Row(f"cross-check, run by run ({count}): false winners, paired", f"{_pct(check)} (fast {_pct(fast)})"))
    _, alt_day = cross_check(count, args.seed + 199, CONTROL_RATE + EFFECT)
    fast_day = median_of([float(o.day) for o in alt["paired"] if o.decision and o.day], len(alt["paired"]))
    rows.append(
        Row("cross-check, run by run: median day of the decision, paired", f"{_days(alt_day)} (fast {_days(fast_day)})")
    )
    images = runs["paired"] or 0
    rows.append(
        Row(
            "images of the experiment's own to the median decision (1 per prompt)",
            f"paired {images:,.0f}; rotation 0; split 0",
        )
    )
    width = max(len(r.name) for r in rows)
    print(f"{'':{width}}  {'packsync':>24}  {'z-test':>8}  {'Bayes95':>8}  target")
    for r in rows:
        mark = "" if r.ok else "  MISSED"
        print(f"{r.name:{width}}  {r.ours:>24}  {r.z:>8}  {r.bayes:>8}  {r.target}{mark}")
    took = time.perf_counter() - began
    print(f"({took:.0f} s, {args.jobs} jobs, {rate:g} runs a day, control {CONTROL_RATE:.0%}, ρ {CORRELATION})")
    return 0 if all(r.ok for r in rows) else 1


def power_rows(seed: int, n: int, jobs: int) -> list[Row]:
    """Paired power at several traffics, against the planner's promise (from the true model):
    where the planner says 80% or more, the simulated power must be 80% or more; elsewhere it
    must be within 5 points of what the planner says."""
    rows = []
    for rate in (20.0, 40.0, 60.0):
        outcomes = many(Scenario("paired", CONTROL_RATE + EFFECT, rate), max(n // 2, 200), seed + 51 + int(rate), jobs)
        power = share(outcomes, "better")
        promised = forecast(History(rate, CONTROL_RATE, CORRELATION), EFFECT, "paired", sims=1000, seed=seed).power
        ok = power >= 0.8 if promised >= 0.8 else abs(power - promised) <= 0.05
        rows.append(
            Row(
                f"power, paired, {rate:g} runs a day ({len(outcomes):,}; the planner says {promised:.0%})",
                _pct(power), target="≥ 80% where promised", ok=ok,
            )
        )  # fmt: skip
    return rows


def planner_rows(seed: int, n: int, jobs: int, histories: int = 5) -> list[Row]:
    """The planner's median days, fitted on simulated 30-day histories (each a different sample
    of the same pack, so its control rate is known only to within its history), against the
    simulated median."""
    rows = []
    count = max(n // 5, 200)
    for rate in (20.0, 30.0, 60.0):
        fitted = [history_for(rate, seed + 1000 * h + int(rate)) for h in range(histories)]
        for design in ("paired", "rotation", "split"):
            outcomes = many(Scenario(design, CONTROL_RATE + EFFECT, rate, LONG), count, seed + 31 + int(rate), jobs)
            simulated = median_of([float(o.day) for o in outcomes if o.decision == "better" and o.day], count)
            planned = [forecast(h, EFFECT, design, seed=seed).days for h in fitted]
            if simulated is None or any(p is None for p in planned):
                rows.append(Row(f"planner: {design}, {rate:g} runs a day", "no median", target="±20%", ok=False))
                continue
            offs = [(p - simulated) / simulated for p in planned if p is not None]
            mean = sum(offs) / len(offs)
            rows.append(
                Row(
                    f"planner: median days to the decision, {design}, {rate:g} runs a day",
                    f"{simulated:g} d: {mean:+.0%} ({min(offs):+.0%} to {max(offs):+.0%})",
                    target="mean ±20%", ok=abs(mean) <= 0.2,
                )
            )  # fmt: skip
    return rows


if __name__ == "__main__":
    sys.exit(main())
