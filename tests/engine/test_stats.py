"""stats: runs and likes per template, against the sandbox, every figure checked."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.engine.conftest import Project, landed, listed, preview

NOTE = "packsync: note: stats counts only the runs and likes this account can list (its own prompts): other Astria"


def test_likes_per_template_and_pack_are_counted_and_mapped_to_the_files(project: Project, mode: str) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    with project.sandbox.http() as http:
        pack = http.get("/p/pet-portraits").json()
        templates = {t["id"]: t for t in project.templates("pet-portraits")}
        dogs = []
        for n in range(3):  # three customers with dogs run the pack
            tune = http.post(
                "/tunes",
                json={
                    "tune": {"title": f"dog {n}", "name": "dog", "branch": "fast", "image_urls": ["https://x/1.jpg"]}
                },
            ).json()
            dogs.append(tune["id"])
        http.post(f"/p/{pack['id']}/tunes", json={"tune": {"tune_ids": dogs}}).raise_for_status()
        generated = [p for prompts in landed(project, *dogs).values() for p in prompts]  # the answer has no ids
        by_template: dict[int, list[dict[str, Any]]] = {}
        for prompt in generated:
            by_template.setdefault(prompt["orig_prompt_id"], []).append(prompt)
        ordered = sorted(by_template)
        liked_all, liked_one = ordered[0], ordered[1]
        for prompt in by_template[liked_all]:  # 3 of 3 runs liked
            http.post(f"/prompts/{prompt['id']}/likes").raise_for_status()
        http.post(f"/prompts/{by_template[liked_one][0]['id']}/like").raise_for_status()  # 1 of 3
    done = project.run("stats", "--pack", "pet-portraits", "--format", "json", "--min-runs", "3")
    assert done.code == 0, done.err
    assert done.err.count(NOTE) == 1  # said once, on stderr: the JSON stays the report alone
    report = json.loads(done.out)
    (pet,) = report["packs"]
    dog_templates = [t for t in templates.values() if "ohwx dog" in t["text"]]
    assert pet["runs"] == 3 * len(dog_templates)
    assert pet["likes"] == 4
    rows = {r["template_id"]: r for r in pet["templates"]}
    assert len(rows) == len(templates)
    assert (rows[liked_all]["runs"], rows[liked_all]["likes"], rows[liked_all]["rate"]) == (3, 3, 1.0)
    assert (rows[liked_one]["runs"], rows[liked_one]["likes"], rows[liked_one]["rate"]) == (3, 1, 0.3333)
    assert pet["templates"][0]["template_id"] == liked_all  # best first
    assert pet["templates"][1]["template_id"] == liked_one
    assert rows[liked_all]["key"] and rows[liked_all]["source"].startswith(
        str(project.root / "packs" / "pet-portraits.yaml")
    )
    flagged = {r["template_id"] for r in pet["templates"] if r["rework"]}
    assert flagged == {t["id"] for t in dog_templates} - {liked_all, liked_one}  # 3 runs, no like
    cats = [r for r in pet["templates"] if r["class_name"] == "cat"]
    assert cats and all(r["runs"] == 0 and not r["rework"] for r in cats)

    table = project.run("stats", "--pack", "pet-portraits", "--min-runs", "3").out
    assert f"pet-portraits (#{pack['id']}" in table and "4 likes" in table
    assert "ESTIMATE (95%)" in table and "(95%: " in table  # the estimates, and the pack's range
    assert "<- rework" not in table and "no likes yet" not in table  # 3 runs: never a flag from a handful
    rows_csv = list(csv.DictReader(io.StringIO(project.run("stats", "--format", "csv").out)))
    assert sum(int(r["likes"]) for r in rows_csv) == 4
    page = project.run("stats", "--format", "html").out
    assert page.startswith("<!doctype html>") and "class='bar' style='width:240px'" in page
    assert "<script" not in page and "http" not in page.split("<body>")[0]  # self-contained
    assert "runs and likes of a public pack are not visible through the API" in page


def test_since_filters_runs_by_day(project: Project, mode: str) -> None:
    import datetime

    assert project.apply("--pack", "pet-portraits").code == 0
    with project.sandbox.http() as http:
        pack = http.get("/p/pet-portraits").json()
        tune = http.post(
            "/tunes",
            json={"tune": {"title": "cat", "name": "cat", "branch": "fast", "image_urls": ["https://x/1.jpg"]}},
        ).json()
        http.post(f"/p/{pack['id']}/tunes", json={"tune": {"tune_ids": [tune["id"]]}}).raise_for_status()
    assert landed(project, tune["id"])[tune["id"]]
    today = datetime.datetime.now(datetime.timezone.utc).date()

    def runs(since: datetime.date) -> int:
        done = project.run("stats", "--pack", "pet-portraits", "--since", since.isoformat(), "--format", "json")
        return int(json.loads(done.out)["packs"][0]["runs"])

    cats = sum(1 for t in project.templates("pet-portraits") if "ohwx cat" in t["text"])
    assert runs(today) == cats
    assert runs(today + datetime.timedelta(days=1)) == 0


def test_runs_on_test_tunes_and_of_the_preview_pack_are_not_customer_runs(project: Project, mode: str) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    with project.sandbox.http() as http:

        def tune(title: str, name: str) -> int:
            spec = {"title": title, "name": name, "branch": "fast", "image_urls": ["https://x/1.jpg"]}
            return int(http.post("/tunes", json={"tune": spec}).json()["id"])

        pack = http.get("/p/pet-portraits").json()
        customers = [tune(f"customer {n}", "dog") for n in range(2)]
        declared = tune("test dog", "dog")  # listed under the target's test_tune_ids
        cat = tune("test cat", "cat")  # not listed; a preview of a changed prompt puts it on record
        qa = tune("qa dog", "dog")  # not listed; given with --exclude-tune-ids
        man = tune("test man", "man")  # listed, for another pack: preview leaves it out for this one
        http.post(f"/p/{pack['id']}/tunes", json={"tune": {"tune_ids": customers}}).raise_for_status()
        http.post(f"/p/{pack['id']}/tunes", json={"tune": {"tune_ids": [qa]}}).raise_for_status()
    found = landed(project, *customers, qa)
    customer_prompts = [p for t in customers for p in found[t]]
    qa_runs = len(found[qa])
    config = project.root / "packsync.yaml"
    config.write_text(config.read_text() + f"    test_tune_ids: [{man}, {declared}]\n")

    live = preview(project, "pet-portraits", "--prompt", "royal-throne")  # on the declared tunes
    assert live.code == 0 and "warning" not in live.err, live.out + live.err
    assert ": 1 run(s), 4 image(s), 4 embedded" in live.out  # the dog only: the pack has no class man
    project.edit("pet-portraits.yaml", "sitting in a carpet of fallen", "lying in a carpet of fallen")
    changed = preview(project, "pet-portraits", "--tune-ids", str(cat), "--changed")
    assert changed.code == 0 and "warning" not in changed.err, changed.out + changed.err
    unlisted = preview(project, "pet-portraits", "--tune-ids", str(qa), "--prompt", "royal-throne")
    assert unlisted.code == 0
    assert f"packsync: warning: test tune #{qa} is not listed under targets.test.test_tune_ids" in unlisted.err
    qa_runs += 1

    with project.sandbox.http() as http:
        previews = [p for t in (declared, cat, qa) for p in listed(http, f"/tunes/{t}/prompts")]
        preview_pack = http.get("/p/pet-portraits-preview").json()
        assert any(p["base_pack_id"] == preview_pack["id"] for p in previews)  # the files' version ran there
        for prompt in previews:  # the team likes its previews: none of these is a customer's like
            http.post(f"/prompts/{prompt['id']}/likes").raise_for_status()
        for prompt in customer_prompts[:3]:
            http.post(f"/prompts/{prompt['id']}/likes").raise_for_status()
    on_live_pack = [p for p in previews if p["base_pack_id"] == pack["id"]]

    done = project.run("stats", "--pack", "pet-portraits", "--format", "json", "--exclude-tune-ids", str(qa))
    assert done.code == 0, done.err
    report = json.loads(done.out)
    (pet,) = report["packs"]
    assert (pet["runs"], pet["likes"]) == (len(customer_prompts), 3)
    assert sum(t["runs"] for t in pet["templates"]) == len(customer_prompts)
    assert sum(t["likes"] for t in pet["templates"]) == 3
    assert pet["excluded"] == {"runs": len(on_live_pack), "likes": len(on_live_pack)}
    assert len(on_live_pack) == 1 + 1 + qa_runs  # royal-throne on the dog, autumn-park's live version on the cat
    assert report["test_tune_ids"] == sorted([declared, man, cat, qa])

    table = project.run("stats", "--pack", "pet-portraits").out
    assert f"left out: {len(on_live_pack) - qa_runs} run(s) and {len(on_live_pack) - qa_runs} like(s)" in table
    without_flag = json.loads(project.run("stats", "--pack", "pet-portraits", "--format", "json").out)
    assert without_flag["packs"][0]["runs"] == len(customer_prompts) + qa_runs  # qa is a customer for all it knows


def test_counts_hold_on_sparse_prompt_objects_of_the_whole_realistic_mode(project: Project) -> None:
    """Every realistic behaviour, sparse-echo included (prompts read back only the documented fields): the
    counts rest on orig_prompt_id, base_pack_id and tune_id alone, which every prompt object carries."""
    assert project.apply("--pack", "pet-portraits").code == 0
    project.sandbox.admin("POST", "settings", {"realism": ["all"], "time_scale": 100})
    with project.sandbox.http() as http:
        pack = http.get("/p/pet-portraits").json()
        spec = {"name": "dog", "branch": "fast", "image_urls": ["https://x/1.jpg"]}
        dogs = [http.post("/tunes", json={"tune": {**spec, "title": f"dog {n}"}}).json()["id"] for n in range(2)]
        http.post(f"/p/{pack['id']}/tunes", json={"tune": {"tune_ids": dogs}}).raise_for_status()
        generated = [p for prompts in landed(project, *dogs).values() for p in prompts]
        assert "super_resolution" not in generated[0]  # sparse indeed
        http.post(f"/prompts/{generated[0]['id']}/likes").raise_for_status()
        assert http.post(f"/prompts/{generated[0]['id']}/likes").status_code == 422  # like-once
    done = project.run("stats", "--pack", "pet-portraits", "--format", "json")
    assert done.code == 0, done.err
    (pet,) = json.loads(done.out)["packs"]
    assert (pet["runs"], pet["likes"]) == (len(generated), 1)
    rows = {r["template_id"]: r for r in pet["templates"]}
    assert rows[generated[0]["orig_prompt_id"]]["likes"] == 1
    assert sum(r["runs"] for r in rows.values()) == len(generated)
