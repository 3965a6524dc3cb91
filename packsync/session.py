"""Opening a client for a target: the real API, or the embedded sandbox started on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from packsync.client import AstriaClient, ClientConfig, Secret
from packsync.model import Pack
from packsync.project import Project
from packsync.target import ResolvedTarget


def reference_tunes(packs: Iterable[Pack], target: ResolvedTarget) -> list[dict[str, Any]]:
    """The reference tunes the packs name, for seeding the embedded sandbox."""
    tunes: dict[int, dict[str, Any]] = {}
    for pack in packs:
        for cls in pack.classes:
            tune_id = target.tune_ids.get(cls.tune_id, cls.tune_id)
            tunes.setdefault(
                tune_id,
                {
                    "id": tune_id,
                    "name": cls.name,
                    "title": f"reference {cls.name} ({pack.slug})",
                    "model_type": pack.model.model_type,
                    "base_tune_id": pack.model.base_tune_id,
                    "token": pack.model.token,
                    "branch": "flux1",
                },
            )
    return sorted(tunes.values(), key=lambda t: int(t["id"]))


@asynccontextmanager
async def open_client(
    project: Project, target: ResolvedTarget, packs: Iterable[Pack] = (), concurrency: int = 8
) -> AsyncIterator[AstriaClient]:
    """A client for ``target``; for the embedded sandbox, the sandbox runs while the client is open."""
    if target.embedded:
        from packsync.sandbox.embedded import EmbeddedSandbox

        with EmbeddedSandbox(project.root, reference_tunes(packs, target)) as sandbox:
            config = ClientConfig(sandbox.url, Secret(sandbox.key), target.workspace_id, concurrency)
            async with AstriaClient(config) as client:
                yield client
        return
    config = ClientConfig(target.url, target.key(), target.workspace_id, concurrency)
    async with AstriaClient(config) as client:
        yield client
