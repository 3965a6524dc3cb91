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
from typing import Any

from packsync.aio import gather_all
from packsync.astria.client import AstriaClient
from packsync.astria.echo import plain
from packsync.astria.errors import ApiError
from packsync.astria.objects import LiveTemplate
from packsync.desired.identity import canonical_params, canonical_text
from packsync.plan.model import Plan
from packsync.plan.observe import Observation


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
