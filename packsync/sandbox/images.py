"""Placeholder images: small PNGs, different for every prompt and index."""

from __future__ import annotations

import hashlib
import struct
import zlib

WIDTH = 96
HEIGHT = 120


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def placeholder_png(prompt_id: int, index: int) -> bytes:
    """A vertical gradient in two colours picked from the prompt id and image index."""
    digest = hashlib.sha256(f"{prompt_id}:{index}".encode()).digest()
    top, bottom = digest[0:3], digest[3:6]
    rows = []
    for y in range(HEIGHT):
        t = y / (HEIGHT - 1)
        pixel = bytes(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + pixel * WIDTH)
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _chunk(b"IEND", b"")
    )
