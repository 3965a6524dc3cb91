"""Interrupted and faulty applies converge: no duplicate, nothing the files keep removed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.engine.conftest import SLUGS_ALL, Project, assert_no_duplicates
from tests.sandbox_helpers import KEY


def converge(project: Project, runs: int) -> int:
    """Apply until the plan is empty; the number of applies it took."""
    for attempt in range(1, runs + 1):
        project.apply()
        project.sandbox.faults()
        done = project.plan("--detailed-exitcode")
        if done.code == 0:
            return attempt
        project.sandbox.faults(**FAULTS)
    raise AssertionError(f"not converged after {runs} applies")


FAULTS: dict[str, object] = {}


@pytest.mark.parametrize("idempotency", ["off", "on"])
def test_a_20_percent_fault_rate_converges_within_three_applies(project: Project, idempotency: str) -> None:
    project.sandbox.admin("POST", "settings", {"idempotency": idempotency})
    FAULTS.clear()
    FAULTS.update(
        rates={"429": 0.04, "500": 0.04, "503": 0.04, "504": 0.04, "reset": 0.04},
        seed=20,
        retry_after=0.01,
    )
    project.sandbox.faults(**FAULTS)
    assert converge(project, 3) <= 3
    assert_no_duplicates(project, *SLUGS_ALL)
    # then a change, under the same faults
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4243\n")
    project.sandbox.faults(**FAULTS)
    assert converge(project, 3) <= 3
    assert_no_duplicates(project, *SLUGS_ALL)
    assert len(project.templates("pet-portraits")) == 30


def test_a_create_whose_answer_is_lost_is_confirmed_by_reading(project: Project) -> None:
    project.sandbox.faults(rates={"504": 1.0}, methods=["POST"], seed=1)
    done = project.apply("--pack", "pet-portraits")
    # the pack itself: its creation answer was lost too, and it was found by reading
    assert done.code == 0, done.out + done.err
    assert "(confirmed by reading)" in done.out
    project.sandbox.faults()
    assert len(project.templates("pet-portraits")) == 30
    posts = [e for e in project.sandbox.requests()["log"] if e["method"] == "POST"]
    assert len(posts) == 31  # one pack and 30 templates, none sent twice


def test_idempotent_replays_of_detached_templates_are_attached_again(project: Project) -> None:
    project.sandbox.admin("POST", "settings", {"idempotency": "on"})
    assert project.apply().code == 0
    text = project.pack_file("pet-portraits.yaml").read_text()
    start = text.index("  - key: royal-throne")
    end = text.index("  - key:", start + 5)
    project.pack_file("pet-portraits.yaml").write_text(text[:start] + text[end:])
    assert project.apply().code == 0  # detached
    project.pack_file("pet-portraits.yaml").write_text(text)
    done = project.apply()  # the create returns the detached prompt: it is attached again
    assert done.code == 0, done.out + done.err
    assert len(project.templates("pet-portraits")) == 30
    assert project.plan("--detailed-exitcode").code == 0


@pytest.mark.parametrize("on_remove", ["detach", "delete"])
@pytest.mark.parametrize("edit", ["    style: Cinematic\n", "    film_grain: true\n", '    aspect_ratio: "1:1"\n'])
def test_an_idempotent_replay_of_the_old_template_is_never_counted_or_removed(
    project: Project, edit: str, on_remove: str
) -> None:
    """With idempotency on, a change to a parameter outside Astria's idempotency list makes the
    create answer with the old template: it must not count as created, and the old one stays.
    Where removed templates are deleted, apply deletes the old version first (it has the new one's
    text and seed) and the change is made."""
    if on_remove == "delete":
        (project.root / "packsync.yaml").write_text(
            (project.root / "packsync.yaml").read_text() + "policy:\n  on_remove: delete\n"
        )
    project.sandbox.admin("POST", "settings", {"idempotency": "on"})
    assert project.apply().code == 0
    before = {t["id"]: t["text"] for t in project.templates("pet-portraits")}
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4242\n" + edit)
    if on_remove == "delete":
        done = project.apply()
        assert done.code == 0, done.out + done.err
        after = {t["id"]: t["text"] for t in project.templates("pet-portraits")}
        assert sorted(after.values()) == sorted(before.values()) and set(after) != set(before)
        assert project.plan("--detailed-exitcode").code == 0
        assert_no_duplicates(project, "pet-portraits")
        return
    for _ in range(3):  # never converges, never loses the prompt
        done = project.apply()
        assert done.code == 5, done.out + done.err
        assert "instead of creating a new one" in done.err and "cannot be made on this account as it is" in done.err
        assert "packs/pet-portraits.yaml:" in done.err
        assert {t["id"]: t["text"] for t in project.templates("pet-portraits")} == before
    assert_no_duplicates(project, "pet-portraits")


def test_two_packs_with_an_identical_template_under_idempotency_fail_clearly(project: Project) -> None:
    project.sandbox.admin("POST", "settings", {"idempotency": "on"})
    twin = project.pack_file("pet-portraits.yaml").read_text()
    twin = twin.replace("slug: pet-portraits", "slug: pet-portraits-too").replace(
        "title: Pet Portraits", "title: Pet Portraits Too"
    )
    project.pack_file("pet-portraits-too.yaml").write_text(twin)
    # validate refuses the pair before anything is sent: Astria takes templates alike in tune, text and
    # seed for one, so each is reported at both files (prompt-dedup)
    done = project.apply()
    assert done.code == 1
    assert "prompt-dedup" in done.err and "nothing was sent" in done.err
    assert "packs/pet-portraits.yaml:" in done.err and "packs/pet-portraits-too.yaml:" in done.err


@pytest.mark.slow
def test_sigkill_at_random_points_then_apply_again_converges(project: Project) -> None:
    """Kill apply (SIGKILL: no cleanup at all) at random moments while it works through
    replaces, switching the reference tune of a class back and forth between rounds."""
    rng = random.Random(8)
    project.sandbox.faults(latency_ms=100)
    env = {**os.environ, "PACKSYNC_TEST_KEY": KEY, "NO_COLOR": "1"}
    tunes = ["man: { tune_id: 690204 }", "man: { tune_id: 700001 }"]
    kills = 0
    for round_ in range(12):
        if round_:
            project.edit("corporate-headshots.yaml", tunes[round_ % 2 - 1 if round_ % 2 else 1], tunes[round_ % 2])
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "packsync",
                "apply",
                "--auto-approve",
                "--allow-mass-removal",  # every round replaces half of corporate-headshots
                "--project",
                str(project.root),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.4, 1.4))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        assert_no_duplicates(project, *[s for s in SLUGS_ALL if project.templates_exist(s)])
        if kills >= 5:
            break
    assert kills >= 3
    project.sandbox.faults()
    done = project.apply("--allow-mass-removal")
    assert done.code == 0, done.out + done.err
    assert project.plan("--detailed-exitcode").code == 0
    assert_no_duplicates(project, *SLUGS_ALL)
    assert len(project.templates("corporate-headshots")) == 54
    assert len(project.templates("pet-portraits")) == 30
