"""After the writes of an apply: learn how the account shows back what was sent, and stop
rather than chase a template that does not read back as it was created.

An account that echoes few parameters, fills some from its settings or normalizes values
would otherwise make every plan replace what the last apply created, and every apply pay
for it again. So each template this apply created is read back the way the plan reads it
(``GET /prompts?pack_id=``), the echo profile learns from the pair, and the plan made
afterwards uses what was learned. A template created by this apply that still does not
read back in sync stops the apply, naming what did not stick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packsync.aio import gather_all
from packsync.astria.client import AstriaClient
from packsync.astria.echo import plain
from packsync.astria.errors import ApiError
from packsync.astria.objects import LiveTemplate
from packsync.desired.identity import canonical_params, canonical_text
from packsync.plan.model import Plan, Source
from packsync.plan.observe import Observation


@dataclass(frozen=True)
class Declared:
    """What the files say of a template an apply created: its pack, prompt key and class."""

    pack: str
    key: str
    class_name: str
    source: Source


async def misplaced(client: AstriaClient, pack_ids: Mapping[str, int], declared: Mapping[int, Declared]) -> list[str]:
    """The templates this apply created that the account puts under another class than the files
    declare (A9: a template's class is its key in the pack detail's ``prompts_per_class``), one line
    each; one ``GET /p/:id`` per pack that got a new template. A detail without ``prompts_per_class``,
    or one that does not list a template, says nothing about it."""
    packs = sorted({pack_ids[d.pack] for d in declared.values() if d.pack in pack_ids})

    async def read(pack_id: int) -> dict[int, str]:
        try:
            detail = await client.get_pack(pack_id)
        except ApiError:
            return {}
        grouped = detail.get("prompts_per_class")
        if not isinstance(grouped, Mapping):
            return {}
        return {
            entry["id"]: str(name)
            for name, entries in grouped.items()
            if isinstance(entries, list)
            for entry in entries
            if isinstance(entry, Mapping) and type(entry.get("id")) is int
        }

    placed: dict[int, str] = {}
    for found in await gather_all(*(read(p) for p in packs)):
        placed.update(found)
    return [
        f"{d.source}: {d.pack}: template #{tid} ({d.key}) is declared as class {d.class_name!r}, but the "
        f"account puts it under class {placed[tid]!r}; name its reference tune {d.class_name!r}, or set "
        "model.post_tune if the account takes its class from the tune the template is created on"
        for tid, d in sorted(declared.items())
        if tid in placed and placed[tid] != d.class_name
    ]


async def learn_echoes(
    client: AstriaClient, pack_ids: Mapping[str, int], created: Mapping[int, Mapping[str, Any]], seen: Observation
) -> dict[int, LiveTemplate]:
    """Read back the packs this apply created templates in and learn from each created one; the
    reads of those templates by id (a pack that cannot be read teaches nothing)."""
    packs = sorted(set(pack_ids.values()))

    async def read(pack_id: int) -> list[LiveTemplate]:
        try:
            return await client.pack_templates(pack_id)
        except ApiError:
            return []

    reads: dict[int, LiveTemplate] = {}
    for templates in await gather_all(*(read(p) for p in packs)):
        for template in templates:
            if template.id in created:
                reads[template.id] = template
    for tid in sorted(reads):
        seen.profile.learn(created[tid], reads[tid])
    return reads


def not_sticking(
    after: Plan, created: Mapping[int, Mapping[str, Any]], reads: Mapping[int, LiveTemplate], seen: Observation
) -> list[str]:
    """One line per template this apply created that the plan made afterwards would change again."""
    lines = []
    for pack in after.packs:
        for change in pack.applicable:
            ref = change.remove
            if ref is None or ref.id not in created:
                continue
            body = created[ref.id]
            live = reads.get(ref.id)
            where = f"{change.create.source}: " if change.create is not None else ""
            lines.append(f"{where}{pack.slug}: template #{ref.id}, created by this apply, {_why(body, live, seen)}")
    return lines


def _why(body: Mapping[str, Any], live: LiveTemplate | None, seen: Observation) -> str:
    if live is None:
        return "could not be read back"
    if canonical_text(live.text) != canonical_text(str(body.get("text") or "")):
        return f"reads back with another text ({live.text[:80]!r})"
    sent = canonical_params(body)
    names = seen.differences(sent, live)
    if not names:
        return "does not read back as the files describe it"
    shown = ", ".join(f"{n} reads {plain(n, live.get(n))!r} (sent {dict(sent).get(n)!r})" for n in names)
    return f"does not keep what was sent: {shown}"
