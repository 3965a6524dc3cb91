"""The stats page in a real browser (headless Chromium, when one is installed): it renders, and
every prompt's range is drawn."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.engine.conftest import Project

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def _headless(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(BROWSER is None, reason="no headless browser installed (.ci/run installs Chromium where it can)")
def test_the_stats_page_renders_with_every_range_drawn(project: Project, tmp_path: Path) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    pack = project.own_pack("pet-portraits")
    assert pack is not None
    with project.sandbox.http() as http:
        http.post(
            "/_sandbox/simulate", json={"pack": pack["id"], "runs": 40, "seed": 5}, timeout=120
        ).raise_for_status()
    page = tmp_path / "stats.html"
    page.write_text(project.run("stats", "--pack", "pet-portraits", "--format", "html").out)
    templates = len(project.templates("pet-portraits"))

    dom = _headless(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-500:]
    assert dom.stdout.count('class="range"') == templates and dom.stdout.count('class="tick"') == templates
    assert "Which prompts work?" in dom.stdout

    shot = tmp_path / "stats.png"
    done = _headless(page, "--window-size=1100,900", f"--screenshot={shot}")
    assert done.returncode == 0 and shot.exists(), done.stderr[-500:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1100, 900)
    assert len(data) > 30_000  # text, bars and ranges: a blank or unstyled page compresses far smaller
