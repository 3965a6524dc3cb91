"""A lean HTTP/1.1 load generator on raw asyncio sockets (keep-alive, one request in flight per connection).

Lean on purpose: a general HTTP client costs more per request than the
server under test, and would measure itself.
"""

from __future__ import annotations

import asyncio
import time


async def _worker(host: str, port: int, request: bytes, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            status = int(head[9:12])
            if length:
                await reader.readexactly(length)
            counts[0 if status < 400 else 1] += 1
    finally:
        writer.close()


async def load(host: str, port: int, path: str, key: str, connections: int, seconds: float) -> tuple[int, int, float]:
    """(ok responses, error responses, elapsed seconds) of GET ``path`` for ``seconds``."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    counts = [0, 0]
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_worker(host, port, request, deadline, counts) for _ in range(connections)))
    return counts[0], counts[1], time.perf_counter() - start
