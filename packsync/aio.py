"""Running awaitables together without leaving any behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import Any


async def gather_all(*awaitables: Awaitable[Any]) -> list[Any]:
    """Like ``asyncio.gather``, but when one fails the others are cancelled, and waited for,
    before the error goes on: nothing keeps sending requests on a client that is closing."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    async with cancelled_on_failure(tasks):
        return list(await asyncio.gather(*tasks))


@contextlib.asynccontextmanager
async def cancelled_on_failure(tasks: Iterable[asyncio.Future[Any]]) -> AsyncIterator[None]:
    """When the block fails, cancel ``tasks`` (a live collection: tasks added inside count too)
    and wait for them before the error goes on."""
    try:
        yield
    except BaseException:
        started = list(tasks)
        for task in started:
            task.cancel()
        await asyncio.gather(*started, return_exceptions=True)
        raise
