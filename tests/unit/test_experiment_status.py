"""Where an experiment stands, from customer runs built by hand: the designs' units, the
decision, the guardrails and the sample-ratio check (no server)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from packsync.desired.rotation import arm_at, rotation_seed, time_shares
from packsync.feedback.experiments import observe
from packsync.feedback.stats import CustomerRun, PackStats, TemplateStats
from packsync.packfiles.diagnostics import NOWHERE as _NOWHERE
from packsync.packfiles.pack import Experiment, ModelConfig, Pack, PackClass, Prompt

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
KEYS = {"a": 11, "b": 12, "c": 13, "other": 14}  # one class: key -> template id


def _pack(*experiments: Experiment) -> Pack:
    model = ModelConfig(base_tune_id=1, model_type="lora", token="ohwx", preset=None, post_tune=None)
    prompts = tuple(Prompt(k, f"{k} of ohwx dog", None, (), _NOWHERE) for k in KEYS)
    return Pack("p", "P", model, (PackClass("dog", 5, 1.0, _NOWHERE),), prompts, experiments=experiments)


def _stats(runs: list[CustomerRun], keys: dict[str, int] = KEYS) -> PackStats:
    rows = [TemplateStats("p", t, k, "dog", "", k, 0, 0) for k, t in keys.items()]
    return PackStats("p", "p.yaml", 1, 0, 0, rows, customer_runs=runs)


def _runs(n: int, rates: dict[str, float], seed: int, arms_per_run=None, days: int = 30, **extra) -> list[CustomerRun]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        keys = arms_per_run(i, rng) if arms_per_run else list(rates)
        templates = {KEYS[k] for k in keys} | {KEYS["other"]}
        liked = {KEYS[k] for k in keys if rng.random() < rates[k]}
        at = NOW - timedelta(days=days) + timedelta(days=days * i / n)
        out.append(CustomerRun(1000 + i, "dog", at, frozenset(templates), frozenset(liked), **extra))
    return out


def test_paired_finds_a_big_difference_and_names_the_variant() -> None:
    e = Experiment("x", "a", ("b",), min_effect=0.1)
    status = observe(_pack(e), _stats(_runs(400, {"a": 0.2, "b": 0.6}, 1)), e, NOW)
    assert (status.status, status.winner, status.runs) == ("winner", "b", 400)
    (c,) = status.comparisons
    assert c.decision == "better" and c.low is not None and 0 < c.low <= c.estimate <= c.high  # type: ignore[operator]
    assert status.decision_ready and status.started == (NOW - timedelta(days=30)).date().isoformat()


def test_the_control_wins_when_every_variant_is_worse() -> None:
    e = Experiment("x", "a", ("b", "c"), min_effect=0.1)
    status = observe(_pack(e), _stats(_runs(600, {"a": 0.6, "b": 0.1, "c": 0.1}, 2)), e, NOW)
    assert (status.status, status.winner) == ("winner", "a")
    assert [c.decision for c in status.comparisons] == ["worse", "worse"]


def test_equal_arms_end_in_no_difference_given_runs_enough() -> None:
    e = Experiment("x", "a", ("b",), min_effect=0.15)
    status = observe(_pack(e), _stats(_runs(3000, {"a": 0.3, "b": 0.3}, 3)), e, NOW)
    assert (status.status, status.winner) == ("no-difference", None)
    few = observe(_pack(e), _stats(_runs(20, {"a": 0.3, "b": 0.9}, 3)), e, NOW)
    assert few.status == "running" and few.comparisons[0].low is None  # under MIN_RUNS: no interval yet


def test_a_split_counts_one_arm_per_run_and_leaves_out_runs_with_both() -> None:
    e = Experiment("x", "a", ("b",), min_effect=0.1, design="split")

    def one_arm(i: int, rng: random.Random) -> list[str]:
        return ["a", "b"] if i % 50 == 0 else [rng.choice("ab")]

    status = observe(_pack(e), _stats(_runs(800, {"a": 0.2, "b": 0.5}, 4, one_arm)), e, NOW)
    assert status.left_out == 16 and status.winner == "b"
    ratio = next(g for g in status.guardrails if g.name == "sample-ratio")
    assert ratio.ok
    arms = {row["key"]: row for row in status.arms}
    assert arms["a"]["prompt_ids"] == {"dog": [11, 13, 14]}  # 13 is no arm of this experiment: kept
    assert arms["b"]["prompt_ids"] == {"dog": [12, 13, 14]}


def test_a_sample_ratio_mismatch_stops_the_experiment() -> None:
    e = Experiment("x", "a", ("b",), min_effect=0.1, design="split")

    def lopsided(i: int, rng: random.Random) -> list[str]:
        return ["a"] if rng.random() < 0.65 else ["b"]

    status = observe(_pack(e), _stats(_runs(1000, {"a": 0.3, "b": 0.3}, 5, lopsided)), e, NOW)
    assert status.status == "stopped" and "sample-ratio" in status.reason and status.decision_ready


def test_a_variant_that_fails_more_trips_the_failure_guardrail() -> None:
    e = Experiment("x", "a", ("b",), min_effect=0.1)
    runs = _runs(400, {"a": 0.3, "b": 0.3}, 6)
    rng = random.Random(6)
    runs = [
        CustomerRun(r.tune, r.class_name, r.at, r.templates, r.liked, frozenset({12} if rng.random() < 0.3 else set()))
        for r in runs
    ]
    status = observe(_pack(e), _stats(runs), e, NOW)
    assert status.status == "stopped" and "failures" in status.reason


def test_a_dearer_variant_trips_the_cost_guardrail() -> None:
    e = Experiment("x", "a", ("b",), min_effect=0.1)
    status = observe(_pack(e), _stats(_runs(100, {"a": 0.3, "b": 0.3}, 7, cost_mc=((11, 1000), (12, 2000)))), e, NOW)
    assert status.status == "stopped" and "cost" in status.reason
    same = observe(_pack(e), _stats(_runs(100, {"a": 0.3, "b": 0.3}, 7, cost_mc=((11, 1000), (12, 1050)))), e, NOW)
    assert all(g.ok for g in same.guardrails if g.name == "cost")


def test_the_file_has_the_last_word_and_arms_not_applied_wait() -> None:
    stopped = Experiment("x", "a", ("b",), status="stopped")
    status = observe(_pack(stopped), _stats(_runs(400, {"a": 0.1, "b": 0.9}, 8)), stopped, NOW)
    assert status.status == "stopped" and not status.decision_ready
    e = Experiment("x", "a", ("b",))
    missing = observe(_pack(e), _stats([], {"a": 11, "other": 14}), e, NOW)
    assert missing.status == "running" and "b" in missing.reason


def test_keeper_rate_counts_a_run_a_keeper_with_each_arm_alone() -> None:
    e = Experiment("x", "a", ("b",), metric="keeper-rate", min_effect=0.1)
    # runs with two other likes: the arm decides whether they keep (k = 3)
    runs = [
        CustomerRun(i, "dog", NOW - timedelta(days=1), frozenset({11, 12, 14, 15, 16}),
                    frozenset({14, 15} | ({12} if i % 3 else {11})))
        for i in range(300)
    ]  # fmt: skip
    status = observe(_pack(e), _stats(runs, {**KEYS, "d": 15, "e": 16}), e, NOW, k=3)
    assert status.winner == "b"


def test_the_rotation_schedule_is_fair_and_the_same_everywhere() -> None:
    seed = rotation_seed("p", "x")
    assert seed == rotation_seed("p", "x") != rotation_seed("p", "y")
    start = NOW.timestamp()
    shares = time_shares(seed, 3, start, start + 300 * 86400)
    assert all(abs(s - 1 / 3) < 0.005 for s in shares) and abs(sum(shares) - 1) < 1e-9
    first = 3 * (int(start // 86400) // 3 + 1)  # the first day of a whole cycle
    blocks = [arm_at(seed, 3, (first + d) * 86400 + 3600) for d in range(60)]
    assert all(sorted(blocks[i : i + 3]) == [0, 1, 2] for i in range(0, 60, 3))  # each cycle: every arm once
    assert len({tuple(blocks[i : i + 3]) for i in range(0, 60, 3)}) > 1  # in orders that vary
