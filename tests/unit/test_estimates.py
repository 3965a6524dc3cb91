"""Like rates with honest uncertainty: the Beta quantile, shrinkage, flags with bounded false
alarms, the pack rate with the run as the unit, the keeper rate, and hostile input."""

from __future__ import annotations

import math

import pytest

from packsync.feedback.estimates import (
    RunLikes,
    benjamini_hochberg,
    beta_cdf,
    beta_ppf,
    estimate_counts,
    estimate_pack,
    fit_prior,
    poisson_binomial_tails,
    wilson,
)
from packsync.sandbox.customers import simulate_runs


def binomial_upper(n: int, a: int, x: float) -> float:
    """P(Bin(n, x) ≥ a): equal to I_x(a, n - a + 1) for whole numbers, an independent check."""
    return sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))


@pytest.mark.parametrize(
    ("a", "b", "x"), [(2, 3, 0.5), (1, 1, 0.3), (3, 7, 0.2), (30, 70, 0.31), (5, 1, 0.9), (200, 800, 0.19)]
)
def test_the_incomplete_beta_matches_the_binomial_sum(a: int, b: int, x: float) -> None:
    assert beta_cdf(x, a, b) == pytest.approx(binomial_upper(a + b - 1, a, x), rel=1e-9, abs=1e-12)


def test_known_values_of_the_beta_cdf_and_quantile() -> None:
    assert beta_cdf(0.5, 2, 3) == pytest.approx(11 / 16, abs=1e-12)
    assert beta_ppf(0.5, 2, 2) == pytest.approx(0.5, abs=1e-9)
    for p in (0.025, 0.3, 0.975):
        assert beta_ppf(p, 4, 1) == pytest.approx(p**0.25, abs=1e-9)  # I_x(a, 1) = x^a
        assert beta_ppf(p, 1, 3) == pytest.approx(1 - (1 - p) ** (1 / 3), abs=1e-9)
        assert beta_ppf(p, 0.5, 0.5) == pytest.approx(math.sin(math.pi * p / 2) ** 2, abs=1e-9)  # arcsine
    for a, b in ((0.7, 3.0), (12.0, 50.0), (301.5, 701.0), (2.0, 1999.0)):
        for p in (0.025, 0.5, 0.975):
            assert beta_cdf(beta_ppf(p, a, b), a, b) == pytest.approx(p, abs=1e-9)
    assert beta_ppf(0, 2, 3) == 0.0 and beta_ppf(1, 2, 3) == 1.0
    assert beta_ppf(1e-6, 0.1, 1) == pytest.approx(1e-60, rel=1e-8)  # far in a steep tail: p^(1/a)
    assert beta_ppf(0.999, 1, 0.2) == pytest.approx(1 - 0.001**5, abs=1e-15)


def test_shrinkage_pulls_a_two_run_template_to_the_pack_and_barely_moves_a_well_measured_one() -> None:
    counts = {t: (100 + 20 * (t % 11), 1000) for t in range(20)}  # a pack at about 20%, prompts 10-30%
    counts[100] = (1, 2)
    counts[101] = (300, 1000)
    found = estimate_counts(counts)
    assert abs(found[100].estimate - 0.2) < 0.06 and found[100].raw_rate == 0.5
    assert found[100].low < 0.2 < found[100].high
    assert found[101].estimate == pytest.approx(0.3, abs=0.01)
    assert found[101].low > 0.2  # its interval excludes the pack rate
    # in a pack whose other prompts are all alike, a prompt clearly unlike them is not pulled in
    alike = {t: (195 + t % 10, 1000) for t in range(20)} | {100: (1, 2), 101: (300, 1000)}
    found = estimate_counts(alike)
    assert abs(found[100].estimate - 0.2) < 0.02
    assert found[101].estimate == pytest.approx(0.3, abs=0.01) and found[101].low > 0.25


def test_a_small_pack_gets_a_weak_prior_and_a_large_one_its_own() -> None:
    weak = fit_prior([(1, 2), (0, 3)])
    assert weak.weak and weak.concentration == 2.0 and weak.mean == pytest.approx(1.5 / 6)
    spread = fit_prior([(20 + 10 * (t % 5), 200) for t in range(30)])  # rates 10%-30%
    alike = fit_prior([(40 + (t % 3), 200) for t in range(30)])  # rates 20%-21%
    assert not spread.weak and not alike.weak and spread.mean == pytest.approx(alike.mean, abs=0.01)
    assert 5 < spread.concentration < 60 < alike.concentration


def _pack(liked_share: float, runs: int, never: int = 0) -> list[RunLikes]:
    """``runs`` runs of 20 templates; each liked where (run + template) falls in the share, but
    template ``never`` never liked."""
    out = []
    for i in range(runs):
        liked = frozenset(t for t in range(20) if t != never and ((i * 7 + t * 3) % 10) < liked_share * 10)
        out.append(RunLikes(i, "dog", tuple(range(20)), liked))
    return out


def test_never_a_flag_under_the_minimum_runs() -> None:
    runs = _pack(0.8, 9)
    below = estimate_pack(runs, min_runs=10).templates[0]
    assert below.flag is None and below.p_worse is None and below.runs == 9 and below.likes == 0
    assert estimate_pack(runs, min_runs=9).templates[0].flag == "rework"


def test_a_null_pack_gives_no_flag_in_most_seeds() -> None:
    truth = dict.fromkeys(range(60), 0.2)
    flagged = 0
    for seed in range(20):
        drawn = simulate_runs({"dog": list(truth)}, truth, 10, seed=seed)
        found = estimate_pack(RunLikes(r.index, r.class_name, r.templates, r.liked) for r in drawn)
        flagged += any(r.flag for r in found.templates.values())
    assert flagged <= 3


@pytest.mark.parametrize("seed", range(5))
def test_a_truly_bad_template_is_flagged_at_40_runs_and_a_truly_good_one_marked_best(seed: int) -> None:
    truth = {t: 0.3 for t in range(20)} | {0: 0.01, 1: 0.9}
    drawn = simulate_runs({"dog": list(truth)}, truth, 40, seed=seed)
    found = estimate_pack(RunLikes(r.index, r.class_name, r.templates, r.liked) for r in drawn)
    assert found.templates[0].flag == "rework"
    assert found.templates[1].flag == "best"
    assert sum(1 for r in found.templates.values() if r.flag) <= 4


def test_keeper_rate_and_each_prompts_contribution_on_a_hand_made_case() -> None:
    runs = [
        RunLikes(1, "a", (1, 2, 3), frozenset({1, 2})),  # a keeper at exactly k: 1 and 2 each made it one
        RunLikes(2, "a", (1, 2, 3), frozenset({1, 2, 3})),  # a keeper with a like to spare
        RunLikes(3, "b", (4, 5), frozenset({4})),
        RunLikes(4, "b", (4, 5), frozenset()),
    ]
    found = estimate_pack(runs, k=2)
    assert (found.keeper.keepers, found.keeper.runs, found.keeper.rate) == (2, 4, 0.5)
    assert (found.keeper.low, found.keeper.high) == pytest.approx((0.150, 0.850), abs=1e-3)
    assert found.keeper_by_class["a"].rate == 1.0 and found.keeper_by_class["b"].rate == 0.0
    contributions = {t: r.keeper_contribution for t, r in found.templates.items()}
    assert contributions == {1: 0.25, 2: 0.25, 3: 0.0, 4: 0.0, 5: 0.0}
    assert estimate_pack(runs, k=3).keeper.keepers == 1
    assert (found.runs, found.prompts, found.likes) == (4, 10, 6)


def test_a_key_combines_its_templates_across_classes() -> None:
    runs = [
        RunLikes(i, "a" if i % 2 else "b", (1,) if i % 2 else (2,), frozenset({1} if i % 4 == 1 else ()))
        for i in range(40)
    ]
    found = estimate_pack(runs, {1: "portrait", 2: "portrait"})
    key = found.keys["portrait"]
    assert (key.runs, key.likes) == (40, 10)
    assert (found.templates[1].runs, found.templates[1].likes, found.templates[2].likes) == (20, 10, 0)


def test_the_pack_interval_counts_a_correlated_run_as_one_customer() -> None:
    # 20 runs of 10 prompts: 5 customers liked everything, 15 nothing; 25% of 200 prompts
    runs = [RunLikes(i, "dog", tuple(range(10)), frozenset(range(10)) if i < 5 else frozenset()) for i in range(20)]
    found = estimate_pack(runs)
    assert found.estimate == 0.25
    wald = 1.96 * math.sqrt(0.25 * 0.75 / 200)
    assert found.high - found.low > 3 * wald  # about as wide as 5 of 20 customers, not 50 of 200 prompts
    assert found.low < 0.15 and found.high > 0.4


def test_mid_p_tails_and_benjamini_hochberg() -> None:
    low, high = poisson_binomial_tails([0.5] * 4, 2)  # Bin(4, 1/2): P(<2) = 5/16, P(=2) = 6/16
    assert (low, high) == pytest.approx((5 / 16 + 3 / 16, 5 / 16 + 3 / 16))
    low, _ = poisson_binomial_tails([0.2] * 2000, 300)  # the normal approximation, far in the tail
    assert 0 < low < 1e-6
    assert benjamini_hochberg({"a": 0.001, "b": 0.02, "c": 0.03, "d": 0.9}, q=0.1) == {"a", "b", "c"}
    assert benjamini_hochberg({"a": 0.06, "b": 0.9}, q=0.1) == set()  # 0.06 > 0.1 · 1/2
    assert wilson(0, 0) == (0.0, 1.0)


def test_hostile_input_gives_defined_results() -> None:
    empty = estimate_pack([])
    assert (empty.runs, empty.estimate, empty.low, empty.high, empty.keeper.rate) == (0, 0.0, 0.0, 1.0, 0.0)
    assert empty.templates == {} and empty.prior.weak
    odd = estimate_pack(
        [RunLikes(1, "dog", (), frozenset({5})), RunLikes(2, "dog", (1, 1), frozenset({1, 9}))], {7: "never-run"}
    )
    assert odd.runs == 1 and odd.prompts == 1 and odd.likes == 1  # the empty run is no run; 9 was not in it
    assert odd.templates[7].runs == 0 and odd.templates[7].flag is None
    assert 0 < odd.templates[7].estimate < 1 and odd.templates[7].low < odd.templates[7].high
    assert odd.keys["never-run"].runs == 0
    assert estimate_counts({}) == {}
    zero = estimate_counts({1: (0, 0)})[1]
    assert zero.runs == 0 and zero.flag is None and 0 <= zero.low < zero.high <= 1
