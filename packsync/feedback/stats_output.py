"""How ``packsync stats`` shows its report: a table for people, JSON and CSV for tools, and a
self-contained HTML page that draws each like rate with its 95% range."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Any

from packsync.feedback.stats import SCOPE_NOTE, KeyStats, PackStats, StatsReport, TemplateStats
from packsync.term import json_text, printable

# -- output ---------------------------------------------------------------------


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def to_json(report: StatsReport, since: date | None) -> str:
    document = {
        "version": 1,
        "since": since.isoformat() if since else None,
        "test_tune_ids": list(report.test_tune_ids),
        "packs": [
            {
                "pack": p.pack,
                "file": p.file,
                "id": p.pack_id,
                "runs": p.runs,
                "likes": p.likes,
                "rate": round(p.rate, 4),
                "estimate": p.estimate,
                "low": p.low,
                "high": p.high,
                "keeper_rate": p.keeper_rate,
                "excluded": {"runs": p.excluded_runs, "likes": p.excluded_likes},
                "templates": [{**asdict(t), "rate": round(t.rate, 4)} for t in p.templates],
                "keys": [{**asdict(k), "rate": round(k.rate, 4)} for k in p.keys],
                "unattributed": _unattributed(p),
            }
            for p in report.packs
        ],
    }
    return json_text(document) + "\n"


def _unattributed(pack: PackStats) -> dict[str, Any]:
    """The earlier templates whose key no source gives: their runs and likes, counted, never dropped."""
    rows = [t for t in pack.templates if not t.live and not t.key]
    return {
        "templates": [t.template_id for t in rows],
        "runs": sum(t.runs for t in rows),
        "likes": sum(t.likes for t in rows),
    }


def _name(t: TemplateStats) -> str:
    if t.live:
        return t.key or "(not in files)"
    where = f", {t.commit}" if t.commit else ""
    return f"{t.key} (earlier #{t.template_id}{where})" if t.key else f"(earlier #{t.template_id}, key unknown)"


FLAG_TEXT = {"rework": "  <- rework: clearly below the pack", "best": "  <- best: clearly above the pack"}


def _estimate(row: TemplateStats | KeyStats) -> str:
    """``31% (18-47%)``: the shrunk estimate and its 95% range; "-" when there is none."""
    if row.estimate is None or row.low is None or row.high is None:
        return "-"
    return f"{_percent(row.estimate)} ({row.low * 100:.0f}-{_percent(row.high)})"


def _pack_range(pack: PackStats) -> str:
    """The pack's 95% range and keeper rate, for its heading."""
    if pack.low is None or pack.high is None:
        return ""
    text = f" (95%: {pack.low * 100:.0f}-{_percent(pack.high)})"
    keeper = pack.keeper_rate
    if keeper:
        text += f"; keepers ({keeper['k']}+ likes): {_percent(keeper['rate'])} of {keeper['runs']} customer runs"
    return text


def _left_out(pack: PackStats) -> str:
    if not pack.excluded_runs and not pack.excluded_likes:
        return ""
    return f"left out: {pack.excluded_runs} run(s) and {pack.excluded_likes} like(s) on test tunes"


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: never a formula (a leading =, +, - or @ gets
    a quote), and control characters (a tab or carriage return included) written as escapes."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


CSV_COLUMNS = (
    "pack", "template_id", "key", "class", "source", "runs", "likes", "rate", "rework", "text", "live", "versions",
    "estimate", "low", "high", "flag", "keeper_contribution",
    "key_runs", "key_likes", "key_estimate", "key_low", "key_high", "key_flag",
    "pack_estimate", "pack_low", "pack_high", "pack_keeper_rate",
)  # fmt: skip


def _figures(*values: float | None) -> list[str]:
    return ["" if v is None else f"{v:.4f}" for v in values]


def to_csv(stats: list[PackStats]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for pack in stats:
        keys = {(k.key, k.class_name): k for k in pack.keys}
        keeper = (pack.keeper_rate or {}).get("rate")
        for t in pack.templates:
            k = keys.get((t.key, t.class_name)) if t.key else None
            per_key = [k.runs, k.likes, *_figures(k.estimate, k.low, k.high), k.flag or ""] if k else [""] * 6
            writer.writerow(
                _cell(value)
                for value in [
                    t.pack,
                    t.template_id,
                    t.key,
                    t.class_name,
                    t.source,
                    t.runs,
                    t.likes,
                    f"{t.rate:.4f}",
                    t.rework,
                    t.text,
                    t.live,
                    " ".join(str(v) for v in t.versions),
                    *_figures(t.estimate, t.low, t.high),
                    t.flag or "",
                    f"{t.keeper_contribution:.4f}",
                    *per_key,
                    *_figures(pack.estimate, pack.low, pack.high, keeper),
                ]
            )
    return buffer.getvalue()


def to_table(stats: list[PackStats]) -> str:
    lines = []
    for pack in stats:
        where = f"#{pack.pack_id}" if pack.pack_id is not None else "not on the account"
        lines.append(
            f"{pack.pack} ({where}, {pack.file}): {pack.runs} runs, {pack.likes} likes, {_percent(pack.rate)}"
            + _pack_range(pack)
        )
        if _left_out(pack):
            lines.append(f"  ({_left_out(pack)})")
        if not pack.templates:
            continue
        width = max(len(_name(t)) for t in pack.templates)
        lines.append(
            f"  {'PROMPT':<{width}}  {'CLASS':<8} {'RUNS':>6} {'LIKES':>6} {'RATE':>6}  {'ESTIMATE (95%)':<16}"
        )
        for t in pack.templates:
            flag = FLAG_TEXT.get(t.flag or "", "")
            name = _name(t)
            lines.append(
                f"  {name:<{width}}  {t.class_name:<8} {t.runs:>6} {t.likes:>6} {_percent(t.rate):>6}  "
                f"{_estimate(t):<16}{flag}".rstrip()
            )
        for k in pack.keys:
            if len(k.versions) > 1:
                lines.append(
                    f"  {k.key} ({k.class_name}), all {len(k.versions)} versions: "
                    f"{k.runs} runs, {k.likes} likes, {_percent(k.rate)}, estimate {_estimate(k)}"
                    + FLAG_TEXT.get(k.flag or "", "")
                )
        lost = _unattributed(pack)
        if lost["templates"]:
            lines.append(
                f"  {lost['runs']} run(s) and {lost['likes']} like(s) of {len(lost['templates'])} earlier "
                "template(s) whose prompt key neither the state file nor the pack file's git history gives"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_html(stats: list[PackStats], since: date | None) -> str:
    """One self-contained page: per template a bar for its raw like rate and, over it, a line for
    the 95% range of its estimate with a tick at the estimate."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>packsync stats</title><style>",
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h2{margin-top:2em}"
        "table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;text-align:left;border-bottom:1px solid #eee}"
        ".bar{background:#9c9;height:12px;border-radius:3px}"
        ".track{background:#eef;width:240px;border-radius:3px;position:relative;height:12px}"
        ".range{position:absolute;top:5px;height:2px;background:#222}"
        ".tick{position:absolute;top:1px;width:2px;height:10px;background:#222}"
        ".rework{color:#b33;font-weight:bold}.best{color:#272;font-weight:bold}"
        ".num{text-align:right;font-variant-numeric:tabular-nums}"
        ".text{color:#666;font-size:12px;max-width:40em}",
        "</style></head><body>",
        "<h1>Which prompts work?</h1>",
        f"<p>Likes per template prompt{' since ' + html.escape(since.isoformat()) if since else ''}. "
        "A bar is the raw like rate (likes per run); the black line over it is the 95% range of the "
        "estimate, which leans on the pack's rate until a prompt has many runs, and its tick the estimate. "
        "Runs on test tunes are not customers' and are left out. "
        f"This page {html.escape(SCOPE_NOTE)}.</p>",
    ]
    for pack in stats:
        parts.append(
            f"<h2>{html.escape(pack.pack)}</h2><p>{pack.runs} runs, {pack.likes} likes, like rate "
            f"{_percent(pack.rate)}{html.escape(_pack_range(pack))} &middot; <code>{html.escape(pack.file)}</code>"
            + (f" &middot; {html.escape(_left_out(pack))}" if _left_out(pack) else "")
            + "</p>"
        )
        if not pack.templates:
            parts.append("<p>No templates on the account.</p>")
            continue
        parts.append(
            "<table><tr><th>prompt</th><th>class</th><th class='num'>runs</th><th class='num'>likes</th>"
            "<th>like rate</th><th>estimate (95%)</th></tr>"
        )
        for t in pack.templates:
            width = round(240 * t.rate)
            flag = f" <span class='{t.flag}'>{t.flag}</span>" if t.flag in FLAG_TEXT else ""
            parts.append(
                f"<tr><td><b>{html.escape(_name(t))}</b>{flag}"
                f"<div class='text'>{html.escape(t.text)}</div></td><td>{html.escape(t.class_name)}</td>"
                f"<td class='num'>{t.runs}</td><td class='num'>{t.likes}</td>"
                f"<td><div class='track'><div class='bar' style='width:{width}px'></div>{_range_marks(t)}</div>"
                f"{_percent(t.rate)}</td><td class='num'>{html.escape(_estimate(t))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _range_marks(t: TemplateStats) -> str:
    if t.estimate is None or t.low is None or t.high is None:
        return ""
    left, right = round(240 * t.low), round(240 * t.high)
    return (
        f"<div class='range' style='left:{left}px;width:{max(right - left, 1)}px'></div>"
        f"<div class='tick' style='left:{min(round(240 * t.estimate), 238)}px'></div>"
    )


# The output formats of stats; the command line's --format choices are these names.
STATS_FORMATS: dict[str, Callable[[StatsReport, date | None], str]] = {
    "table": lambda report, since: to_table(report.packs),
    "json": to_json,
    "csv": lambda report, since: to_csv(report.packs),
    "html": lambda report, since: to_html(report.packs, since),
}
