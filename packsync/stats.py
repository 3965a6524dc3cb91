"""``packsync stats``: which template prompts earn likes, mapped back to the pack files.

A run of a pack clones each template onto the customer's tune as a new prompt
whose ``orig_prompt_id`` is the template and ``base_pack_id`` the pack; a like
on such a prompt is a like for its template. So, per pack: every generated
prompt (``GET /prompts?base_pack_id=``, all pages) counts a run of its
template, every liked one (``&liked=true``) a like.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import Any

from packsync.aio import gather_all
from packsync.client import AstriaClient
from packsync.desired import desired_state
from packsync.diff import LiveState
from packsync.engine import read_declared
from packsync.identity import identity
from packsync.model import Pack

DEFAULT_MIN_RUNS = 10


@dataclass
class TemplateStats:
    pack: str
    template_id: int
    key: str  # the prompt key in the files; "" when the files no longer have this template
    class_name: str
    source: str  # file:line, or "" when not in the files
    text: str
    runs: int
    likes: int
    rework: bool = False

    @property
    def rate(self) -> float:
        return self.likes / self.runs if self.runs else 0.0


@dataclass
class PackStats:
    pack: str
    file: str
    pack_id: int | None
    runs: int
    likes: int
    templates: list[TemplateStats]

    @property
    def rate(self) -> float:
        return self.likes / self.runs if self.runs else 0.0


def _created(prompt: dict[str, Any]) -> datetime | None:
    value = prompt.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _since_filter(since: date | None) -> Any:
    if since is None:
        return lambda prompt: True
    start = datetime(since.year, since.month, since.day, tzinfo=timezone.utc)

    def keep(prompt: dict[str, Any]) -> bool:
        created = _created(prompt)
        return created is not None and created >= start

    return keep


async def gather_stats(
    client: AstriaClient, packs: list[Pack], tune_ids: dict[int, int], since: date | None, min_runs: int
) -> list[PackStats]:
    keep = _since_filter(since)

    async def one(pack: Pack, live: LiveState) -> PackStats:
        if live.summary is None:
            return PackStats(pack.slug, pack.path, None, 0, 0, [])
        pack_id = int(live.summary["id"])
        generated, liked = await gather_all(
            client.list_prompts(base_pack_id=pack_id), client.list_prompts(base_pack_id=pack_id, liked="true")
        )
        runs: dict[int, int] = {}
        likes: dict[int, int] = {}
        for prompt in filter(keep, generated):
            if prompt.get("orig_prompt_id") is not None:
                runs[int(prompt["orig_prompt_id"])] = runs.get(int(prompt["orig_prompt_id"]), 0) + 1
        for prompt in filter(keep, liked):
            if prompt.get("orig_prompt_id") is not None:
                likes[int(prompt["orig_prompt_id"])] = likes.get(int(prompt["orig_prompt_id"]), 0) + 1
        (desired,) = desired_state([pack], tune_ids)
        by_identity = {t.identity: t for t in desired.templates}
        rows = []
        for template in live.templates:
            tid = int(template["id"])
            want = by_identity.get(identity(str(template.get("text") or ""), template))
            row = TemplateStats(
                pack=pack.slug,
                template_id=tid,
                key=want.key if want else "",
                class_name=want.class_name if want else "?",
                source=f"{want.location.path}:{want.location.line}" if want else "",
                text=str(template.get("text") or ""),
                runs=runs.get(tid, 0),
                likes=likes.get(tid, 0),
            )
            row.rework = row.runs >= min_runs and row.likes == 0
            rows.append(row)
        rows.sort(key=lambda r: (-r.rate, -r.likes, -r.runs, r.key))
        return PackStats(pack.slug, pack.path, pack_id, sum(runs.values()), sum(likes.values()), rows)

    results, _ = await read_declared(client, packs, lambda pack, live: one(pack, live))
    stats = list(await gather_all(*results.values()))
    stats.sort(key=lambda p: (-p.rate, -p.likes, p.pack))
    return stats


# -- output ---------------------------------------------------------------------


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def to_json(stats: list[PackStats], since: date | None) -> str:
    document = {
        "version": 1,
        "since": since.isoformat() if since else None,
        "packs": [
            {
                "pack": p.pack,
                "file": p.file,
                "id": p.pack_id,
                "runs": p.runs,
                "likes": p.likes,
                "rate": round(p.rate, 4),
                "templates": [{**asdict(t), "rate": round(t.rate, 4)} for t in p.templates],
            }
            for p in stats
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_csv(stats: list[PackStats]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["pack", "template_id", "key", "class", "source", "runs", "likes", "rate", "rework", "text"])
    for pack in stats:
        for t in pack.templates:
            writer.writerow(
                [
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
                ]
            )
    return buffer.getvalue()


def to_table(stats: list[PackStats]) -> str:
    lines = []
    for pack in stats:
        where = f"#{pack.pack_id}" if pack.pack_id is not None else "not on the account"
        lines.append(f"{pack.pack} ({where}, {pack.file}): {pack.runs} runs, {pack.likes} likes, {_percent(pack.rate)}")
        if not pack.templates:
            continue
        width = max(len(t.key or "(not in files)") for t in pack.templates)
        lines.append(f"  {'PROMPT':<{width}}  {'CLASS':<8} {'RUNS':>6} {'LIKES':>6} {'RATE':>6}")
        for t in pack.templates:
            flag = "  <- no likes yet: rework?" if t.rework else ""
            name = t.key or "(not in files)"
            lines.append(f"  {name:<{width}}  {t.class_name:<8} {t.runs:>6} {t.likes:>6} {_percent(t.rate):>6}{flag}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_html(stats: list[PackStats], since: date | None) -> str:
    """One self-contained page: a bar per template, longest for the best like rate."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>packsync stats</title><style>",
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h2{margin-top:2em}"
        "table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;text-align:left;border-bottom:1px solid #eee}"
        ".bar{background:#4a7;height:12px;border-radius:3px}.track{background:#eef;width:240px;border-radius:3px}"
        ".rework{color:#b33;font-weight:bold}.num{text-align:right;font-variant-numeric:tabular-nums}"
        ".text{color:#666;font-size:12px;max-width:40em}",
        "</style></head><body>",
        "<h1>Which prompts work?</h1>",
        f"<p>Likes per template prompt{' since ' + html.escape(since.isoformat()) if since else ''}. "
        "A bar is the like rate (likes per run).</p>",
    ]
    for pack in stats:
        parts.append(
            f"<h2>{html.escape(pack.pack)}</h2><p>{pack.runs} runs, {pack.likes} likes, like rate "
            f"{_percent(pack.rate)} &middot; <code>{html.escape(pack.file)}</code></p>"
        )
        if not pack.templates:
            parts.append("<p>No templates on the account.</p>")
            continue
        parts.append(
            "<table><tr><th>prompt</th><th>class</th><th class='num'>runs</th><th class='num'>likes</th>"
            "<th>like rate</th></tr>"
        )
        for t in pack.templates:
            width = round(240 * t.rate)
            flag = " <span class='rework'>no likes yet: rework?</span>" if t.rework else ""
            parts.append(
                f"<tr><td><b>{html.escape(t.key or '(not in files)')}</b>{flag}"
                f"<div class='text'>{html.escape(t.text)}</div></td><td>{html.escape(t.class_name)}</td>"
                f"<td class='num'>{t.runs}</td><td class='num'>{t.likes}</td>"
                f"<td><div class='track'><div class='bar' style='width:{width}px'></div></div>"
                f"{_percent(t.rate)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def run_stats(
    project_dir: Any,
    target_name: str | None,
    slugs: list[str],
    since: date | None,
    output_format: str,
    min_runs: int,
    out: Any,
    err: Any,
) -> int:
    from packsync.client import ApiError, ConfigError
    from packsync.engine import PlanError, select_packs, valid_workspace_and_target
    from packsync.session import open_client

    try:
        workspace, target = valid_workspace_and_target(project_dir, target_name)
        packs = select_packs(workspace.packs, slugs)

        async def go() -> list[PackStats]:
            async with open_client(workspace.project, target, workspace.packs) as client:
                return await gather_stats(client, packs, target.tune_ids, since, min_runs)

        stats = asyncio.run(go())
    except (PlanError, ConfigError, ApiError, RuntimeError) as exc:
        err.write(f"packsync: error: {exc}\n")
        return 1
    if output_format == "json":
        out.write(to_json(stats, since))
    elif output_format == "csv":
        out.write(to_csv(stats))
    elif output_format == "html":
        out.write(to_html(stats, since))
    else:
        out.write(to_table(stats))
    return 0
