"""The simulated customers: seeded, each like with exactly its template's probability, and likes
within one run correlated as asked."""

from __future__ import annotations

import pytest

from packsync.sandbox.customers import draw_truth, simulate_runs


def test_the_same_seed_gives_the_same_runs_and_another_seed_other_ones() -> None:
    classes = {"man": [1, 2, 3], "woman": [4, 5, 6]}
    truth = draw_truth([1, 2, 3, 4, 5, 6], seed=1)
    first = simulate_runs(classes, truth, 50, seed=7)
    assert first == simulate_runs(classes, truth, 50, seed=7)
    assert first != simulate_runs(classes, truth, 50, seed=8)
    assert [r.at for r in first] == sorted(r.at for r in first) and len(first) == 50
    assert all(set(r.templates) == set(classes[r.class_name]) and r.liked <= set(r.templates) for r in first)


def test_each_like_happens_with_its_templates_true_probability() -> None:
    truth = {1: 0.05, 2: 0.2, 3: 0.6}
    runs = simulate_runs({"dog": [1, 2, 3]}, truth, 20_000, seed=3, run_correlation=0.5)
    for tid, p in truth.items():
        share = sum(tid in r.liked for r in runs) / len(runs)
        assert share == pytest.approx(p, abs=0.012)


def test_likes_of_one_run_are_correlated_as_asked() -> None:
    ids = list(range(10))
    truth = dict.fromkeys(ids, 0.2)

    def spread(correlation: float) -> float:
        runs = simulate_runs({"man": ids}, truth, 4_000, seed=5, run_correlation=correlation)
        counts = [len(r.liked) for r in runs]
        mean = sum(counts) / len(counts)
        return sum((c - mean) ** 2 for c in counts) / len(counts)

    independent = spread(0.0)
    assert independent == pytest.approx(10 * 0.2 * 0.8, rel=0.1)  # binomial
    assert spread(0.4) > 2 * independent  # a run's likes rise and fall together


def test_draw_truth_has_the_asked_mean_and_bad_settings_are_refused() -> None:
    truth = draw_truth(list(range(2_000)), seed=2, mean=0.3)
    assert sum(truth.values()) / len(truth) == pytest.approx(0.3, abs=0.01)
    with pytest.raises(ValueError):
        draw_truth([1], seed=1, mean=1.5)
    with pytest.raises(ValueError, match="no true like probability"):
        simulate_runs({"man": [1, 2]}, {1: 0.5}, 3, seed=1)
    assert simulate_runs({"man": []}, {}, 3, seed=1) == []
