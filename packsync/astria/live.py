"""Reading the live state of an account: packs and every template prompt of each, concurrently."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from packsync.aio import cancelled_on_failure, gather_all
from packsync.astria.client import AstriaClient
from packsync.astria.objects import LiveTemplate


@dataclass(frozen=True)
class LivePack:
    summary: dict[str, Any]
    templates: list[LiveTemplate]

    @property
    def id(self) -> int:
        return int(self.summary["id"])

    @property
    def slug(self) -> str:
        return str(self.summary.get("slug", ""))


async def read_account(client: AstriaClient) -> list[LivePack]:
    """Every pack of the account with its templates.

    Templates of the first packs are read while later pages of the pack list
    are still coming in, so the client's concurrency is never idle.
    """
    summaries: list[dict[str, Any]] = []
    reads: list[asyncio.Task[list[LiveTemplate]]] = []
    async with cancelled_on_failure(reads):
        async for summary in client.iter_packs():
            summaries.append(summary)
            reads.append(asyncio.ensure_future(client.pack_templates(int(summary["id"]))))
        templates = await gather_all(*reads)
    packs = [LivePack(s, t) for s, t in zip(summaries, templates, strict=True)]
    return sorted(packs, key=lambda p: -p.id)
