"""Where an experiment stands: its arms' runs and likes on the account, the decision of the
always-valid rule (:mod:`sequential`), the guardrails and the sample-ratio check.

The data are the customer runs ``stats`` reads (:class:`~packsync.feedback.stats.CustomerRun`).
An arm is a prompt key; in a run of class C it is the key's live template for C. The rule looks
once per day of runs (UTC), from the first run that had a variant, so the decision depends on
the runs alone, never on how often anyone asked: the same account gives the same answer.

* **paired**: a run that had the control and a variant is one unit of that comparison; its
  difference is +1 (only the variant liked), -1 (only the control) or 0.
* **split**, **rotation**: a run with one arm is a unit of that arm; a run with two arms of the
  experiment (the app sent both, or a rotation switched during it) is left out and counted.
* **keeper-rate**: an arm's outcome in a run is whether the run would be a keeper (at least k
  liked prompts) with that arm's prompt as its only arm of the experiment.

Several variants: each is compared with the control at ``α / variants`` (Bonferroni). Status:
``winner`` when a variant is better (the best such) or every variant worse (the control);
``no-difference`` when every comparison is decided and none is better; ``stopped`` when the
file says so, a guardrail tripped or the sample ratio is off; else ``running``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from packsync.desired.rotation import rotation_seed, time_shares
from packsync.feedback.estimates import DEFAULT_K
from packsync.feedback.sequential import ALPHA, SequentialTest, paired_look, two_sample_look
from packsync.feedback.stats import CustomerRun, PackStats
from packsync.packfiles.pack import Experiment, Pack

SRM_ALPHA = 0.001  # a sample-ratio mismatch is a broken experiment, so only strong evidence stops it
FAILURE_EFFECT = 0.05  # the failure-rate increase the guardrail's test is tuned for
COST_TOLERANCE = 0.10  # a variant may cost up to 10% more per prompt than the control
MIN_COST_PROMPTS = 5


@dataclass(frozen=True)
class Comparison:
    variant: str
    units: int  # paired: runs with both; else the two arms' runs
    control_rate: float | None
    variant_rate: float | None
    estimate: float | None  # variant minus control
    low: float | None  # the always-valid 95% interval (None while the rule is still waiting for runs)
    high: float | None
    p_value: float
    decision: str | None  # better, worse, same, or None
    decided_on: str | None  # the day (UTC) of the look that decided


@dataclass(frozen=True)
class Guardrail:
    name: str  # failures, cost, sample-ratio
    ok: bool
    detail: str


@dataclass
class ExperimentStatus:
    pack: str
    name: str
    source: str  # file:line of the experiment
    design: str
    metric: str
    min_effect: float
    status: str  # running, winner, no-difference, stopped
    winner: str | None
    runs: int  # the customer runs that had an arm of the experiment
    started: str | None  # the day of its first run with a variant
    days: float  # since then
    comparisons: list[Comparison] = field(default_factory=list)
    guardrails: list[Guardrail] = field(default_factory=list)
    arms: list[dict[str, object]] = field(default_factory=list)  # per arm: key, templates, runs, likes, rate
    left_out: int = 0  # runs with two arms in a one-arm design
    reason: str = ""  # why it stopped, or what it waits for
    remaining_days: float | None = None  # the planner's figure, from now
    declared: str = "running"  # the status the pack file gives it

    @property
    def decision_ready(self) -> bool:
        """Running in the file and decided on the account: a pull request to make."""
        return self.declared == "running" and self.status != "running"


def arm_templates(pack: PackStats, experiment: Experiment) -> dict[str, dict[str, int]]:
    """Per arm, its template per class: the live one (the plan's matching named it), else, for an
    arm a rotation has detached, the newest template of that key and class that customers ran
    and no replace retired (an earlier version of the prompt is another prompt)."""
    out: dict[str, dict[str, int]] = {key: {} for key in experiment.arms}
    for row in pack.templates:
        if row.live and row.key in out:
            out[row.key][row.class_name] = row.template_id
    if experiment.design == "rotation":
        for row in sorted(pack.templates, key=lambda r: -r.template_id):
            if not row.live and row.key in out and row.attributed not in ("replaced", ""):
                out[row.key].setdefault(row.class_name, row.template_id)
    return out


def _outcomes(
    run: CustomerRun, arms: Mapping[str, Mapping[str, int]], metric: str, k: int
) -> dict[str, tuple[int, bool]]:
    """The arms this run had: key -> (its template, the arm's outcome in the run)."""
    present = {
        key: by_class[run.class_name] for key, by_class in arms.items() if by_class.get(run.class_name) in run.templates
    }
    if metric != "keeper-rate":
        return {key: (t, t in run.liked) for key, t in present.items()}
    others = len(run.liked - set(present.values()))
    return {key: (t, others + (t in run.liked) >= k) for key, t in present.items()}


def _day(run: CustomerRun, now: datetime) -> str:
    return (run.at or now).astimezone(timezone.utc).date().isoformat()


def _observe_comparison(
    design: str, control: str, variant: str, days: Sequence[tuple[str, list[dict[str, tuple[int, bool]]]]],
    min_effect: float, alpha: float,
) -> Comparison:  # fmt: skip
    """Run the rule over the days' runs (each run: arm -> (template, outcome))."""
    paired = design == "paired"
    test = SequentialTest(min_effect, alpha, paired=paired)
    counts = [0, 0, 0, 0]  # paired: runs, variant only, control only; else control runs, likes, variant runs, likes
    decided_on = None
    for day, runs in days:
        for arms in runs:
            if paired and control in arms and variant in arms:
                c, v = arms[control][1], arms[variant][1]
                counts[0] += 1
                counts[1] += v and not c
                counts[2] += c and not v
            elif not paired and len(arms) == 1 and (control in arms or variant in arms):
                base = 0 if control in arms else 2
                counts[base] += 1
                counts[base + 1] += next(iter(arms.values()))[1]
        look = paired_look(*counts[:3]) if paired else two_sample_look(*counts)
        if test.look(look) is not None and decided_on is None:
            decided_on = day
    verdict = test.verdict()
    rates: tuple[float | None, float | None] = (None, None)
    if not paired:
        rates = tuple(counts[i + 1] / counts[i] if counts[i] else None for i in (0, 2))  # type: ignore[assignment]
    waiting = not math.isfinite(verdict.low)
    last = verdict.last
    return Comparison(
        variant,
        0 if last is None else last.n,
        rates[0],
        rates[1],
        None if last is None or not math.isfinite(last.estimate) or last.n == 0 else round(last.estimate, 4),
        None if waiting else round(verdict.low, 4),
        None if waiting else round(verdict.high, 4),
        round(verdict.p_value, 6),
        verdict.decision,
        decided_on,
    )


def _srm(design: str, arm_runs: Sequence[int], shares: Sequence[float]) -> Guardrail:
    """The sample-ratio check: are the runs split among the arms as the design says? A
    Dirichlet-multinomial mixture against the expected shares (always valid, like the rule)."""
    n = sum(arm_runs)
    if design == "paired" or n == 0:
        return Guardrail("sample-ratio", True, "every run has every arm" if design == "paired" else "no runs yet")
    log_ratio = math.lgamma(len(arm_runs)) - math.lgamma(len(arm_runs) + n)
    for count, share in zip(arm_runs, shares, strict=True):
        log_ratio += math.lgamma(1 + count) - count * math.log(max(share, 1e-12))
    ratio = math.exp(min(log_ratio, 700.0))
    expected = ", ".join(f"{s:.0%}" for s in shares)
    seen = ", ".join(str(c) for c in arm_runs)
    ok = ratio < 1 / SRM_ALPHA
    said = (
        "as expected"
        if ok
        else "a mismatch: the runs are not assigned as the design says; the result cannot be trusted"
    )
    return Guardrail("sample-ratio", ok, f"runs per arm {seen} against shares {expected}: {said}")


def _failures(
    control: str, variant: str, prompts: Mapping[str, list[CustomerRun]], arms: Mapping[str, Mapping[str, int]]
) -> Guardrail:
    """Does the variant fail to generate more often than the control (the same always-valid test)?"""

    def tally(key: str) -> tuple[int, int]:
        ids = set(arms[key].values())
        runs = prompts.get(key, [])
        return len(runs), sum(1 for r in runs if ids & r.failed)

    (cn, cf), (vn, vf) = tally(control), tally(variant)
    test = SequentialTest(FAILURE_EFFECT, ALPHA, paired=False)
    worse = test.look(two_sample_look(cn, cf, vn, vf)) == "better"
    detail = f"{variant}: {vf} of {vn} failed; {control}: {cf} of {cn}"
    return Guardrail("failures", not worse, detail + (" — the variant fails more often" if worse else ""))


def _cost(
    control: str, variant: str, prompts: Mapping[str, list[CustomerRun]], arms: Mapping[str, Mapping[str, int]]
) -> Guardrail:
    """Does a variant's prompt cost more than the control's (``cost_mc``, where the account shows it)?"""

    def mean(key: str) -> tuple[float | None, int]:
        ids = set(arms[key].values())
        costs = [c for r in prompts.get(key, []) for t, c in r.cost_mc if t in ids]
        return (sum(costs) / len(costs) if costs else None), len(costs)

    (c_mean, cn), (v_mean, vn) = mean(control), mean(variant)
    if c_mean is None or v_mean is None or min(cn, vn) < MIN_COST_PROMPTS:
        return Guardrail("cost", True, "too few prompts with a cost shown to compare")
    dearer = v_mean > c_mean * (1 + COST_TOLERANCE) and v_mean - c_mean >= 1
    detail = f"{variant}: {v_mean:,.0f} mc per prompt; {control}: {c_mean:,.0f} mc"
    return Guardrail("cost", not dearer, detail + (f" — more than {COST_TOLERANCE:.0%} dearer" if dearer else ""))


def _expected_shares(pack: Pack, experiment: Experiment, start: datetime | None, now: datetime) -> list[float]:
    arms = len(experiment.arms)
    if experiment.design != "rotation" or start is None:
        return [1.0 / arms] * arms
    return time_shares(rotation_seed(pack.slug, experiment.name), arms, start.timestamp(), now.timestamp())


def observe(
    pack: Pack, stats: PackStats, experiment: Experiment, now: datetime, k: int = DEFAULT_K,
    remaining: Callable[[ExperimentStatus], float | None] | None = None,
) -> ExperimentStatus:  # fmt: skip
    """The status of one experiment of ``pack`` from its stats (customer runs)."""
    arms = arm_templates(stats, experiment)
    seen = [(run, _outcomes(run, arms, experiment.metric, k)) for run in stats.customer_runs]
    seen = [(run, got) for run, got in seen if got]
    variants = set(experiment.variants)
    started = min((run.at or now for run, got in seen if variants & set(got)), default=None)
    relevant = sorted(
        ((run, got) for run, got in seen if started is not None and (run.at or now) >= started),
        key=lambda rg: rg[0].at or now,
    )
    by_day: dict[str, list[dict[str, tuple[int, bool]]]] = {}
    by_arm: dict[str, list[CustomerRun]] = {key: [] for key in experiment.arms}
    for run, got in relevant:
        by_day.setdefault(_day(run, now), []).append(got)
        for key in got:
            by_arm[key].append(run)
    days = sorted(by_day.items())
    alpha = ALPHA / len(experiment.variants)
    single = experiment.design != "paired"
    status = ExperimentStatus(
        pack.slug, experiment.name, f"{experiment.location.path}:{experiment.location.line}", experiment.design,
        experiment.metric, experiment.min_effect, "running", None, len(relevant),
        started.date().isoformat() if started else None,
        round((now - started).total_seconds() / 86400, 2) if started else 0.0,
        left_out=sum(1 for _, got in relevant if single and len(got) > 1),
        declared=experiment.status,
    )  # fmt: skip
    status.comparisons = [
        _observe_comparison(experiment.design, experiment.control, v, days, experiment.min_effect, alpha)
        for v in experiment.variants
    ]
    one_arm = [sum(1 for run, got in relevant if len(got) == 1 and key in got) for key in experiment.arms]
    status.guardrails = [
        *(_failures(experiment.control, v, by_arm, arms) for v in experiment.variants),
        *(_cost(experiment.control, v, by_arm, arms) for v in experiment.variants),
        _srm(experiment.design, one_arm, _expected_shares(pack, experiment, started, now)),
    ]
    status.arms = _arm_rows(experiment, arms, by_arm, stats)
    _settle(status, experiment, arms)
    if status.status == "running" and remaining is not None:
        status.remaining_days = remaining(status)
    return status


def _arm_rows(
    experiment: Experiment,
    arms: Mapping[str, Mapping[str, int]],
    by_arm: Mapping[str, list[CustomerRun]],
    stats: PackStats,
) -> list[dict[str, object]]:
    """Per arm: its templates, runs and likes, and for a split the ``prompt_ids`` an app sends to
    run that arm (the class's templates without the other arms')."""
    rows: list[dict[str, object]] = []
    every = {t for by_class in arms.values() for t in by_class.values()}
    by_class: dict[str, list[int]] = {}
    for template in stats.templates:
        if template.live:
            by_class.setdefault(template.class_name, []).append(template.template_id)
    for key in experiment.arms:
        ids = set(arms[key].values())
        runs = by_arm.get(key, [])
        likes = sum(1 for r in runs if ids & r.liked)
        row: dict[str, object] = {
            "key": key,
            "role": "control" if key == experiment.control else "variant",
            "templates": dict(sorted(arms[key].items())),
            "runs": len(runs),
            "likes": likes,
            "rate": round(likes / len(runs), 4) if runs else None,
        }
        if experiment.design == "split":
            row["prompt_ids"] = {
                name: sorted(t for t in ids_ if t not in every or t in ids) for name, ids_ in sorted(by_class.items())
            }
        rows.append(row)
    return rows


def _settle(status: ExperimentStatus, experiment: Experiment, arms: Mapping[str, Mapping[str, int]]) -> None:
    """The status from the file's word, the guardrails and the comparisons' decisions."""
    missing = [key for key, by_class in arms.items() if not by_class]
    tripped = [g for g in status.guardrails if not g.ok]
    decisions = [c.decision for c in status.comparisons]
    if experiment.status == "concluded":
        status.status, status.winner, status.reason = "winner", experiment.winner, "concluded in the pack file"
    elif experiment.status == "stopped":
        status.status, status.reason = "stopped", "stopped in the pack file"
    elif missing:
        status.reason = f"not on the account yet: {', '.join(missing)} (apply the pack first)"
    elif tripped:
        status.status, status.reason = "stopped", "; ".join(f"{g.name}: {g.detail}" for g in tripped)
    elif "better" in decisions:
        best = max((c for c in status.comparisons if c.decision == "better"), key=lambda c: c.estimate or 0.0)
        status.status, status.winner = "winner", best.variant
        status.reason = f"{best.variant} is better than {experiment.control}"
    elif decisions and all(d == "worse" for d in decisions):
        status.status, status.winner = "winner", experiment.control
        status.reason = f"every variant is worse than {experiment.control}"
    elif decisions and all(d in ("worse", "same") for d in decisions):
        status.status = "no-difference"
        status.reason = f"no variant is better than {experiment.control} by {experiment.min_effect:g} or more"
    elif status.runs == 0:
        status.reason = "no customer run has had a variant yet"
    else:
        status.reason = "not decided yet"
