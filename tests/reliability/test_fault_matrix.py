"""The fault matrix: every fault kind of A7 at 5%, 20% and 50%, with the account's idempotency on
and off. Each cell applies until the plan is empty, then checks: no duplicate template, nothing the
files keep removed, and a bounded number of requests per change.

All 48 cells run by default (about a minute); PACKSYNC_QUICK_TESTS=1 keeps a smoke subset (every
kind at 20%, idempotency off). With PACKSYNC_RELIABILITY_REPORT=FILE each cell appends its figures
to FILE (JSON lines), for RELIABILITY.md.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from packsync.desired.identity import identity
from tests.engine.conftest import SLUGS_ALL, Project

KINDS = ["429", "429-bare", "500", "502", "503", "504", "reset", "slow"]
RATES = [0.05, 0.2, 0.5]
# Applies allowed to converge, at any rate. A create whose answer is lost is read back, then sent once
# more, never at once (A7): it fails in one apply with the chance of two lost answers, rate**2, so at
# 50% a quarter of what is left is left for the next apply (84 * 0.25**k < 0.1 from k = 5), and a pack
# whose create is lost twice waits for the next apply with all its templates: eight allow for that tail.
MAX_APPLIES = 8
TEMPLATES = 84  # creates of the example packs from scratch
QUICK = os.environ.get("PACKSYNC_QUICK_TESTS") == "1"

CELLS = [
    pytest.param(kind, rate, idem, id=f"{kind}-{int(rate * 100)}%-idempotency-{idem}")
    for kind in KINDS
    for rate in RATES
    for idem in ("off", "on")
    if not QUICK or (rate == 0.2 and idem == "off")
]

ENV = {
    "PACKSYNC_RETRY_ATTEMPTS": "8",
    "PACKSYNC_RETRY_MAX_DELAY": "0.02",
    "PACKSYNC_READ_TIMEOUT": "0.5",
}


def requests_bound(rate: float) -> float:
    """Requests per change we allow: the retries a rate implies, plus the reads a plan and a
    verification need, per change. Stated here so that a regression shows up as a failure."""
    return 1 / (1 - rate) + 2.5


@pytest.mark.parametrize(("kind", "rate", "idempotency"), CELLS)
def test_fault_cell_converges_without_duplicates(project: Project, kind: str, rate: float, idempotency: str) -> None:
    project.sandbox.admin("POST", "settings", {"idempotency": idempotency})
    project.sandbox.admin("DELETE", "requests")
    plan: dict[str, Any] = {"rates": {kind: rate}, "seed": 7, "retry_after": 0.01, "slow_ms": 1200}
    applies = 0
    for applies in range(1, MAX_APPLIES + 1):
        # another fault sequence on each apply: a write whose answer is lost is never sent again at once,
        # so the same seed would fault the same requests of every apply
        project.sandbox.faults(**{**plan, "seed": plan["seed"] + applies})
        project.run("apply", "--auto-approve", env=ENV)
        project.sandbox.faults()
        if project.run("plan", "--detailed-exitcode", env=ENV).code == 0:
            break
    else:
        pytest.fail(f"{kind} at {rate:.0%}: not converged after {MAX_APPLIES} applies")
    sent = project.sandbox.requests()["total"]

    desired: dict[str, set[Any]] = {}
    for slug in SLUGS_ALL:
        live = project.templates(slug)
        found = [identity(t["text"], t) for t in live]
        assert len(found) == len(set(found)), f"duplicate templates in {slug}"
        desired[slug] = set(found)
    assert sum(len(v) for v in desired.values()) == TEMPLATES  # nothing the files keep is missing
    with project.sandbox.http() as http:
        for prompt in http.get("/prompts", params={"limit": 120}).json():
            if prompt["pack_id"] is None and prompt["base_pack_id"] is not None:
                # a detached template must be an extra copy of one the pack still has
                slug = next(s for s in SLUGS_ALL if project.templates_exist(s))
                assert identity(prompt["text"], prompt) in set().union(*desired.values()), slug
    assert sent / TEMPLATES <= requests_bound(rate) * applies, f"{sent} requests for {TEMPLATES} changes"
    report = os.environ.get("PACKSYNC_RELIABILITY_REPORT")
    if report:
        import json

        with open(report, "a", encoding="utf-8") as fh:
            cell = {"kind": kind, "rate": rate, "idempotency": idempotency, "applies": applies}
            fh.write(json.dumps({**cell, "requests_per_change": round(sent / TEMPLATES, 2)}) + "\n")
