"""Opening a client for a target: the real API, or the embedded sandbox started on demand."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from packsync.astria.client import AstriaClient, ClientConfig, ConfigError, RetryPolicy, Secret, Timeouts
from packsync.astria.target import ResolvedTarget
from packsync.packfiles.pack import Pack
from packsync.packfiles.project import Project


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


def retry_policy(env: Mapping[str, str] | None = None) -> RetryPolicy:
    """The retry policy, adjustable with PACKSYNC_RETRY_ATTEMPTS and PACKSYNC_RETRY_MAX_DELAY (seconds)."""
    environ = os.environ if env is None else env
    policy = RetryPolicy()
    try:
        attempts = int(environ.get("PACKSYNC_RETRY_ATTEMPTS", policy.attempts))
        cap = float(environ.get("PACKSYNC_RETRY_MAX_DELAY", policy.max_delay))
    except ValueError as exc:
        raise ConfigError(f"PACKSYNC_RETRY_ATTEMPTS / PACKSYNC_RETRY_MAX_DELAY must be numbers: {exc}") from None
    if attempts < 1 or cap < 0:
        raise ConfigError("PACKSYNC_RETRY_ATTEMPTS must be at least 1 and PACKSYNC_RETRY_MAX_DELAY not negative")
    return RetryPolicy(
        attempts=attempts,
        base_delay=min(policy.base_delay, cap),
        max_delay=cap,
        max_retry_after=max(cap, 0.0) if "PACKSYNC_RETRY_MAX_DELAY" in environ else policy.max_retry_after,
    )


def timeouts(env: Mapping[str, str] | None = None) -> Timeouts:
    """Request timeouts; PACKSYNC_READ_TIMEOUT (seconds) sets how long to wait for an answer."""
    environ = os.environ if env is None else env
    default = Timeouts()
    try:
        read = float(environ.get("PACKSYNC_READ_TIMEOUT", default.read))
    except ValueError:
        raise ConfigError("PACKSYNC_READ_TIMEOUT must be a number of seconds") from None
    return Timeouts(connect=default.connect, read=read, write=default.write, pool=default.pool)


@asynccontextmanager
async def open_client(
    project: Project, target: ResolvedTarget, packs: Iterable[Pack] = (), concurrency: int = 8
) -> AsyncIterator[AstriaClient]:
    """A client for ``target``; for the embedded sandbox, the sandbox runs while the client is open."""
    if target.embedded:
        from packsync.sandbox.embedded import EmbeddedSandbox

        with EmbeddedSandbox(project.root, reference_tunes(packs, target)) as sandbox:
            config = ClientConfig(
                sandbox.url, Secret(sandbox.key), target.workspace_id, concurrency, retry_policy(), timeouts()
            )
            async with AstriaClient(config) as client:
                yield client
        return
    config = ClientConfig(target.url, target.key(), target.workspace_id, concurrency, retry_policy(), timeouts())
    async with AstriaClient(config) as client:
        yield client
