"""A sandbox running in a background thread of the test process, served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx

from packsync.sandbox.context import SandboxConfig
from packsync.sandbox.faults import FaultPlan
from packsync.sandbox.server import Sandbox

KEY = "test-key-not-secret"


class ThreadSandbox:
    """Start with ``start()``; ``url`` is then set. ``admin`` calls the sandbox's /_sandbox endpoints."""

    def __init__(self, db: Path | str = ":memory:", **config: Any) -> None:
        self.db = db
        config.setdefault("render_delay", 0.05)
        config.setdefault("train_delay", 0.1)
        self.config = SandboxConfig(**config)
        self.url = ""
        self.sandbox: Sandbox | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> ThreadSandbox:
        self._thread = threading.Thread(target=self._run, name="sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("sandbox did not start")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        sandbox = Sandbox(self.db, self.config)
        self.sandbox = sandbox
        port = loop.run_until_complete(sandbox.start(0))
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        loop.run_until_complete(sandbox.wait_stopped())
        loop.run_until_complete(sandbox.close())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self.sandbox is not None:
            self._loop.call_soon_threadsafe(self.sandbox.stop)
        if self._thread is not None:
            self._thread.join(10)

    # -- helpers for tests ----------------------------------------------------

    def http(self, key: str = KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)

    def admin(self, method: str, name: str, body: Any = None) -> Any:
        with self.http() as client:
            response = client.request(method, f"/_sandbox/{name}", json=body)
            response.raise_for_status()
            return response.json()

    def reset(self) -> None:
        self.admin("POST", "reset")
        self.admin("POST", "faults", {})
        self.admin(
            "POST",
            "settings",
            {"idempotency": "off", "realism": [], "time_scale": 1, "render_delay": 0.05, "train_delay": 0.1},
        )

    def faults(self, **plan: Any) -> None:
        self.admin("POST", "faults", plan)

    def seed_tunes(self, *tunes: dict[str, Any]) -> None:
        self.admin("POST", "seed", {"tunes": list(tunes)})

    def requests(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", "requests")
        return result


__all__ = ["KEY", "FaultPlan", "ThreadSandbox"]
