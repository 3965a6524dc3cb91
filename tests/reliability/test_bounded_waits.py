"""Every wait is bounded: an answer that trickles in byte by byte is given up on after the
request deadline (a read is retried, a write's outcome is found by reading), and a list that
never ends is refused at a bound, naming the path, without running away with time or memory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Run, with_packs
from tests.engine.conftest import Project, assert_no_duplicates
from tests.reliability.hostile import Asked, Hostile, Reply, as_json, forward, point_at
from tests.sandbox_helpers import KEY

QUICK = {"PACKSYNC_RETRY_ATTEMPTS": "2", "PACKSYNC_RETRY_MAX_DELAY": "0.05", "NO_COLOR": "1"}


def run(*args: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[Run, float]:
    """The real command line; fails the test (instead of hanging it) past ``timeout`` seconds."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "packsync", *args],
            cwd=cwd,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"packsync {' '.join(args)} still waiting after {timeout} s")
    return Run(done.returncode, done.stdout, done.stderr), time.monotonic() - started


@pytest.fixture
def files(tmp_path: Path) -> Path:
    with_packs(tmp_path)
    return tmp_path


def test_an_answer_that_drips_is_given_up_on_at_the_deadline(files: Path) -> None:
    """One byte every 0.5 s: no read ever waits 5 s, yet no request outlives its 2 s."""
    body = json.dumps([{"id": 1, "slug": "corporate-headshots", "title": "Corporate Headshots"}]).encode()
    with Hostile(lambda asked: Reply(200, body, drip=0.5)) as server:
        point_at(files, server.url)
        env = {**QUICK, "K": "key", "PACKSYNC_READ_TIMEOUT": "5", "PACKSYNC_REQUEST_TIMEOUT": "2"}
        for command in (["plan"], ["apply", "--auto-approve"]):
            done, took = run(*command, cwd=files, env=env, timeout=30)
            assert done.code == 1, (command, done.out, done.err)
            # the pack list and the reference tunes are read at once: whichever gives up first is named
            (line,) = done.err.strip().splitlines()
            assert re.fullmatch(
                r"packsync: error: GET /(packs|tunes/\d+): no answer: no complete answer within 2 s", line
            )
            assert took < 10, (command, took)
        assert server.count("GET", "/packs") <= 4  # at most two tries per command


def test_a_write_whose_answer_drips_is_an_unknown_outcome_found_by_reading(project: Project) -> None:
    """The first creates are carried out, then answered one byte every 0.5 s: apply gives up
    on each at the deadline, never sends it again, and finds it on the pack."""
    dripped: list[str] = []

    def answer(asked: Asked) -> Reply:
        status, data = forward(project.sandbox.url, asked)
        reply = as_json(data, status)
        if asked.method == "POST" and asked.path.endswith("/prompts") and len(dripped) < 2:
            dripped.append(asked.path)
            return Reply(reply.status, reply.body, drip=0.5)
        return reply

    with Hostile(answer) as server:
        point_at(project.root, server.url, "PACKSYNC_TEST_KEY")
        env = {**QUICK, "PACKSYNC_TEST_KEY": KEY, "PACKSYNC_READ_TIMEOUT": "5", "PACKSYNC_REQUEST_TIMEOUT": "2"}
        done, took = run("apply", "--auto-approve", cwd=project.root, env=env, timeout=60)
        assert done.code == 0, done.out + done.err
        assert done.out.count("(confirmed by reading)") == 2, done.out
        assert took < 30
        creates = server.count("POST", "/tunes/")
    assert len(dripped) == 2
    assert creates == 84  # each template sent once: none of the dripping ones again
    point_at(project.root, project.sandbox.url, "PACKSYNC_TEST_KEY")
    assert_no_duplicates(project, "corporate-headshots", "pet-portraits")
    assert project.plan("--detailed-exitcode").code == 0


def endless_prompts(asked: Asked) -> Reply:
    """One pack, ``corporate-headshots``, whose templates are full pages just below the
    cursor, however far the client reads."""
    pack = {"id": 1, "slug": "corporate-headshots", "title": "Corporate Headshots"}
    if asked.path.startswith("/packs"):
        return as_json([pack])
    if asked.path.startswith("/p/"):
        return as_json(pack)
    before = int(asked.query.get("before_id", 10**9))
    text = "<lora:690204:1> ohwx man, a template the account keeps inventing"
    return as_json([{"id": before - 1 - i, "text": text, "pack_id": 1, "tune_id": 690204} for i in range(120)])


def endless_packs(asked: Asked) -> Reply:
    """Pack after pack, a full page at every offset; none of them has templates."""
    if asked.path.startswith("/packs"):
        offset = int(asked.query.get("offset", 0))
        return as_json([{"id": 10**6 + offset + i, "slug": f"p{offset + i}"} for i in range(100)])
    return as_json([])


def peak_memory_mb(*args: str, cwd: Path, env: dict[str, str]) -> tuple[Run, float, float]:
    """Run packsync in a fresh parent, so that the peak resident size measured is its own."""
    probe = (
        "import resource, subprocess, sys, json\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([done.returncode, done.stdout, done.stderr, peak]))\n"
    )
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "packsync", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=150,
        check=True,
    )
    code, stdout, stderr, peak_kb = json.loads(out.stdout)
    return Run(code, stdout, stderr), time.monotonic() - started, peak_kb / 1024


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kilobytes on Linux")
def test_a_list_that_never_ends_is_refused_at_the_default_bound(files: Path) -> None:
    (files / "packs" / "pet-portraits.yaml").unlink()
    with Hostile(endless_prompts) as server:
        point_at(files, server.url)
        done, took, peak = peak_memory_mb("plan", cwd=files, env={**QUICK, "K": "key"})
        pages = server.count("GET", "/prompts")
        assert done.code == 1, done.out + done.err
        assert done.err.strip().splitlines() == [
            "packsync: error: GET /prompts?pack_id=1: the list did not end after 100,000 items; refusing to read on "
            "(far more than an account's prompts should hold; PACKSYNC_MAX_LIST_ITEMS raises the bound)"
        ]
        assert pages == 834  # ceil(100,000 / 120), and not one more
        assert took < 60, took
        assert peak < 150, f"{peak:.0f} MB"  # the old bound, 10,000 pages, took 490 MB
    with Hostile(endless_packs) as server:
        point_at(files, server.url)
        done, took = run("plan", cwd=files, env={**QUICK, "K": "key"}, timeout=60)
        assert done.code == 1
        assert done.err.startswith("packsync: error: GET /packs: the list did not end after 10,000 items"), done.err
        assert server.count("GET", "/packs") == 101  # 100 a page, and the one that passes the bound
        assert took < 30, took


def test_the_bound_is_a_setting(files: Path) -> None:
    (files / "packs" / "pet-portraits.yaml").unlink()
    env = {**QUICK, "K": "key", "PACKSYNC_MAX_LIST_ITEMS": "600"}
    with Hostile(endless_prompts) as server:
        point_at(files, server.url)
        done, took = run("plan", cwd=files, env=env, timeout=30)
        assert done.code == 1
        assert "GET /prompts?pack_id=1: the list did not end after 600 items" in done.err
        assert server.count("GET", "/prompts") == 6
        assert took < 10
    with Hostile(endless_packs) as server:
        point_at(files, server.url)
        for command in (["packs"], ["import", "--all"]):
            done, took = run(*command, cwd=files, env=env, timeout=30)
            assert done.code == 1
            assert "GET /packs: the list did not end after 60 items" in done.err
            assert took < 10
        assert server.count("GET", "/packs") == 2 * 1
