"""A listing is checked before it is believed: an account that lists a template twice, or
ignores the ``pack_id`` filter, never makes plan or apply remove, detach or touch anything.

Each test applies the example packs to the sandbox, then points the project at a hostile
proxy in front of it that rewrites ``GET /prompts`` the way a misbehaving account might.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.engine.conftest import Project
from tests.reliability.hostile import Asked, Hostile, Reply, as_json, forward

WRITES = ("POST", "PATCH", "DELETE", "PUT")


def point_at(project: Project, url: str) -> None:
    (project.root / "packsync.yaml").write_text(
        f"default_target: test\ntargets:\n  test:\n    url: {url}\n    key_env: PACKSYNC_TEST_KEY\n"
    )


def attached(project: Project) -> dict[str, list[int]]:
    """The ids of each pack's templates, as the sandbox itself holds them."""
    return {slug: sorted(t["id"] for t in project.templates(slug)) for slug in ("corporate-headshots", "pet-portraits")}


def repeating(upstream: str, within: bool, across: bool) -> Hostile:
    """``GET /prompts`` lists ids twice: each item twice in its page, and/or the last item of a
    page again at the top of the next (a cursor read as ``id <= before_id``), in pages of 7."""

    def answer(asked: Asked) -> Reply:
        target = asked.target
        query = asked.query
        if asked.method == "GET" and asked.path.rstrip("/") == "/prompts":
            query["limit"] = "7"
            if across and "before_id" in query:
                query["before_id"] = str(int(query["before_id"]) + 1)
            target = "/prompts?" + "&".join(f"{k}={v}" for k, v in query.items())
        status, data = forward(upstream, Asked(asked.method, target, asked.headers, asked.body))
        if target.startswith("/prompts?") and isinstance(data, list) and within:
            data = [copy for item in data for copy in (item, dict(item))]
        return as_json(data, status)

    return Hostile(answer)


@pytest.mark.parametrize(("within", "across"), [(True, False), (False, True), (True, True)])
def test_ids_listed_twice_remove_nothing(project: Project, within: bool, across: bool) -> None:
    assert project.apply().code == 0
    before = attached(project)
    with repeating(project.sandbox.url, within, across) as server:
        point_at(project, server.url)
        plan = project.plan("--format", "json")
        assert plan.code == 0, plan.err
        changes = [c for p in json.loads(plan.out)["packs"] for c in p["changes"]]
        assert changes == [], changes
        assert project.plan("--detailed-exitcode").code == 0
        done = project.apply("--allow-mass-removal")
        assert done.code == 0, done.out + done.err
        assert not any(server.count(m) for m in WRITES), "apply sent a write"
    assert attached(project) == before


def ignoring_pack_id(upstream: str) -> Hostile:
    """``GET /prompts?pack_id=N`` answers every prompt of the account, whatever N."""

    def answer(asked: Asked) -> Reply:
        target = asked.target
        if asked.method == "GET" and asked.path.rstrip("/") == "/prompts":
            query = {k: v for k, v in asked.query.items() if k != "pack_id"}
            target = "/prompts?" + "&".join(f"{k}={v}" for k, v in query.items())
        status, data = forward(upstream, Asked(asked.method, target, asked.headers, asked.body))
        return as_json(data, status)

    return Hostile(answer)


def test_an_ignored_pack_id_filter_never_touches_another_pack(project: Project) -> None:
    assert project.apply().code == 0
    before = attached(project)
    (project.root / "packs" / "pet-portraits.yaml").unlink()  # now a pack no file declares
    with ignoring_pack_id(project.sandbox.url) as server:
        point_at(project, server.url)
        plan = project.plan("--format", "json")
        assert plan.code == 0, plan.err
        data: dict[str, Any] = json.loads(plan.out)
        assert [p["slug"] for p in data["packs"]] == ["corporate-headshots"]
        assert data["packs"][0]["changes"] == []
        assert [u["slug"] for u in data["undeclared"]] == ["pet-portraits"]
        done = project.apply("--allow-mass-removal")
        assert done.code == 0, done.out + done.err
        assert not any(server.count(m) for m in WRITES), "apply sent a write"
        # The pack's own listing, as import and packs read it, holds only its own templates too.
        listed = project.run("packs", "--format", "json")
        assert listed.code == 0, listed.err
    assert attached(project) == before
    counts = {p["slug"]: p["templates"] for p in json.loads(listed.out)["packs"]}
    assert counts == {slug: len(ids) for slug, ids in before.items()}, counts
