"""The planner of an experiment: before it starts, how many runs, days and images a decision
will take in each design, from what the account's history says of the pack.

It does not approximate the rule: it runs :class:`~packsync.feedback.sequential.SequentialTest`
itself, daily, on runs drawn from a model fitted to the history (runs per day, the control's
like rate, how alike one run's likes are), a few hundred times with a fixed seed, and reports
the medians. Two questions, each answered per design:

* the variant is better by exactly the declared smallest effect: the median days (and runs) to
  the decision, and the share decided "better" within the horizon (the power);
* the variant is no different: the median days until the rule says so.

Images are the experiment's own: in the paired design every run also gets the variants' prompts
(``images_per_prompt`` each); a split or rotation run gets one arm in place of the control, so
they cost no image beyond the runs the app makes anyway.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from packsync.feedback.estimates import DEFAULT_K, RunLikes
from packsync.feedback.sequential import ALPHA, SequentialTest, paired_look, two_sample_look
from packsync.sandbox.customers import joint_likes

DESIGNS = ("paired", "rotation", "split")
HORIZON_DAYS = 60  # the power is the share decided within this many days
LIMIT_DAYS = 365  # the medians look this far (a design slower than the horizon still gets its figure)
SIMULATIONS = 300
DEFAULT_CORRELATION = 0.3  # before a pack has runs to fit it on
DEFAULT_BASELINE = 0.2
MIN_CONTROL_RUNS = 30


@dataclass(frozen=True)
class History:
    """What the account's past runs say of the pack an experiment runs in."""

    runs_per_day: float
    baseline: float  # the metric's rate for the control (a like rate, or the keeper rate)
    run_correlation: float = 0.3  # how alike one run's likes are (the simulator's ρ, fitted)
    images_per_prompt: float = 1.0  # images one template's prompt makes in a run
    at_threshold: float = 1.0  # keeper rate only: the share of runs one like makes or unmakes a keeper
    like_rate: float | None = None  # keeper rate only: the control's like rate (the paired runs differ by it)


@dataclass(frozen=True)
class Forecast:
    design: str
    reachable: bool  # False: the declared effect cannot happen at this baseline (rate above 1)
    power: float  # the share of "better" decisions within the horizon, the effect being the declared one
    runs: int | None  # the median runs to that decision (None: most simulations never decided)
    days: float | None
    images: int | None  # the experiment's own images to the median decision
    null_days: float | None  # the median days to "no difference" when there is none
    horizon_days: int = HORIZON_DAYS


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (a normal one above a mean of 50)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    return rng.choices((0, 1), cum_weights=(1 - p, 1.0), k=n).count(1) if n else 0


def median_of(values: list[float], total: int) -> float | None:
    """The median of ``total`` outcomes of which ``values`` are the finite ones (the rest never
    came: None when they are half or more)."""
    values = sorted(values)
    if 2 * len(values) <= total:
        return None
    mid = total // 2
    return values[mid] if total % 2 else (values[mid - 1] + values[mid]) / 2


def _paired_day(rng: random.Random, runs: int, cells: tuple[float, float, float]) -> tuple[int, int]:
    """Of ``runs`` paired runs, how many liked only the variant and only the control."""
    drawn = rng.choices((0, 1, 2), cells, k=runs)
    return drawn.count(1), drawn.count(2)


def _two_arm_day(rng: random.Random, runs: int, design: str, arms: int, cycle: list[int]) -> tuple[int, int]:
    """Of a day's runs, how many got the control (arm 0) and how many the variant (arm 1): in a
    split each run draws its arm; in a rotation the day is one block, and each cycle of ``arms``
    blocks gives every arm one, in random order (``cycle``: the arms left in this cycle)."""
    if design == "split":
        arms_drawn = [rng.randrange(arms) for _ in range(runs)]
        return arms_drawn.count(0), arms_drawn.count(1)
    if not cycle:
        cycle.extend(rng.sample(range(arms), arms))
    arm = cycle.pop()
    return (runs, 0) if arm == 0 else ((0, runs) if arm == 1 else (0, 0))


def _simulate(
    history: History, effect: float, delta: float, design: str, arms: int, sims: int, seed: int, limit: int
) -> list[tuple[int, int, str] | None]:
    """Per simulation: (day, runs, decision) of its decision, or None when undecided at the horizon."""
    rng = random.Random(seed)
    p_c = history.baseline
    out: list[tuple[int, int, str] | None] = []
    cells = (1.0, 0.0, 0.0)
    if design == "paired":  # a run's difference is decided by the two prompts' likes (at the threshold, for keepers)
        scale, like = history.at_threshold, history.like_rate if history.like_rate is not None else p_c
        both, c_only, v_only, neither = joint_likes(like, min(like + effect / scale, 1.0), history.run_correlation)
        cells = (both + neither + (1 - scale) * (c_only + v_only), scale * v_only, scale * c_only)
    alpha = ALPHA / max(arms - 1, 1)
    cycle: list[int] = []
    for _ in range(sims):
        cycle.clear()
        test = SequentialTest(delta, alpha, paired=design == "paired")
        counts = [0, 0, 0, 0]  # paired: runs, variant only, control only; else control runs/likes, variant runs/likes
        result = None
        for day in range(1, limit + 1):
            runs = poisson(rng, history.runs_per_day)
            if design == "paired":
                v, c = _paired_day(rng, runs, cells)
                counts[0] += runs
                counts[1] += v
                counts[2] += c
                decision = test.look(paired_look(counts[0], counts[1], counts[2]))
            else:
                to_control, to_variant = _two_arm_day(rng, runs, design, arms, cycle)
                counts[0] += to_control
                counts[1] += binomial(rng, to_control, p_c)
                counts[2] += to_variant
                counts[3] += binomial(rng, to_variant, min(p_c + effect, 1.0))
                decision = test.look(two_sample_look(counts[0], counts[1], counts[2], counts[3]))
            if decision is not None:
                result = (day, counts[0] + (counts[2] if design != "paired" else 0), decision)
                break
        out.append(result)
    return out


def forecast(
    history: History,
    min_effect: float,
    design: str,
    arms: int = 2,
    sims: int = SIMULATIONS,
    seed: int = 0,
    horizon: int = HORIZON_DAYS,
) -> Forecast:
    """The expected course of an experiment of ``arms`` arms (the control and its variants)."""
    like = history.like_rate if history.like_rate is not None else history.baseline
    reachable = like + min_effect / max(history.at_threshold, 1e-9) <= 1.0 and history.baseline + min_effect <= 1.0
    if not reachable or history.runs_per_day <= 0:
        return Forecast(design, reachable, 0.0, None, None, None, None, horizon)
    limit = max(LIMIT_DAYS, horizon)
    better = _simulate(history, min_effect, min_effect, design, arms, sims, seed, limit)
    wins = [r for r in better if r is not None and r[2] == "better"]
    power = sum(1 for r in wins if r[0] <= horizon) / sims
    days = median_of([float(r[0]) for r in wins], sims)
    runs = median_of([float(r[1]) for r in wins], sims)
    null = _simulate(history, 0.0, min_effect, design, arms, sims, seed + 1, limit)
    null_days = median_of([float(r[0]) for r in null if r is not None and r[2] == "same"], sims)
    images = None
    if runs is not None:
        images = round(round(runs) * (arms - 1) * history.images_per_prompt) if design == "paired" else 0
    return Forecast(design, True, power, None if runs is None else round(runs), days, images, null_days, horizon)


def _co_likes(p: float, rho: float) -> float:
    return joint_likes(p, p, rho)[0]


def fit_correlation(runs: Sequence[RunLikes]) -> float:
    """The run correlation ρ that makes the pack's co-likes what they were: the mean over runs of
    L(L-1) (L: a run's likes, the number of ordered pairs of liked prompts) against what it would
    be were every prompt liked at the pack's rate (method of moments, by bisection)."""
    usable = [r for r in runs if len(r.templates) >= 2]
    prompts = sum(len(r.templates) for r in usable)
    if not usable or prompts == 0:
        return DEFAULT_CORRELATION
    p = sum(len(r.liked & set(r.templates)) for r in usable) / prompts
    if not 0 < p < 1:
        return DEFAULT_CORRELATION
    seen = sum(len(r.liked & set(r.templates)) * (len(r.liked & set(r.templates)) - 1) for r in usable) / len(usable)
    pairs = sum(len(r.templates) * (len(r.templates) - 1) for r in usable) / len(usable)
    target = seen / pairs  # the observed chance that two prompts of one run are both liked
    low, high = 0.0, 0.95
    if target <= _co_likes(p, low):
        return 0.0
    if target >= _co_likes(p, high):
        return high
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if _co_likes(p, mid) < target else (low, mid)
    return (low + high) / 2


def fit_history(
    runs: Sequence[RunLikes],
    days: float,
    control: Collection[int],
    metric: str = "like-rate",
    k: int = DEFAULT_K,
    images_per_prompt: float = 1.0,
) -> History:
    """The planner's model of a pack from its customer runs over ``days`` days: runs per day, the
    control's rate (its templates' ``control``; the pack's while it has fewer than
    :data:`MIN_CONTROL_RUNS` runs), the run correlation, and for the keeper rate the share of runs
    that one like makes or unmakes."""
    control = set(control)
    with_control = [r for r in runs if control & set(r.templates)]
    prompts = sum(len(r.templates) for r in runs)
    pack_rate = sum(len(r.liked & set(r.templates)) for r in runs) / prompts if prompts else DEFAULT_BASELINE
    if len(with_control) >= MIN_CONTROL_RUNS:
        like = sum(1 for r in with_control if control & r.liked) / len(with_control)
    else:
        like = pack_rate
    baseline, at_threshold, like_rate = like, 1.0, None
    if metric == "keeper-rate" and runs:
        others = [len((r.liked & set(r.templates)) - control) for r in runs]
        baseline = sum(1 for r in runs if len(r.liked & set(r.templates)) >= k) / len(runs)
        at_threshold, like_rate = sum(1 for o in others if o == k - 1) / len(runs), like
    return History(
        runs_per_day=len(runs) / days if days > 0 else 0.0,
        baseline=min(max(baseline, 0.0), 1.0),
        run_correlation=fit_correlation(runs),
        images_per_prompt=images_per_prompt,
        at_threshold=at_threshold,
        like_rate=like_rate,
    )
