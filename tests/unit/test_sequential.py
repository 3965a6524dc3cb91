"""The always-valid rule: its ratio and interval, its waiting, and its error rate under daily looks."""

from __future__ import annotations

import math
import random

import pytest

from packsync.feedback.sequential import (
    ALPHA,
    MIN_RUNS,
    SequentialTest,
    decide,
    mixture_ratio,
    paired_look,
    radius,
    two_sample_look,
)


def test_the_ratio_and_the_interval_are_duals() -> None:
    variance, tau = 0.0004, 0.05
    r = radius(variance, tau, ALPHA)
    assert mixture_ratio(r, variance, tau) == pytest.approx(1 / ALPHA)  # the interval's edge is the boundary
    assert mixture_ratio(0.0, variance, tau) < 1  # no difference seen: evidence for none
    assert mixture_ratio(r * 1.01, variance, tau) > 1 / ALPHA > mixture_ratio(r * 0.99, variance, tau)


def test_zero_variance_is_no_evidence_without_a_difference_and_certainty_with_one() -> None:
    assert mixture_ratio(0.0, 0.0, 0.05) == 1.0 and mixture_ratio(0.1, 0.0, 0.05) == math.inf
    assert radius(0.0, 0.05, ALPHA) == 0.0
    assert paired_look(0, 0, 0).variance == math.inf and two_sample_look(0, 0, 5, 1).variance == math.inf


def test_no_decision_before_the_minimum_of_runs() -> None:
    verdict = decide([paired_look(MIN_RUNS - 1, MIN_RUNS - 1, 0)], 0.05)
    assert verdict.decision is None and verdict.low == -math.inf
    assert decide([paired_look(MIN_RUNS, 25, 0)], 0.05).decision == "better"
    assert decide([paired_look(200, 10, 5)], 0.05, paired=True).decision is None


def test_the_interval_holds_the_estimate_and_only_narrows() -> None:
    test = SequentialTest(0.05)
    widths = []
    for n in range(100, 3000, 100):
        test.look(paired_look(n, n // 6, n // 6))
        widths.append(test.high - test.low)
        assert test.low <= 0 <= test.high
    assert widths == sorted(widths, reverse=True)
    assert test.decision == "same" and test.low > -0.05 and test.high < 0.05


def test_a_decision_stands_once_made() -> None:
    test = SequentialTest(0.05)
    assert test.look(paired_look(400, 150, 50)) == "better"
    assert test.look(paired_look(800, 150, 150)) == "better" and test.decided_at == 0


def test_under_no_difference_daily_looks_stay_under_alpha() -> None:
    rng = random.Random(5)
    false = 0
    trials = 300
    for _ in range(trials):
        test = SequentialTest(0.05)
        n = v = c = 0
        for _day in range(60):
            for _ in range(30):
                n += 1
                u = rng.random()
                v += u < 0.17
                c += 0.17 <= u < 0.34
            if test.look(paired_look(n, v, c)) in ("better", "worse"):
                false += 1
                break
    assert false / trials <= ALPHA


def test_two_groups_are_compared_by_their_rates() -> None:
    look = two_sample_look(1000, 200, 1000, 300)
    assert look.estimate == pytest.approx(0.1) and look.informative == 1000
    assert decide([look], 0.05, paired=False).decision == "better"
    assert decide([two_sample_look(1000, 300, 1000, 200)], 0.05, paired=False).decision == "worse"
