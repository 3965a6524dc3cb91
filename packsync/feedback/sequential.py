"""A decision rule that stays valid however often it is looked at: the mixture sequential
probability ratio test (mSPRT) and its confidence sequence. Pure (standard library only), so
``packsync experiment``, its planner and the study in ``bench/`` decide alike.

The quantity is the difference ``Δ`` between a variant's rate and the control's. After each
look there is an estimate ``d`` of it with variance ``V`` (from the runs so far). Under "no
difference" the likelihood ratio of ``d`` against a normal mixture of alternatives
``Δ ~ N(0, τ²)`` is::

    Λ = sqrt(V / (V + τ²)) · exp(τ² d² / (2 V (V + τ²)))

Λ is a nonnegative martingale when Δ = 0, so by Ville's inequality it ever reaches ``1/α``
with probability at most ``α``, at any number of looks and any stopping time: looking every
day, or every hour, or stopping early, spends nothing more. Inverting it gives a confidence
sequence, an interval that covers the true difference at every look at once with probability
at least ``1 - α``::

    d ± sqrt(V (V + τ²) / τ² · (2 ln(1/α) + ln((V + τ²) / V)))

and the running intersection of those intervals is as valid. ``τ`` is the experiment's
declared smallest effect (the mixture puts its weight where the effect is expected). The
normal shape of ``d`` and the plug-in ``V`` are approximations at small counts: the rule waits
for :data:`MIN_RUNS` runs and a few disagreeing ones before deciding, and the study measures
the error rate it really has.

A comparison is decided when the interval leaves zero (``"better"`` or ``"worse"``) or lies
inside ``(-δ, δ)`` (``"same"``: any difference is smaller than the one declared worth
detecting; that answer is wrong with probability at most ``α`` too).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

ALPHA = 0.05
MIN_RUNS = 30  # units seen before any decision
MIN_DISAGREEING = 10  # paired: runs in which the arms differed, before any decision


@dataclass(frozen=True)
class Look:
    """What one look knows of one comparison: the estimate of the difference and its variance."""

    n: int  # units so far: paired runs, or the runs of both arms
    estimate: float
    variance: float
    informative: int  # the units that carry information: disagreeing pairs, or the smaller arm's runs


@dataclass(frozen=True)
class Verdict:
    """A comparison after a series of looks: the last look, the running interval and the
    decision (None: undecided), with the index of the look that made it."""

    last: Look | None
    low: float
    high: float
    p_value: float  # always valid: the chance of a ratio this large under no difference, at most
    decision: str | None  # "better", "worse", "same" (|Δ| < δ) or None
    decided_at: int | None  # the index of the deciding look


def mixture_ratio(estimate: float, variance: float, tau: float) -> float:
    """Λ of one look (float('inf') once the variance is zero and the estimate is not)."""
    if variance <= 0:
        return math.inf if estimate else 1.0
    t2 = tau * tau
    exponent = t2 * estimate * estimate / (2 * variance * (variance + t2))
    return math.sqrt(variance / (variance + t2)) * math.exp(min(exponent, 700.0))


def radius(variance: float, tau: float, alpha: float) -> float:
    """The half-width of the confidence sequence at one look."""
    if variance <= 0:
        return 0.0
    t2 = tau * tau
    return math.sqrt(variance * (variance + t2) / t2 * (2 * math.log(1 / alpha) + math.log((variance + t2) / variance)))


def paired_look(n: int, variant_only: int, control_only: int) -> Look:
    """A look at a paired comparison: ``n`` runs that had both arms, ``variant_only`` of which
    liked the variant and not the control, ``control_only`` the other way round. Each run's
    difference is +1, -1 or 0; the variance of their mean is estimated with one disagreeing run
    of each side added (so that it is never zero)."""
    if n <= 0:
        return Look(0, 0.0, math.inf, 0)
    estimate = (variant_only - control_only) / n
    spread = (variant_only + control_only + 2) / (n + 2) - ((variant_only - control_only) / (n + 2)) ** 2
    return Look(n, estimate, max(spread, 1e-12) / n, variant_only + control_only)


def two_sample_look(control_runs: int, control_likes: int, variant_runs: int, variant_likes: int) -> Look:
    """A look at a comparison of two groups of runs (split and rotation designs): each arm's rate,
    its variance from the rate smoothed by one like and one miss."""
    if control_runs <= 0 or variant_runs <= 0:
        return Look(control_runs + variant_runs, 0.0, math.inf, 0)
    estimate = variant_likes / variant_runs - control_likes / control_runs

    def spread(likes: int, runs: int) -> float:
        p = (likes + 1) / (runs + 2)
        return p * (1 - p) / runs

    variance = spread(control_likes, control_runs) + spread(variant_likes, variant_runs)
    return Look(control_runs + variant_runs, estimate, variance, min(control_runs, variant_runs))


class SequentialTest:
    """The rule for one comparison, one look at a time; the first decision stands (later looks
    only narrow the interval)."""

    def __init__(self, min_effect: float, alpha: float = ALPHA, paired: bool = True) -> None:
        self.min_effect, self.alpha = min_effect, alpha
        self.floor = MIN_DISAGREEING if paired else MIN_RUNS // 2
        self.low, self.high, self.p_value = -math.inf, math.inf, 1.0
        self.last: Look | None = None
        self.decision: str | None = None
        self.decided_at: int | None = None
        self.looks = 0

    def look(self, look: Look) -> str | None:
        """Take one look; the decision so far."""
        index, self.looks, self.last = self.looks, self.looks + 1, look
        if look.n < MIN_RUNS or look.informative < self.floor or not math.isfinite(look.variance):
            return self.decision
        delta = self.min_effect
        self.p_value = min(self.p_value, 1.0 / max(mixture_ratio(look.estimate, look.variance, delta), 1.0))
        r = radius(look.variance, delta, self.alpha)
        self.low, self.high = max(self.low, look.estimate - r), min(self.high, look.estimate + r)
        if self.decision is None:
            if self.low > 0:
                self.decision = "better"
            elif self.high < 0:
                self.decision = "worse"
            elif -delta < self.low and self.high < delta:
                self.decision = "same"
            self.decided_at = index if self.decision else None
        return self.decision

    def verdict(self) -> Verdict:
        return Verdict(self.last, self.low, self.high, self.p_value, self.decision, self.decided_at)


def decide(looks: Iterable[Look], min_effect: float, alpha: float = ALPHA, paired: bool = True) -> Verdict:
    """Run the rule over ``looks`` in time order."""
    test = SequentialTest(min_effect, alpha, paired)
    for look in looks:
        test.look(look)
    return test.verdict()
