"""The customer simulator (POST /_sandbox/simulate, packsync sandbox simulate) over real HTTP, in
both modes: what it leaves on the account is what customers' pack runs leave, and stats counts it."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from packsync.cli import cli
from packsync.sandbox.customers import draw_truth
from tests.engine.conftest import Project, listed
from tests.sandbox_helpers import KEY

SLUG = "pet-portraits"
DAY = 86_400


def every_page(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = listed(http, "/prompts", **params, **({"before_id": out[-1]["id"]} if out else {}))
        if not page:
            return out
        out += page


def applied(project: Project) -> tuple[int, dict[str, list[int]]]:
    """The pack of pet-portraits on the account: its id and its template ids per class."""
    assert project.apply("--pack", SLUG).code == 0
    own = project.own_pack(SLUG)
    assert own is not None
    with project.sandbox.http() as http:
        detail = http.get(f"/p/{own['id']}").json()
    classes = {name: sorted(t["id"] for t in ts) for name, ts in detail["prompts_per_class"].items()}
    assert sorted(classes) == ["cat", "dog"] and all(classes.values())
    return int(own["id"]), classes


def simulate(project: Project, body: dict[str, Any]) -> httpx.Response:
    with project.sandbox.http() as http:
        return http.post("/_sandbox/simulate", json=body, timeout=120)


def truth_for(classes: dict[str, list[int]]) -> dict[str, float]:
    ids = sorted(t for ts in classes.values() for t in ts)
    return {str(t): round(0.05 + 0.9 * n / (len(ids) - 1), 3) for n, t in enumerate(ids)}


def test_simulated_runs_are_customer_pack_runs_that_stats_counts(project: Project, mode: str) -> None:
    pack_id, classes = applied(project)
    truth = truth_for(classes)
    before = time.time()
    answer = simulate(project, {"pack": pack_id, "runs": 200, "seed": 11, "truth": truth})
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert (result["pack"], result["runs"], result["seed"], result["truth"]) == (pack_id, 200, 11, truth)
    of_class = {t: name for name, ts in classes.items() for t in ts}
    with project.sandbox.http() as http:
        generated = every_page(http, base_pack_id=pack_id)  # no clock advanced: they exist at once
        liked = every_page(http, base_pack_id=pack_id, liked="true")
        tunes = {t: http.get(f"/tunes/{t}").json() for t in sorted({p["tune_id"] for p in generated})[:5]}
    assert len(generated) == result["prompts"] and len(liked) == result["likes"] > 0
    runs: dict[int, list[int]] = {}
    for prompt in generated:
        assert prompt["base_pack_id"] == pack_id and prompt["orig_prompt_id"] in of_class
        assert "{{" not in prompt["text"] and f"<lora:{prompt['tune_id']}:" in prompt["text"]
        assert prompt["images"] and prompt["trained_at"]
        runs.setdefault(prompt["tune_id"], []).append(prompt["orig_prompt_id"])
    assert len(runs) == 200  # one customer tune per run, with one prompt per template of its class
    for got in runs.values():
        assert sorted(got) in classes.values()
    for tune in tunes.values():
        assert tune["title"].startswith("customer ") and tune["trained_at"] and tune["name"] in classes
    stamps = [datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")).timestamp() for p in generated]
    assert before - 30 * DAY - 1 <= min(stamps) < before - 25 * DAY  # spread over the 30 days up to now
    assert before - 5 * DAY < max(stamps) <= time.time() + 1

    runs_of = Counter(p["orig_prompt_id"] for p in generated)
    likes_of = Counter(p["orig_prompt_id"] for p in liked)
    done = project.run("stats", "--pack", SLUG, "--format", "json")
    assert done.code == 0, done.err
    (pack,) = json.loads(done.out)["packs"]
    assert (pack["runs"], pack["likes"]) == (result["prompts"], result["likes"])
    rows = {r["template_id"]: r for r in pack["templates"]}
    assert {t: (r["runs"], r["likes"]) for t, r in rows.items()} == {t: (runs_of[t], likes_of[t]) for t in of_class}
    # the truth shows through: the likeliest quarter is liked more than the least likely quarter
    ordered = sorted(of_class, key=lambda t: truth[str(t)])
    rate = lambda ts: sum(likes_of[t] for t in ts) / sum(runs_of[t] for t in ts)  # noqa: E731
    assert rate(ordered[-len(ordered) // 4 :]) > rate(ordered[: len(ordered) // 4]) + 0.3


def made_pack(project: Project) -> tuple[int, dict[str, list[int]]]:
    """A pack made through the API, one template after another (apply creates them concurrently, so
    its ids differ between accounts): 4 dog templates, 3 cat ones."""
    project.sandbox.seed_tunes({"id": 690310, "name": "dog"}, {"id": 690311, "name": "cat"})
    classes: dict[str, list[int]] = {"dog": [], "cat": []}
    with project.sandbox.http() as http:
        pack = http.post("/packs", json={"pack": {"title": "Made", "base_tune_id": 1504944, "model_type": "lora"}})
        pack_id = int(pack.json()["id"])
        for n, (name, tune) in enumerate([("dog", 690310)] * 4 + [("cat", 690311)] * 3):
            text = f"<lora:{tune}:1> ohwx {name} with {{{{fur_color}}}}, scene {n}"
            made = http.post(f"/tunes/{tune}/prompts", json={"prompt": {"text": text, "pack_id": pack_id}})
            assert made.status_code == 201, made.text
            classes[name].append(int(made.json()["id"]))
    return pack_id, classes


def test_the_same_seed_on_a_fresh_sandbox_gives_the_same_runs_and_another_adds_runs(project: Project) -> None:
    def liked_now(pack_id: int) -> list[tuple[str, int]]:
        with project.sandbox.http() as http:
            tunes = {t["id"]: t["title"] for t in http.get("/tunes", params={"limit": 120}).json()}
            liked = every_page(http, base_pack_id=pack_id, liked="true")
        return sorted((tunes.get(p["tune_id"], "?"), p["orig_prompt_id"]) for p in liked)

    pack_id, classes = made_pack(project)
    body = {"pack": pack_id, "runs": 100, "seed": 5, "truth": {"mean": 0.3, "concentration": 5}}
    first = simulate(project, body).json()
    first_likes = liked_now(pack_id)
    assert len(first_likes) == first["likes"] > 0
    ids = sorted(t for ts in classes.values() for t in ts)
    assert first["truth"] == {str(t): p for t, p in draw_truth(ids, 5, 0.3, 5).items()}

    project.sandbox.reset()  # a fresh sandbox, the same pack made on it, simulated with the same seed
    again_id, again_classes = made_pack(project)
    assert (again_id, again_classes) == (pack_id, classes)
    again = simulate(project, body).json()
    assert again == first
    assert liked_now(pack_id) == first_likes  # the same customers liked the same prompts

    more = simulate(project, {**body, "seed": 6, "runs": 50}).json()
    with project.sandbox.http() as http:
        generated = every_page(http, base_pack_id=pack_id)
        liked = every_page(http, base_pack_id=pack_id, liked="true")
        titles = {t["title"] for t in http.get("/tunes", params={"limit": 120}).json()}
    assert len({p["tune_id"] for p in generated}) == 150  # added to, not replaced
    assert len(liked) == first["likes"] + more["likes"]
    assert "customer 150" in titles and "customer 101" in titles  # numbered on


def test_class_shares_and_period(project: Project) -> None:
    pack_id, classes = applied(project)
    answer = simulate(project, {"pack": pack_id, "runs": 40, "seed": 1, "days": 2, "class_shares": {"cat": 0}})
    assert answer.status_code == 201, answer.text
    with project.sandbox.http() as http:
        generated = every_page(http, base_pack_id=pack_id)
    assert {p["orig_prompt_id"] for p in generated} == set(classes["dog"])  # no cat runs
    assert len(generated) == 40 * len(classes["dog"])
    oldest = min(datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")) for p in generated)
    assert (datetime.now(timezone.utc) - oldest).total_seconds() <= 2 * DAY + 5


def test_bad_bodies_are_refused_with_a_message(project: Project) -> None:
    pack_id, classes = applied(project)
    some = classes["dog"][0]
    with project.sandbox.http() as http:
        empty = http.post("/packs", json={"pack": {"title": "Empty", "base_tune_id": 1, "model_type": "lora"}}).json()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"runs": 5}, 422, "pack (an id or a slug"),
        ({"pack": "no-such-pack", "runs": 5}, 404, "Pack no-such-pack not found"),
        ({"pack": pack_id}, 422, "runs is required"),
        ({"pack": pack_id, "runs": 100_001}, 422, "runs must be between 0 and 100,000"),
        ({"pack": pack_id, "runs": 2.5}, 422, "runs must be an integer"),
        ({"pack": pack_id, "runs": "many"}, 422, "runs must be an integer"),
        ({"pack": empty["id"], "runs": 5}, 422, f"pack {empty['id']} has no templates"),
        ({"pack": pack_id, "runs": 5, "days": -1}, 422, "days must be between 0 and 3,650"),
        ({"pack": pack_id, "runs": 5, "days": 1e9}, 422, "days must be between 0 and 3,650"),
        ({"pack": pack_id, "runs": 5, "run_correlation": 1}, 422, "run_correlation must be at least 0 and below 1"),
        ({"pack": pack_id, "runs": 5, "truth": {str(some): 0.5}}, 422, "truth has no probability for template"),
        ({"pack": pack_id, "runs": 5, "truth": {"12345678": 0.5}}, 422, "'12345678', which is not a template"),
        ({"pack": pack_id, "runs": 5, "truth": {"mean": 1.5}}, 422, "mean must be between 0 and 1"),
        ({"pack": pack_id, "runs": 5, "truth": {"mean": 0.2, "concentration": 0}}, 422, "concentration positive"),
        ({"pack": pack_id, "runs": 5, "truth": [0.2]}, 422, "truth must be an object"),
        ({"pack": pack_id, "runs": 5, "class_shares": {"horse": 1}}, 422, "class_shares names ['horse']"),
        ({"pack": pack_id, "runs": 5, "class_shares": {"dog": 0, "cat": 0}}, 422, "some class a positive weight"),
    ]
    for body, status, message in cases:
        answer = simulate(project, body)
        assert answer.status_code == status, (body, answer.text)
        assert message in answer.json()["error"], (body, answer.text)
    truth = {str(t): 0.5 for ts in classes.values() for t in ts}
    answer = simulate(project, {"pack": pack_id, "runs": 5, "truth": {**truth, str(some): 1.2}})
    assert answer.status_code == 422 and f"{some} must be between 0 and 1" in answer.json()["error"]
    with project.sandbox.http() as http:
        assert every_page(http, base_pack_id=pack_id) == []  # nothing written by a refused body


def test_the_cli_sends_the_request_and_prints_the_truth(project: Project, tmp_path: Path) -> None:
    pack_id, classes = applied(project)
    runner = CliRunner()
    url = project.sandbox.url
    base = ["sandbox", "simulate", "--url", url, "--pack", SLUG, "--runs", "30", "--seed", "3"]
    done = runner.invoke(cli, [*base, "--mean", "0.4", "--run-correlation", "0.1"], env={"PACKSYNC_SANDBOX_KEY": KEY})
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    ids = sorted(t for ts in classes.values() for t in ts)
    assert (result["pack"], result["runs"], result["seed"]) == (pack_id, 30, 3)
    assert result["truth"] == {str(t): p for t, p in draw_truth(ids, 3, 0.4).items()}
    with project.sandbox.http() as http:
        assert len(every_page(http, base_pack_id=pack_id, liked="true")) == result["likes"]

    truth_file = tmp_path / "truth.json"
    truth_file.write_text(json.dumps({str(t): 1.0 for t in ids}))
    done = runner.invoke(cli, [*base, "--truth", str(truth_file), "--class-share", "cat=0", "--days", "1"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["likes"] == result["prompts"] == 30 * len(classes["dog"])  # every prompt liked, dogs only

    done = runner.invoke(cli, [*base, "--truth", str(truth_file), "--mean", "0.2"])
    assert done.exit_code == 2 and "leave out --mean" in done.output
    done = runner.invoke(cli, [*base, "--class-share", "cat"])
    assert done.exit_code == 2 and "is not CLASS=WEIGHT" in done.output
    done = runner.invoke(cli, ["sandbox", "simulate", "--url", url, "--pack", "nope", "--runs", "1"])
    assert done.exit_code == 1 and "the sandbox answered 404: Pack nope not found" in done.stderr
    assert "simulate  Make seeded customer runs" in runner.invoke(cli, ["sandbox", "--help"]).output
