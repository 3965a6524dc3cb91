"""Running the sandbox: the server, the clock that finishes prompts, and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from packsync.sandbox.app import SandboxApp
from packsync.sandbox.context import ApiError, SandboxConfig
from packsync.sandbox.httpserver import HttpServer
from packsync.sandbox.store import Store

HOST = "127.0.0.1"


def load_seed_file(path: Path) -> dict[str, Any]:
    """Reference tunes to create at start: YAML or JSON, ``{"tunes": [{id, name, ...}]}`` or a bare list."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml.YAMLError or ValueError: either way, unreadable
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            f"{path}: not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}: {first}"
        ) from None
    if isinstance(data, list):
        data = {"tunes": data}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a list of tunes or a mapping with 'tunes'")
    return data


class Sandbox:
    """A running sandbox on one event loop."""

    def __init__(self, db: Path | str, config: SandboxConfig) -> None:
        self.store = Store(db)
        self.config = config
        self.app = SandboxApp(self.store, config)
        self.http = HttpServer(self.app)
        self.port = 0
        self._clock: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    async def start(self, port: int = 0) -> int:
        self.port = await self.http.start(HOST, port)
        self.config.base_url = f"http://{HOST}:{self.port}"
        self._clock = asyncio.get_running_loop().create_task(self._tick())
        return self.port

    async def _tick(self) -> None:
        """Finish prompts and tunes when their time comes, so callbacks fire without a request."""
        while True:
            self.app.settle()
            due = self.app.next_wait()
            wait = 0.5 if due is None else max(0.01, min(0.5, due))
            self.app.wakeup.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.app.wakeup.wait(), timeout=wait)

    def stop(self) -> None:
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def close(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
        await self.app.aclose()
        await self.http.close()
        self.store.close()


async def serve(
    db: Path | str,
    config: SandboxConfig,
    port: int = 0,
    seed: dict[str, Any] | None = None,
    out: TextIO = sys.stdout,
    on_ready: Callable[[Sandbox], None] | None = None,
    access_log: TextIO | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM. The first line written to ``out`` is ``listening URL``."""
    sandbox = Sandbox(db, config)
    sandbox.app.access_log = access_log
    if seed:
        try:
            sandbox.app.seed(seed)
        except ApiError as exc:
            await sandbox.close()
            raise ValueError(f"seed tunes: {exc}") from None
    actual = await sandbox.start(port)
    out.write(f"listening http://{HOST}:{actual}\n")
    out.flush()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, sandbox.stop)
    if on_ready is not None:
        on_ready(sandbox)
    try:
        await sandbox.wait_stopped()
    finally:
        await sandbox.close()
