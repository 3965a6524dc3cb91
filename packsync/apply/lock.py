"""One apply at a time per account, on this machine.

Two applies racing on one account could both create the same template, or
undo each other's removals. In CI a concurrency group keeps them apart; on one
machine (two terminals, two checkouts of different revisions) this lock does:
it is keyed by the account (URL and workspace, in one spelling: see
target.account_url), held for the whole apply, and
the plan is made only once it is held, so the second apply plans against
what the first one left.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from packsync.errors import PacksyncError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, CI concurrency groups still apply
    fcntl = None  # type: ignore[assignment]


class LockTimeout(PacksyncError):
    pass


def lock_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "packsync" / "locks"


@contextlib.contextmanager
def account_lock(account: str, timeout: float, notify: TextIO | None = None) -> Iterator[None]:
    """Hold the lock of ``account`` (a URL and workspace) for the duration of the block."""
    if fcntl is None:
        yield
        return
    directory = lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (hashlib.sha256(account.encode()).hexdigest()[:24] + ".lock")
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"another packsync apply on this account has held its lock for more than {timeout:.0f} s"
                    ) from None
                if notify is not None and not told:
                    notify.write("packsync: waiting for another apply on this account to finish...\n")
                    notify.flush()
                    told = True
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
