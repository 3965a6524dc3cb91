"""Files are never half-written and never written outside the project."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_packsync

WRITER = """
import sys
from pathlib import Path
from packsync.packfiles.safe_write import atomic_write
path = Path(sys.argv[1])
versions = [("A" * 1_000_000) + "\\n", ("B" * 3_000_000) + "\\n"]
print("ready", flush=True)
n = 0
while True:
    atomic_write(path, versions[n % 2])
    n += 1
"""


@pytest.mark.slow
def test_a_write_killed_at_any_moment_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    target = tmp_path / "pack.yaml"
    target.write_text("A" * 1_000_000 + "\n")
    rng = random.Random(11)
    for _ in range(25):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.05))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdout.close()
        content = target.read_text()
        assert content in ("A" * 1_000_000 + "\n", "B" * 3_000_000 + "\n"), len(content)
    # a killed write can leave its temporary file behind, but hidden, and never read as a pack
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert all(p.name.startswith(".pack.yaml.") and p.name.endswith(".tmp") for p in leftovers)


def test_fmt_leaves_symbolic_links_alone(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("title: T\nslug: t\n")
    (tmp_path / "packs").mkdir()
    link = tmp_path / "packs" / "link.yaml"
    os.symlink(real, link)
    done = run_packsync("fmt", str(link))
    assert done.code == 1
    assert "is a symbolic link" in done.err
    assert link.is_symlink() and real.read_text() == "title: T\nslug: t\n"
