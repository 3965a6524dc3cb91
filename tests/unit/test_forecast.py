"""The planner: fitted on a pack's runs, and its forecasts' shape (the study checks its accuracy)."""

from __future__ import annotations

from packsync.feedback.estimates import RunLikes
from packsync.feedback.forecast import History, fit_correlation, fit_history, forecast
from packsync.sandbox.customers import draw_truth, simulate_runs


def _runs(correlation: float, count: int = 1500) -> list[RunLikes]:
    ids = list(range(1, 21))
    truth = draw_truth(ids, 3, 0.25, 200.0)
    drawn = simulate_runs({"dog": ids}, truth, count, 5, 30.0, correlation)
    return [RunLikes(r.index, r.class_name, r.templates, r.liked) for r in drawn]


def test_the_history_gives_the_traffic_the_control_rate_and_the_correlation() -> None:
    runs = _runs(0.3)
    history = fit_history(runs, 30.0, [1])
    assert history.runs_per_day == 50.0
    assert abs(history.run_correlation - 0.3) < 0.06
    assert fit_correlation(_runs(0.0)) < 0.05
    assert abs(history.baseline - 0.25) < 0.05
    keeper = fit_history(runs, 30.0, [1], "keeper-rate", k=3)
    assert 0 < keeper.at_threshold < 1 and keeper.like_rate == history.baseline


def test_paired_needs_fewer_runs_than_split_and_rotation_makes_no_image() -> None:
    history = History(40.0, 0.25, 0.3, images_per_prompt=4)
    paired = forecast(history, 0.05, "paired", sims=150)
    split = forecast(history, 0.05, "split", sims=150)
    rotation = forecast(history, 0.05, "rotation", sims=150)
    assert paired.runs is not None and split.runs is not None and paired.runs < 0.6 * split.runs
    assert paired.images == paired.runs * 4 and split.images == 0 and rotation.images == 0
    assert paired.power > split.power and paired.days is not None and paired.null_days is not None


def test_no_traffic_or_an_impossible_effect_gives_no_figures() -> None:
    none = forecast(History(0.0, 0.25), 0.05, "paired")
    assert none.days is None and none.power == 0.0 and none.reachable
    impossible = forecast(History(30.0, 0.98), 0.05, "split")
    assert not impossible.reachable and impossible.runs is None
