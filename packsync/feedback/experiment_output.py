"""The outputs of ``packsync experiment``: the status (text, json, markdown, html) and the plan
(text, json, markdown)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from packsync.feedback.experiments import Comparison, ExperimentStatus
from packsync.feedback.forecast import Forecast, History
from packsync.packfiles.pack import Experiment
from packsync.term import json_text

RULE = (
    "mixture sequential test (always valid: any number of looks, 5% chance at most of a false winner "
    "or a wrong no-difference)"
)


def _points(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f} pts"


def _interval(c: Comparison) -> str:
    if c.low is None or c.high is None:
        return "waiting for runs"
    return f"{_points(c.estimate)} [{c.low * 100:+.1f}, {c.high * 100:+.1f}]"


def headline(status: ExperimentStatus) -> Comparison | None:
    """The comparison a one-line summary shows: the winner's, else the best so far."""
    if not status.comparisons:
        return None
    for c in status.comparisons:
        if c.variant == status.winner:
            return c
    return max(status.comparisons, key=lambda c: -1.0 if c.estimate is None else c.estimate)


def status_document(found: Sequence[ExperimentStatus]) -> dict[str, object]:
    rows = []
    for s in found:
        top = headline(s)
        row = asdict(s)
        row.update(
            estimate=None if top is None else top.estimate,
            low=None if top is None else top.low,
            high=None if top is None else top.high,
            decision_ready=s.decision_ready,
        )
        rows.append(row)
    return {"version": 1, "rule": RULE, "experiments": rows}


def status_json(found: Sequence[ExperimentStatus]) -> str:
    return json_text(status_document(found)) + "\n"


def _remaining(s: ExperimentStatus) -> str:
    if s.status != "running":
        return ""
    if s.remaining_days is None:
        return "; no forecast yet"
    return f"; about {s.remaining_days:g} more days expected" if s.remaining_days else "; due about now"


def status_text(found: Sequence[ExperimentStatus]) -> str:
    if not found:
        return "No experiment is declared.\n"
    lines = []
    for s in found:
        won = f" — winner {s.winner}" if s.winner else ""
        lines.append(f"{s.pack}/{s.name} ({s.design}, {s.metric}, min effect {s.min_effect:g}): {s.status}{won}")
        lines.append(f"  {s.source}; {s.runs} runs over {s.days:g} days{_remaining(s)}")
        for c in s.comparisons:
            said = c.decision or "undecided"
            lines.append(f"  {c.variant} vs control: {_interval(c)} over {c.units} runs: {said}")
        lines.extend(
            f"  {g.name}: {g.detail}"
            for g in s.guardrails
            if not g.ok or (g.name == "sample-ratio" and s.design != "paired")
        )
        if s.left_out:
            lines.append(f"  {s.left_out} runs had two arms and are left out")
        lines.append(f"  {s.reason}")
    lines.append(f"Rule: {RULE}.")
    return "\n".join(lines) + "\n"


def status_markdown(found: Sequence[ExperimentStatus]) -> str:
    lines = [
        "| experiment | design | status | winner | runs | effect (95% always-valid) | next |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in found:
        top = headline(s)
        effect = "—" if top is None else _interval(top)
        nxt = s.reason if s.status != "running" else _remaining(s).lstrip("; ") or s.reason
        lines.append(
            f"| `{s.pack}/{s.name}` | {s.design} | **{s.status}** | {s.winner or '—'} | {s.runs} | {effect} | {nxt} |"
        )
    return "\n".join(lines) + f"\n\n_{RULE}._\n"


def status_html(found: Sequence[ExperimentStatus]) -> str:
    rows = []
    for s in found:
        top = headline(s)
        cells = [f"{s.pack}/{s.name}", s.design, s.status, s.winner or "—", str(s.runs)]
        cells.append("—" if top is None else _interval(top))
        cells.append(s.reason)
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("experiment", "design", "status", "winner", "runs", "effect", "why"))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>packsync experiments</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
        "text-align:left}</style></head><body><h1>Experiments</h1>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p>{html.escape(RULE)}.</p></body></html>\n"
    )


STATUS_FORMATS: dict[str, Callable[[Sequence[ExperimentStatus]], str]] = {
    "text": status_text,
    "json": status_json,
    "markdown": status_markdown,
    "html": status_html,
}


@dataclass(frozen=True)
class ExperimentPlan:
    pack: str
    experiment: Experiment
    history: History  # what the forecast assumed
    measured: History  # what the account's runs said (before any override)
    forecasts: list[Forecast]
    history_days: int


def _days(value: float | None) -> str:
    return "over a year" if value is None else f"{value:g} days"


def best_design(plan: ExperimentPlan) -> Forecast | None:
    """The fastest design to a decision, among those with 80% power in the horizon."""
    strong = [f for f in plan.forecasts if f.power >= 0.8 and f.days is not None]
    return min(strong, key=lambda f: (f.days, f.images or 0)) if strong else None


def plan_lines(plan: ExperimentPlan) -> list[str]:
    e, h = plan.experiment, plan.history
    lines = [
        f"{plan.pack}/{e.name}: {e.control} against {', '.join(e.variants)} ({e.metric}, min effect {e.min_effect:g})",
        f"  from the last {plan.history_days} days: {plan.measured.runs_per_day:.1f} runs a day, "
        f"control rate {plan.measured.baseline:.1%}, run correlation {plan.measured.run_correlation:.2f}",
    ]
    if h != plan.measured:
        lines.append(f"  planned for: {h.runs_per_day:.1f} runs a day, control rate {h.baseline:.1%}")
    if h.runs_per_day <= 0:
        lines.append("  no customer runs to plan from: give --runs-per-day N (and --baseline P, the control's rate)")
        return lines
    for f in plan.forecasts:
        mark = " (declared)" if f.design == e.design else ""
        if not f.reachable:
            lines.append(f"  {f.design}{mark}: the effect cannot happen at this rate")
            continue
        images = "" if f.images is None else f", {f.images:,} images of its own"
        runs = "" if f.runs is None else f"{f.runs:,} runs, "
        lines.append(
            f"  {f.design}{mark}: {runs}{_days(f.days)} to a decision if the variant is {e.min_effect:g} better "
            f"({f.power:.0%} within {f.horizon_days} days){images}; no difference found in {_days(f.null_days)}"
        )
    best = best_design(plan)
    lines.append(f"  fastest with 80% power: {best.design}" if best else "  no design reaches 80% power in 60 days")
    return lines


def plan_text(plan: ExperimentPlan) -> str:
    return "\n".join(plan_lines(plan)) + "\n"


def plan_json(plan: ExperimentPlan) -> str:
    best = best_design(plan)
    document = {
        "version": 1,
        "pack": plan.pack,
        "experiment": plan.experiment.name,
        "design": plan.experiment.design,
        "history_days": plan.history_days,
        "measured": asdict(plan.measured),
        "assumed": asdict(plan.history),
        "forecasts": [asdict(f) for f in plan.forecasts],
        "fastest": best.design if best else None,
    }
    return json_text(document) + "\n"


def plan_markdown(plan: ExperimentPlan) -> str:
    lines = plan_lines(plan)
    return (
        f"**Experiment `{plan.pack}/{plan.experiment.name}`**\n\n"
        + "\n".join(f"- {line.strip()}" for line in lines[1:])
        + "\n"
    )


PLAN_FORMATS: dict[str, Callable[[ExperimentPlan], str]] = {
    "text": plan_text,
    "json": plan_json,
    "markdown": plan_markdown,
}


def forecast_note(experiment: Experiment, history: History, forecasts: Sequence[Forecast]) -> str:
    """One line for the plan of a pull request that starts ``experiment``."""
    arms = f"{experiment.control} against {', '.join(experiment.variants)}"
    head = f"experiment {experiment.name} starts ({experiment.design}, {arms})"
    if not forecasts:
        hint = f"packsync experiment plan {experiment.name} --runs-per-day N"
        return f"{head}: no customer runs in the last 30 days to plan from ({hint})"
    by_design = {f.design: f for f in forecasts}
    mine = by_design.get(experiment.design)
    parts = []
    if mine is not None and mine.reachable:
        images = f", {mine.images:,} images of its own" if mine.images else ", no image of its own"
        parts.append(
            f"about {_days(mine.days)} to a decision at {history.runs_per_day:.0f} runs a day"
            f" ({mine.power:.0%} power in {mine.horizon_days} days){images}"
        )
    others = [f"{f.design} {_days(f.days)}" for f in forecasts if f.design != experiment.design and f.reachable]
    if others:
        parts.append("other designs: " + ", ".join(others))
    return f"{head}: " + "; ".join(parts or ["the declared effect cannot happen at this baseline"])
