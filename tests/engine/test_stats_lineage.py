"""stats keeps the runs and likes of an edited prompt's earlier templates with its key: from the
record of what was sent, or from the pack file's git history, in both sandbox modes."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.engine.conftest import Project, landed

OLD = "sitting in a carpet of fallen"
NEW = "lying in a carpet of fallen"


def _git(project: Project, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args],
        cwd=project.root,
        check=True,
        capture_output=True,
    )


def _customer_run(project: Project, title: str, like: str) -> None:
    """One customer (a dog) runs the pack; the prompt generated from the template whose text holds
    ``like`` is liked."""
    with project.sandbox.http() as http:
        spec = {"title": title, "name": "dog", "branch": "fast", "image_urls": ["https://x/1.jpg"]}
        spec["characteristics"] = {"fur_color": "ginger fur"}
        tune = http.post("/tunes", json={"tune": spec}).json()["id"]
        pack = project.own_pack("pet-portraits")
        assert pack is not None
        http.post(f"/p/{pack['id']}/tunes", json={"tune": {"tune_ids": [tune]}}).raise_for_status()
        prompts = landed(project, tune)[tune]
        (hit,) = [p for p in prompts if like in p["text"]]
        assert "ginger fur" in hit["text"]  # the placeholder is filled: the key is found by a pattern
        http.post(f"/prompts/{hit['id']}/likes").raise_for_status()


def _pet(project: Project) -> dict[str, Any]:
    done = project.run("stats", "--pack", "pet-portraits", "--format", "json")
    assert done.code == 0, done.err
    (pet,) = json.loads(done.out)["packs"]
    return dict(pet)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_an_edited_prompt_keeps_the_runs_and_likes_of_its_earlier_template(project: Project, mode: str) -> None:
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "first")
    assert project.apply("--pack", "pet-portraits").code == 0
    old = next(t["id"] for t in project.templates("pet-portraits") if OLD in t["text"] and "ohwx dog" in t["text"])
    for n in range(2):
        _customer_run(project, f"customer {n}", OLD)
    project.edit("pet-portraits.yaml", OLD, NEW)
    _git(project, "commit", "-qam", "autumn-park: lying, not sitting")
    assert project.apply("--pack", "pet-portraits").code == 0
    new = next(t["id"] for t in project.templates("pet-portraits") if NEW in t["text"] and "ohwx dog" in t["text"])
    _customer_run(project, "customer 2", NEW)

    pet = _pet(project)
    rows = {r["template_id"]: r for r in pet["templates"]}
    assert (rows[old]["live"], rows[old]["key"], rows[old]["class_name"]) == (False, "autumn-park", "dog")
    assert (rows[old]["runs"], rows[old]["likes"], rows[old]["attributed"]) == (
        2,
        2,
        "replaced",
    )  # the plan paired them
    assert (rows[new]["live"], rows[new]["runs"], rows[new]["likes"]) == (True, 1, 1)
    assert rows[new]["versions"] == rows[old]["versions"] == [new, old]
    (key,) = [k for k in pet["keys"] if (k["key"], k["class_name"]) == ("autumn-park", "dog")]
    assert (key["runs"], key["likes"], key["versions"]) == (3, 3, [new, old])
    assert pet["unattributed"] == {"templates": [], "runs": 0, "likes": 0}
    assert pet["runs"] == sum(r["runs"] for r in pet["templates"])  # every run is on some row
    table = project.run("stats", "--pack", "pet-portraits").out
    assert f"autumn-park (earlier #{old})" in table and "autumn-park (dog), all 2 versions: 3 runs, 3 likes" in table

    # The record of what was sent, without the replace's pairing: the text names the version in git.
    state_file = next((project.root / ".packsync" / "state").glob("*.json"))
    data = json.loads(state_file.read_text())
    data["retired"] = {k: {**v, "key": "", "class_name": ""} for k, v in data["retired"].items()}
    state_file.write_text(json.dumps(data))
    rows = {r["template_id"]: r for r in _pet(project)["templates"]}
    assert (rows[old]["key"], rows[old]["attributed"], rows[old]["versions"]) == ("autumn-park", "sent", [new, old])
    assert f"autumn-park (earlier #{old}, {rows[old]['commit']})" in project.run("stats", "--pack", "pet-portraits").out

    # Another machine: no record of what was sent; the git history still names the key.
    shutil.rmtree(project.root / ".packsync" / "state")
    rows = {r["template_id"]: r for r in _pet(project)["templates"]}
    assert (rows[old]["key"], rows[old]["attributed"], rows[old]["versions"]) == (
        "autumn-park",
        "generated",
        [new, old],
    )
    assert rows[old]["commit"]  # the commit that held the earlier text

    # Without the history either, the runs are still counted, as unattributed.
    shutil.rmtree(project.root / ".git")
    pet = _pet(project)
    rows = {r["template_id"]: r for r in pet["templates"]}
    assert (rows[old]["key"], rows[old]["runs"], rows[old]["likes"], rows[old]["attributed"]) == ("", 2, 2, "")
    assert pet["unattributed"] == {"templates": [old], "runs": 2, "likes": 2}
    assert "2 run(s) and 2 like(s) of 1 earlier template(s)" in project.run("stats", "--pack", "pet-portraits").out


def test_stats_on_a_simulated_account_reports_every_run_and_like_of_every_version(project: Project, mode: str) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    pack = project.own_pack("pet-portraits")
    assert pack is not None

    def simulate(seed: int) -> dict[str, Any]:
        with project.sandbox.http() as http:
            answer = http.post("/_sandbox/simulate", json={"pack": pack["id"], "runs": 60, "seed": seed}, timeout=120)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    first = simulate(1)
    project.edit("pet-portraits.yaml", OLD, NEW)  # one prompt edited: its templates (dog and cat) replaced
    assert project.apply("--pack", "pet-portraits").code == 0
    second = simulate(2)
    pet = _pet(project)
    assert pet["runs"] == first["prompts"] + second["prompts"] and pet["likes"] == first["likes"] + second["likes"]
    assert pet["unattributed"] == {"templates": [], "runs": 0, "likes": 0}
    assert sum(k["runs"] for k in pet["keys"]) == pet["runs"] and sum(k["likes"] for k in pet["keys"]) == pet["likes"]
    edited = [k for k in pet["keys"] if k["key"] == "autumn-park"]
    assert sorted(k["class_name"] for k in edited) == ["cat", "dog"] and all(len(k["versions"]) == 2 for k in edited)
    assert all(len(k["versions"]) == 1 for k in pet["keys"] if k["key"] != "autumn-park")


def test_stats_json_carries_the_estimates_their_intervals_flags_and_the_keeper_rate(project: Project) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    pack = project.own_pack("pet-portraits")
    assert pack is not None
    templates = project.templates("pet-portraits")
    ids = sorted(t["id"] for t in templates if "ohwx dog" in t["text"])  # only dogs run, below
    truth = {str(t["id"]): 0.3 for t in templates}
    truth[str(ids[0])], truth[str(ids[1])] = 0.97, 0.0  # one clearly best, one dead
    with project.sandbox.http() as http:
        body = {"pack": pack["id"], "runs": 120, "seed": 4, "truth": truth, "class_shares": {"cat": 0}}
        answer = http.post("/_sandbox/simulate", json=body, timeout=120).json()
    pet = _pet(project)
    rows = {r["template_id"]: r for r in pet["templates"]}
    dogs = [r for r in rows.values() if r["runs"]]
    assert all(r["low"] <= r["estimate"] <= r["high"] for r in dogs)
    assert all(0 < r["estimate"] < 1 for r in dogs) and len({r["estimate"] for r in dogs}) > 1
    assert rows[ids[0]]["flag"] == "best" and rows[ids[1]]["flag"] == "rework"
    assert sum(1 for r in dogs if r["flag"]) <= 4  # the others are alike: at most a stray flag
    unrun = [r for r in rows.values() if not r["runs"]]  # the cats: no runs, the pack's prior and no flag
    assert unrun and all(r["flag"] is None and r["high"] - r["low"] > 0.3 for r in unrun)
    assert pet["low"] < pet["likes"] / pet["runs"] < pet["high"] and pet["estimate"] == round(
        pet["likes"] / pet["runs"], 4
    )
    keeper = pet["keeper_rate"]
    assert keeper["k"] == 3 and keeper["runs"] == answer["runs"] and 0 < keeper["rate"] <= 1
    assert set(keeper["by_class"]) == {"dog"} and keeper["low"] <= keeper["rate"] <= keeper["high"]
    assert all(k["estimate"] is not None for k in pet["keys"] if k["runs"])
    table = project.run("stats", "--pack", "pet-portraits").out
    assert table.count("<- best: clearly above the pack") >= 1 and table.count("<- rework: clearly below") >= 1
    assert "; keepers (3+ likes): " in table
    rows_csv = list(csv.DictReader(io.StringIO(project.run("stats", "--format", "csv").out)))
    best = next(r for r in rows_csv if r["template_id"] == str(ids[0]))
    assert best["flag"] == "best" and float(best["low"]) <= float(best["estimate"]) <= float(best["high"])
    assert float(best["pack_estimate"]) == pet["estimate"] and float(best["pack_keeper_rate"]) == keeper["rate"]
    assert (
        int(best["key_runs"]) == rows[ids[0]]["runs"] and best["key_estimate"]
    )  # one version: the key is the template
    page = project.run("stats", "--format", "html").out
    assert page.count("<div class='range' style='left:") == len(rows) and "<span class='rework'>rework</span>" in page
    done = project.run("stats", "--pack", "pet-portraits", "--format", "json", "--keeper", "1")
    (one,) = json.loads(done.out)["packs"]
    assert one["keeper_rate"]["k"] == 1 and one["keeper_rate"]["rate"] >= keeper["rate"]  # 1 like is easier than 3
    assert (
        json.loads(project.run("catalog", "--keeper", "1").out)["packs"][0]["keeper_rate"] == one["keeper_rate"]["rate"]
    )
