"""Fixtures of the sandbox tests, on the shared ``sandbox_server`` of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.support import FAST_DELAYS, MAN_TUNE, WOMAN_TUNE
from tests.sandbox_helpers import ThreadSandbox


@pytest.fixture
def sandbox(sandbox_server: ThreadSandbox) -> ThreadSandbox:
    """Same as tests/conftest.py's ``sandbox`` (empty, no faults, idempotency off, short delays),
    but reset over one connection: a new httpx client costs ~20 ms, and every test here starts with a reset."""
    with sandbox_server.http() as http:
        for name, body in (
            ("reset", None),
            ("faults", {}),
            ("settings", {"idempotency": "off", "realism": [], "time_scale": 1, **FAST_DELAYS}),
        ):
            http.post(f"/_sandbox/{name}", json=body).raise_for_status()
    return sandbox_server


@pytest.fixture
def client(sandbox: ThreadSandbox) -> Iterator[httpx.Client]:
    """An HTTP client with a valid key on a clean sandbox that holds two reference tunes (woman, man)."""
    with sandbox.http() as http:
        seeded = {"tunes": [{"id": WOMAN_TUNE, "name": "woman"}, {"id": MAN_TUNE, "name": "man"}]}
        http.post("/_sandbox/seed", json=seeded).raise_for_status()
        yield http
