"""Simulated customers: who runs a pack, when, and which of the prompts they get they like.

A pure, seeded model (no server, no clock), so the sandbox's simulator endpoint and the studies
in ``bench/`` draw from the same truth.

* Each template has a **true like probability**: given, or drawn from a Beta distribution with
  a chosen mean and concentration (:func:`draw_truth`).
* A **customer run** is one customer (a tune of one class) running the pack: it gets every
  template of its class once, at a moment drawn uniformly over the period.
* Likes within one run are **not independent**: some customers like most of what they get,
  some little (their photos, their taste). Each run draws a mood ``z ~ N(0, 1)``; a template's
  prompt is liked when ``Φ(√ρ·z + √(1-ρ)·e) < p`` with ``e ~ N(0, 1)`` per prompt. Each like
  then happens with exactly the template's probability ``p`` (the truth an estimate must
  find), and two prompts of one run are correlated through ``ρ`` (``run_correlation``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

DAY = 86_400.0
_NORMAL = NormalDist()


@dataclass(frozen=True)
class CustomerRun:
    """One simulated customer's run of a pack: its class, when (seconds into the period), the
    templates it got and those whose prompt it liked."""

    index: int
    class_name: str
    at: float
    templates: tuple[int, ...]
    liked: frozenset[int]


def draw_truth(
    template_ids: Sequence[int], seed: int, mean: float = 0.2, concentration: float = 20.0
) -> dict[int, float]:
    """A true like probability per template, drawn from Beta(mean·c, (1-mean)·c); a higher
    concentration ``c`` makes templates more alike."""
    if not 0 < mean < 1 or concentration <= 0:
        raise ValueError("mean must be between 0 and 1 and concentration positive")
    rng = random.Random(seed)
    a, b = mean * concentration, (1 - mean) * concentration
    return {tid: rng.betavariate(a, b) for tid in template_ids}


def simulate_runs(
    classes: Mapping[str, Sequence[int]],
    truth: Mapping[int, float],
    runs: int,
    seed: int,
    period_days: float = 30.0,
    run_correlation: float = 0.3,
    class_shares: Mapping[str, float] | None = None,
) -> list[CustomerRun]:
    """``runs`` customer runs over ``period_days``, in time order.

    ``classes`` maps each class to the ids of its templates; a run's class is drawn by
    ``class_shares`` (default: equal). Every template must have a probability in ``truth``."""
    if runs < 0 or period_days < 0 or not 0 <= run_correlation < 1:
        raise ValueError("runs and period_days must be non-negative and run_correlation in [0, 1)")
    names = sorted(name for name, ids in classes.items() if ids)
    if not names:
        return []
    missing = sorted({t for name in names for t in classes[name] if t not in truth})
    if missing:
        raise ValueError(f"no true like probability for template(s) {missing[:5]}")
    weights = [float((class_shares or {}).get(name, 1.0)) for name in names]
    rng = random.Random(seed)
    shared, own = math.sqrt(run_correlation), math.sqrt(1 - run_correlation)
    drawn = []
    for _ in range(runs):
        name = rng.choices(names, weights)[0]
        at = rng.uniform(0, period_days * DAY)
        mood = rng.gauss(0, 1)
        ids = tuple(classes[name])
        liked = frozenset(t for t in ids if _NORMAL.cdf(shared * mood + own * rng.gauss(0, 1)) < truth[t])
        drawn.append((at, name, ids, liked))
    drawn.sort(key=lambda d: d[0])
    return [CustomerRun(i, name, at, ids, liked) for i, (at, name, ids, liked) in enumerate(drawn)]


def joint_likes(p_a: float, p_b: float, run_correlation: float = 0.3) -> tuple[float, float, float, float]:
    """The chances that one run likes both of two templates, only the first, only the second, or
    neither: the model of :func:`simulate_runs` for a pair, computed (an integral over the run's
    mood) rather than drawn, so that studies can draw many runs' counts at once."""
    if not (0 <= p_a <= 1 and 0 <= p_b <= 1) or not 0 <= run_correlation < 1:
        raise ValueError("probabilities must be in [0, 1] and run_correlation in [0, 1)")
    shared, own = math.sqrt(run_correlation), math.sqrt(1 - run_correlation)
    a = _NORMAL.inv_cdf(min(max(p_a, 1e-12), 1 - 1e-12))
    b = _NORMAL.inv_cdf(min(max(p_b, 1e-12), 1 - 1e-12))
    steps, span = 400, 8.0
    both = 0.0
    for i in range(steps + 1):  # Simpson's rule over the mood z in [-8, 8]
        z = -span + 2 * span * i / steps
        weight = 1 if i in (0, steps) else (4 if i % 2 else 2)
        both += weight * _NORMAL.pdf(z) * _NORMAL.cdf((a - shared * z) / own) * _NORMAL.cdf((b - shared * z) / own)
    both *= (2 * span / steps) / 3
    both = min(max(both, 0.0), min(p_a, p_b))
    return both, p_a - both, p_b - both, max(1 - p_a - p_b + both, 0.0)


def split_runs(runs: Sequence[CustomerRun], arms: Sequence[Sequence[int]], seed: int) -> list[CustomerRun]:
    """The runs as an app that splits its customers would make them: each run draws one of
    ``arms`` (sets of template ids), uniformly, and runs without the other arms' templates."""
    rng = random.Random(seed ^ 0x5117)
    every = {t for arm in arms for t in arm}
    out = []
    for run in runs:
        mine = set(arms[rng.randrange(len(arms))]) if arms else set()
        dropped = every - mine
        kept = tuple(t for t in run.templates if t not in dropped)
        out.append(CustomerRun(run.index, run.class_name, run.at, kept, frozenset(run.liked - dropped)))
    return out
