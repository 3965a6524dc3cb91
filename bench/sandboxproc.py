"""Start ``packsync sandbox`` as a child process for a benchmark, and stop it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

KEY = "bench-key"


class SandboxProcess:
    def __init__(self, db: Path, *args: str) -> None:
        self.db = db
        self.args = list(args)
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0

    def __enter__(self) -> SandboxProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "packsync",
                "sandbox",
                "--port",
                "0",
                "--db",
                str(self.db),
                "--key",
                KEY,
                *self.args,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            self.__exit__()
            sys.exit(f"sandbox did not start: {line!r}")
        self.url = line.split()[1]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
