"""Helpers shared by the sandbox tests: short waits, common writes, a callback receiver."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx

from packsync.sandbox.store import Store
from tests.sandbox_helpers import ThreadSandbox

T = TypeVar("T")

DEADLINE = 5.0  # seconds any wait in these tests may take at most
WOMAN_TUNE = 1001  # seeded reference tunes (branch flux1: not free, so templates cost money)
MAN_TUNE = 1002
FAST_DELAYS = {"render_delay": 0.05, "train_delay": 0.1}


def wait_for(check: Callable[[], T | None], what: str, deadline: float = DEADLINE) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:g}s waiting for {what}")
        time.sleep(0.02)


def seed_reference_tunes(sandbox: ThreadSandbox) -> None:
    sandbox.seed_tunes({"id": WOMAN_TUNE, "name": "woman"}, {"id": MAN_TUNE, "name": "man"})


def tag(tune_id: int, weight: str = "1") -> str:
    return f"<lora:{tune_id}:{weight}>"


def create_pack(client: httpx.Client, title: str = "Test Pack", **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/packs", json={"pack": {"title": title, "base_tune_id": 1504944, "model_type": "lora", **extra}}
    )
    assert response.status_code in (200, 201), response.text  # the realistic mode answers 200 (A3)
    data: dict[str, Any] = response.json()
    return data


def create_prompt(client: httpx.Client, tune_id: int, text: str, **fields: Any) -> dict[str, Any]:
    response = client.post(f"/tunes/{tune_id}/prompts", json={"prompt": {"text": text, **fields}})
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()
    return data


def create_template(
    client: httpx.Client,
    pack_id: int,
    tune_id: int = WOMAN_TUNE,
    cls: str = "woman",
    words: str = "portrait",
    **fields: Any,
) -> dict[str, Any]:
    return create_prompt(client, tune_id, f"{tag(tune_id)} ohwx {cls} {words}", pack_id=pack_id, **fields)


def create_fast_tune(client: httpx.Client, name: str = "woman", **fields: Any) -> dict[str, Any]:
    body = {"title": f"tune-{uuid.uuid4()}", "name": name, "branch": "fast", "image_urls": ["https://x/1.jpg"]}
    response = client.post("/tunes", json={"tune": {**body, **fields}})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def get_json(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until_rendered(client: httpx.Client, prompt_id: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        prompt: dict[str, Any] = get_json(client, f"/prompts/{prompt_id}")
        finished = prompt["trained_at"] is not None and (prompt["images"] or prompt["user_error"])
        return prompt if finished else None

    return wait_for(done, f"prompt {prompt_id} to finish")


def multipart(fields: list[tuple[str, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body of plain fields (httpx only sends multipart when there are files)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def send_multipart(client: httpx.Client, method: str, path: str, fields: list[tuple[str, str]]) -> httpx.Response:
    body, content_type = multipart(fields)
    return client.request(method, path, content=body, headers={"Content-Type": content_type})


def in_sandbox(sandbox: ThreadSandbox, action: Callable[[Store], T]) -> T:
    """Run ``action`` on the sandbox's own event loop thread, which owns its database.

    Used only for state the API cannot set (a pack's public_at / unlisted_at are UI-only).
    """
    loop = sandbox._loop
    assert loop is not None and sandbox.sandbox is not None
    store = sandbox.sandbox.store

    async def run() -> T:
        return action(store)

    return asyncio.run_coroutine_threadsafe(run(), loop).result(DEADLINE)


def set_pack_column(sandbox: ThreadSandbox, pack_id: int, column: str, value: str | None) -> None:
    assert column in ("public_at", "unlisted_at")
    in_sandbox(sandbox, lambda store: store.db.execute(f"UPDATE packs SET {column} = ? WHERE id = ?", (value, pack_id)))


@dataclass
class Received:
    path: str
    body: Any


@dataclass
class CallbackReceiver:
    """A tiny HTTP server on 127.0.0.1 that records every POST; answers ``status``."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path_prefix: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path.startswith(path_prefix)]


@contextmanager
def callback_receiver(status: int = 200) -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with receiver._lock:
                receiver.received.append(Received(self.path, json.loads(raw) if raw else None))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(DEADLINE)
