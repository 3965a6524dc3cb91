"""The embedded sandbox: a target whose url is ``sandbox`` makes packsync run one itself.

It runs as a child process (``packsync sandbox --port 0``) with a
project-local database, so state carries over between commands, and is
stopped when the command ends. Its key is random and never shown; the
reference tunes that the pack files name are created in it as needed.
``PACKSYNC_SANDBOX_REALISTIC`` (``1``/``all``, or a comma list of behaviour
names) runs it in the realistic mode.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from packsync.errors import PacksyncError
from packsync.packfiles.safe_write import STATE_DIR, state_dir

STARTUP_TIMEOUT = 20.0
REALISTIC_ENV = "PACKSYNC_SANDBOX_REALISTIC"
DB_NAME = f"{STATE_DIR}/sandbox.db"


class EmbeddedSandboxError(PacksyncError):
    pass


class EmbeddedSandbox:
    """``with EmbeddedSandbox(root, tunes) as sandbox:`` gives ``sandbox.url`` and ``sandbox.key``."""

    def __init__(
        self, project_root: Path, tunes: list[dict[str, Any]] | None = None, extra_args: list[str] | None = None
    ) -> None:
        self.root = project_root
        self.db = project_root / DB_NAME
        self.tunes = tunes or []
        self.extra_args = extra_args or []
        self.key = secrets.token_urlsafe(24)
        self.url = ""
        self._process: subprocess.Popen[str] | None = None
        self._seed_file: Path | None = None

    def __enter__(self) -> EmbeddedSandbox:
        state_dir(self.root)
        args = [sys.executable, "-m", "packsync", "sandbox", "--port", "0", "--db", str(self.db), *self.extra_args]
        realism = os.environ.get(REALISTIC_ENV, "").strip()
        if realism:
            args.append(f"--realism={realism}")
        if self.tunes:
            handle, name = tempfile.mkstemp(prefix="packsync-seed-", suffix=".json")
            with os.fdopen(handle, "w") as fh:
                json.dump({"tunes": self.tunes}, fh)
            self._seed_file = Path(name)
            args += ["--seed", name]
        env = {**os.environ, "PACKSYNC_SANDBOX_KEY": self.key}
        self._process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        line = _first_line(self._process.stdout, STARTUP_TIMEOUT)
        if not line or not line.startswith("listening "):
            self._stop()
            detail = self._process.stderr.read() if self._process.stderr else ""
            raise EmbeddedSandboxError(f"the embedded sandbox did not start: {(line or detail).strip()[:500]}")
        self.url = line.split(" ", 1)[1].strip()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        if self._seed_file is not None:
            self._seed_file.unlink(missing_ok=True)


def _first_line(stream: IO[str] | None, timeout: float) -> str:
    if stream is None:
        return ""
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True)
    reader.start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""
