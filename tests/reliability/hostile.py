"""Hostile servers on 127.0.0.1 for the reliability tests.

A :class:`Hostile` server answers each request with what its ``answer``
function returns: a made-up answer, or the real sandbox's answer (``forward``)
rewritten the way a misbehaving account, proxy or gateway might. An answer
may ``drip`` its body one byte at a time. Every server listens on loopback
only and stops, with every byte it is still dripping, when its ``with`` block
ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx


@dataclass(frozen=True)
class Asked:
    """One request as the server received it."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query))


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0  # seconds between bytes of the body; 0: all at once


def as_json(data: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(data).encode())


Answer = Callable[[Asked], Reply]


class Hostile:
    """``with Hostile(answer) as server``: ``server.url`` answers every request with ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.asked: list[Asked] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                asked = Asked(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                with hostile._lock:
                    hostile.asked.append(asked)
                reply = hostile.answer(asked)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not reply.drip:
                    self.wfile.write(reply.body)
                    return
                self.wfile.flush()
                for index in range(len(reply.body)):
                    if hostile.stopping.wait(reply.drip):
                        self.close_connection = True
                        return
                    self.wfile.write(reply.body[index : index + 1])
                    self.wfile.flush()

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _reply

            def setup(self) -> None:
                super().setup()
                # headers and body go out as separate writes: without this, each answer
                # waits for the client's delayed acknowledgement (40 ms on Linux)
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def handle(self) -> None:
                # the client gave up on a dripping answer: that is the point
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Hostile:
        threading.Thread(target=self._server.serve_forever, name="hostile", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def count(self, method: str, path_prefix: str = "") -> int:
        with self._lock:
            return sum(1 for a in self.asked if a.method == method and a.path.startswith(path_prefix))


def forward(upstream: str, asked: Asked) -> tuple[int, Any]:
    """Send ``asked`` to ``upstream`` (the sandbox) and return its status and decoded JSON."""
    passed = ("authorization", "content-type", "x-workspace-id")
    headers = {k: v for k, v in asked.headers.items() if k.lower() in passed}
    with httpx.Client(base_url=upstream, timeout=30) as http:
        response = http.request(asked.method, asked.target, headers=headers, content=asked.body)
    return response.status_code, (response.json() if response.content.strip() else None)


@contextmanager
def timed(limit: float) -> Iterator[None]:
    """Fail if the block takes longer than ``limit`` seconds."""
    started = time.monotonic()
    yield
    took = time.monotonic() - started
    assert took < limit, f"took {took:.1f} s, more than {limit} s"


def point_at(root: Path, url: str, key_env: str = "K") -> None:
    """Make the project at ``root`` talk to ``url`` (its only target), with the key in ``key_env``."""
    (root / "packsync.yaml").write_text(f"default_target: t\ntargets:\n  t: {{url: '{url}', key_env: {key_env}}}\n")
