"""Opening a client for a target: the real API, or the embedded sandbox started on demand.

The client's settings from the environment (``PACKSYNC_RETRY_ATTEMPTS``,
``PACKSYNC_RETRY_MAX_DELAY``, ``PACKSYNC_READ_TIMEOUT``, ``PACKSYNC_REQUEST_TIMEOUT``,
``PACKSYNC_MAX_LIST_ITEMS``) are read here, each checked: a value that is not a
number in its range is one :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from packsync.astria.client import AstriaClient
from packsync.astria.errors import ConfigError
from packsync.astria.settings import LOST_ANSWER_WAITS, MAX_LIST_ITEMS, ClientConfig, RetryPolicy, Secret, Timeouts
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
                    "model_type": pack.model.wire_model_type,
                    "base_tune_id": pack.model.base_tune_id,
                    "token": pack.model.token,
                    "branch": "flux1",
                },
            )
    return sorted(tunes.values(), key=lambda t: int(t["id"]))


def env_number(
    name: str,
    default: float,
    *,
    least: float,
    above: bool = False,
    whole: bool = False,
    env: Mapping[str, str] | None = None,
) -> float:
    """The number in environment variable ``name`` (``default`` when unset or blank).

    Anything else than a finite number of at least ``least`` (more than it, with
    ``above``; a whole number, with ``whole``) is a :class:`ConfigError` naming the
    variable: one line, never a traceback.
    """
    environ = os.environ if env is None else env
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    kind = "a whole number" if whole else "a number of seconds"
    bound = f"greater than {least:g}" if above else f"{least:g} or more"
    try:
        value = float(int(raw)) if whole else float(raw)
    except (ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value) or value < least or (above and value == least):
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise ConfigError(f"{name} must be {kind}, {bound}; it is {shown!r}")
    return value


def retry_policy(env: Mapping[str, str] | None = None) -> RetryPolicy:
    """The retry policy, adjustable with PACKSYNC_RETRY_ATTEMPTS and PACKSYNC_RETRY_MAX_DELAY (seconds)."""
    environ = os.environ if env is None else env
    policy = RetryPolicy()
    attempts = int(env_number("PACKSYNC_RETRY_ATTEMPTS", policy.attempts, least=1, whole=True, env=environ))
    cap = env_number("PACKSYNC_RETRY_MAX_DELAY", policy.max_delay, least=0, env=environ)
    return RetryPolicy(
        attempts=attempts,
        base_delay=min(policy.base_delay, cap),
        max_delay=cap,
        max_retry_after=cap if environ.get("PACKSYNC_RETRY_MAX_DELAY", "").strip() else policy.max_retry_after,
    )


def lost_answer_waits(env: Mapping[str, str] | None = None) -> tuple[float, ...]:
    """PACKSYNC_LOST_ANSWER_WAITS: when to read again after a write whose answer was lost, as
    seconds after it, comma-separated, rising (default ``5,15,30,60,90``)."""
    environ = os.environ if env is None else env
    raw = environ.get("PACKSYNC_LOST_ANSWER_WAITS", "").strip()
    if not raw:
        return LOST_ANSWER_WAITS
    waits = []
    for part in raw.split(","):
        if not part.strip():
            raise ConfigError(f"PACKSYNC_LOST_ANSWER_WAITS must be seconds separated by commas; it is {raw[:40]!r}")
        waits.append(env_number("PACKSYNC_LOST_ANSWER_WAITS", 0, least=0, env={"PACKSYNC_LOST_ANSWER_WAITS": part}))
    if waits != sorted(waits):
        raise ConfigError(f"PACKSYNC_LOST_ANSWER_WAITS must rise (seconds after the write); it is {raw[:40]!r}")
    return tuple(waits)


def timeouts(env: Mapping[str, str] | None = None) -> Timeouts:
    """Request timeouts: PACKSYNC_READ_TIMEOUT (seconds) for each wait for an answer's next bytes,
    PACKSYNC_REQUEST_TIMEOUT (seconds) for a whole request, its answer included."""
    default = Timeouts()
    read = env_number("PACKSYNC_READ_TIMEOUT", default.read, least=0, above=True, env=env)
    total = env_number("PACKSYNC_REQUEST_TIMEOUT", default.total, least=0, above=True, env=env)
    return Timeouts(connect=default.connect, read=read, write=default.write, pool=default.pool, total=total)


def max_list_items(env: Mapping[str, str] | None = None) -> int:
    """PACKSYNC_MAX_LIST_ITEMS: the most items one list may hold before it counts as one that never ends."""
    return int(env_number("PACKSYNC_MAX_LIST_ITEMS", MAX_LIST_ITEMS, least=1, whole=True, env=env))


def client_config(url: str, key: Secret, workspace_id: str | None, concurrency: int) -> ClientConfig:
    """A client configuration with the environment's retry, timeout and list settings."""
    return ClientConfig(
        url,
        key,
        workspace_id,
        concurrency,
        retry_policy(),
        timeouts(),
        max_list_items=max_list_items(),
    )


@asynccontextmanager
async def open_client(
    project: Project, target: ResolvedTarget, packs: Iterable[Pack] = (), concurrency: int = 8
) -> AsyncIterator[AstriaClient]:
    """A client for ``target``; for the embedded sandbox, the sandbox runs while the client is open."""
    if target.embedded:
        from packsync.sandbox.embedded import EmbeddedSandbox

        with EmbeddedSandbox(project.root, reference_tunes(packs, target)) as sandbox:
            config = client_config(sandbox.url, Secret(sandbox.key), target.workspace_id, concurrency)
            async with AstriaClient(config) as client:
                yield client
        return
    config = client_config(target.url, target.key(), target.workspace_id, concurrency)
    async with AstriaClient(config) as client:
        yield client
