"""``packsync catalog``: the packs, and each pack's prompts, ranked by how well customers like them,
for an app to present ("present packs sorted by aggregated likes").

Built from the same figures as ``stats`` (:mod:`estimates`): a pack is ranked by the estimate of
its like rate (the customer run as the unit), then by its keeper rate; a pack without customer
runs comes last, in file order. Within a pack, each class's live templates are ranked by their
own shrunk estimate — the template that runs, not earlier versions of its key — and listed with
their ids, so that an app can run a chosen subset (``prompt_ids`` of a pack run, A6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from packsync.feedback.stats import PackStats, StatsReport, TemplateStats
from packsync.packfiles.pack import Pack
from packsync.term import json_text, printable

CATALOG_VERSION = 1


def _prompt(t: TemplateStats) -> dict[str, Any]:
    return {
        "template_id": t.template_id,
        "key": t.key or None,
        "class": t.class_name,
        "estimate": t.estimate,
        "low": t.low,
        "high": t.high,
        "flag": t.flag,
        "runs": t.runs,
        "likes": t.likes,
    }


def _rank(t: TemplateStats) -> tuple[float, int, int]:
    return (-(t.rate if t.estimate is None else t.estimate), -t.likes, t.template_id)


def _pack(stats: PackStats, pack: Pack | None) -> dict[str, Any]:
    live = sorted((t for t in stats.templates if t.live), key=_rank)
    by_class: dict[str, list[int]] = {}
    for t in live:
        by_class.setdefault(t.class_name, []).append(t.template_id)
    keeper = stats.keeper_rate or {}
    return {
        "pack": stats.pack,
        "title": pack.title if pack is not None else stats.pack,
        "id": stats.pack_id,
        "estimate": stats.estimate,
        "low": stats.low,
        "high": stats.high,
        "keeper_rate": keeper.get("rate"),
        "customer_runs": keeper.get("runs", 0),
        "prompt_ids": by_class,
        "prompts": [_prompt(t) for t in live],
    }


def catalog(report: StatsReport, packs: Sequence[Pack]) -> dict[str, Any]:
    """The catalog document: packs best first, each with its prompts best first."""
    by_slug = {p.slug: p for p in packs}
    order = {p.slug: i for i, p in enumerate(packs)}
    entries = [_pack(s, by_slug.get(s.pack)) for s in report.packs if s.pack_id is not None]

    def rank(entry: dict[str, Any]) -> tuple[int, float, float, int]:
        if entry["estimate"] is None:
            return (1, 0.0, 0.0, order.get(entry["pack"], 0))
        return (0, -entry["estimate"], -(entry["keeper_rate"] or 0.0), order.get(entry["pack"], 0))

    entries.sort(key=rank)
    for place, entry in enumerate(entries, 1):
        entry["rank"] = place
    return {"version": CATALOG_VERSION, "test_tune_ids": list(report.test_tune_ids), "packs": entries}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _range(estimate: float | None, low: float | None, high: float | None) -> str:
    return "-" if estimate is None else f"{_percent(estimate)} ({_percent(low)}-{_percent(high)})"


def _cell(text: Any) -> str:
    return printable(str(text)).replace("|", "\\|")


def to_markdown(document: dict[str, Any]) -> str:
    lines = ["# Pack catalog", "", "Packs best first by how well customers like them (95% range in brackets).", ""]
    for entry in document["packs"]:
        lines.append(f"## {entry['rank']}. {_cell(entry['title'])} (`{_cell(entry['pack'])}`, #{entry['id']})")
        lines.append("")
        if entry["estimate"] is None:
            lines += ["No customer runs yet.", ""]
        else:
            lines += [
                f"Like rate {_range(entry['estimate'], entry['low'], entry['high'])}, "
                f"keeper rate {_percent(entry['keeper_rate'])}, {entry['customer_runs']} customer runs.",
                "",
            ]
        if not entry["prompts"]:
            continue
        lines += [
            "| # | prompt | class | template | like rate (95%) | runs | flag |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for place, p in enumerate(entry["prompts"], 1):
            shown = (
                "-"
                if p["estimate"] is None
                else f"{_percent(p['estimate'])} ({_percent(p['low'])}-{_percent(p['high'])})"
            )
            lines.append(
                f"| {place} | {_cell(p['key'] or '(not in files)')} | {_cell(p['class'])} | {p['template_id']} | "
                f"{shown} | {p['runs']} | {p['flag'] or ''} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# The output formats of catalog; the command line's --format choices are these names.
CATALOG_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "json": lambda document: json_text(document) + "\n",
    "markdown": to_markdown,
}
