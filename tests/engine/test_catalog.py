"""catalog: the packs and their prompts ranked by the estimates of stats, on simulated customers
whose true like rates are known, in both sandbox modes."""

from __future__ import annotations

import json
from typing import Any

from tests.engine.conftest import Project


def _simulate(project: Project, slug: str, truth: dict[str, float], runs: int, seed: int) -> dict[str, Any]:
    pack = project.own_pack(slug)
    assert pack is not None
    with project.sandbox.http() as http:
        body = {"pack": pack["id"], "runs": runs, "seed": seed, "truth": truth}
        answer = http.post("/_sandbox/simulate", json=body, timeout=120)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_the_catalog_puts_the_truly_better_pack_and_prompts_first(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    pets = sorted(t["id"] for t in project.templates("pet-portraits"))
    heads = sorted(t["id"] for t in project.templates("corporate-headshots"))
    pet_truth = {str(t): 0.15 for t in pets}
    best = pets[3]
    pet_truth[str(best)] = 0.9
    _simulate(project, "pet-portraits", pet_truth, 80, 1)
    _simulate(project, "corporate-headshots", {str(t): 0.5 for t in heads}, 80, 2)

    done = project.run("catalog")
    assert done.code == 0, done.err
    document = json.loads(done.out)
    assert document["version"] == 1
    first, second = document["packs"]
    assert (first["pack"], first["rank"], second["pack"], second["rank"]) == (
        "corporate-headshots",
        1,
        "pet-portraits",
        2,
    )
    assert first["low"] <= first["estimate"] <= first["high"] and first["customer_runs"] == 80
    assert second["prompts"][0]["template_id"] == best and second["prompts"][0]["flag"] == "best"
    estimates = [p["estimate"] for p in second["prompts"]]
    assert estimates == sorted(estimates, reverse=True)  # best first
    ids = second["prompt_ids"]
    assert sorted(ids) == ["cat", "dog"] and sorted(i for v in ids.values() for i in v) == pets
    assert all(p["key"] for p in second["prompts"])  # every live template named by its prompt key

    page = project.run("catalog", "--format", "markdown").out
    assert page.startswith("# Pack catalog") and page.index("## 1. ") < page.index("Corporate") < page.index("## 2. ")
    assert f"| {best} |" in page.split("## 2. ")[1]
