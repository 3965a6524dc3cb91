"""``packsync doctor`` against both readings of the API (Part A): the default sandbox (everything
echoed, no gallery, /packs unpaged and uncapped) and the realistic one (sparse echo, scheduler
filled, gallery slug taken by pack 260, /packs capped at 20, the tune_id filter ignored).

Each test runs the command line against the sandbox over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from packsync.astria.client import AstriaClient
from packsync.astria.doctor import Doctor
from packsync.astria.echo import load_state
from packsync.astria.probe import PROBE_TITLE
from packsync.astria.settings import ClientConfig, RetryPolicy, Secret
from tests.conftest import with_packs
from tests.engine.conftest import Project
from tests.engine.test_converge import writes
from tests.reliability.test_bad_answers import CASES, serve
from tests.sandbox_helpers import KEY

CHECKS = ["key", "packs-paging", "slug-namespace", "pack-detail", "prompt-object", "tune-filter", "reference-tunes"]


def doctor(project: Project, *args: str) -> tuple[dict[str, Any], str]:
    done = project.run("doctor", "--format", "json", *args)
    assert done.code == 0, done.err
    return json.loads(done.out), done.err


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in report["checks"]}


def fill_account(project: Project, packs: int = 23) -> None:
    """The example packs applied, more packs than a capped page holds, and a prompt of a customer's on a
    tune of its own, the newest (the templates are all on the packs' base model, A9: by them alone the
    tune filter cannot be told honoured or ignored)."""
    with project.sandbox.http() as http:
        for n in range(packs):
            http.post("/packs", json={"pack": {"title": f"Filler {n}", "base_tune_id": 1, "model_type": "lora"}})
    assert project.apply().code == 0
    with project.sandbox.http() as http:
        answer = http.post("/tunes/690204/prompts", json={"prompt": {"text": "<lora:690204:1> ohwx man, a one-off"}})
        assert answer.status_code == 201, answer.text


def probe_packs(project: Project) -> list[dict[str, Any]]:
    with project.sandbox.http() as http:
        return [p for p in http.get("/packs").json() if p["title"] == PROBE_TITLE]


def test_read_only_doctor_reports_every_check_and_what_this_account_does(project: Project, mode: str) -> None:
    fill_account(project)
    project.sandbox.admin("DELETE", "requests")
    report, _ = doctor(project)
    assert writes(project) == 0  # read-only: only GETs
    found = checks(report)
    assert list(found) == CHECKS and report["probe"] is None and report["saved"] is None
    assert all(c["packsync"] and c["assumption"] and c["found"] for c in report["checks"])
    assert report["unknown"] == 0, [c["found"] for c in report["checks"] if c["status"] != "checked"]
    paging = found["packs-paging"]["data"]
    assert paging["limit_honoured"] and paging["offset_honoured"] and paging["total"] == 25
    assert paging["order_stable"] is True
    slugs, detail = found["slug-namespace"]["data"], found["pack-detail"]["data"]
    prompts, tune_filter = found["prompt-object"]["data"], found["tune-filter"]["data"]
    assert detail["list_item"] == {"token": True, "model_type": True, "subtitle": True, "base_tune_id": True}
    tunes = found["reference-tunes"]["data"]
    assert tunes["tunes"] == [690204, 690205, 690310, 690311] and tunes["findings"] == []
    if mode == "default":
        assert paging["cap"] is None and paging["page"] == 25
        assert slugs["global"] is False
        assert detail["detail"]["preset"] and detail["detail"]["subtitle"] and detail["detail"]["class_name"]
        assert prompts["params_missing"] == [] and prompts["account_filled"]["scheduler"] == 0
        assert tune_filter["honoured"] is True
    else:
        assert paging["cap"] == 20 and "capped at 20" in found["packs-paging"]["found"]
        assert slugs == {"slug": "corporate-headshots", "global": True, "pack_id": 260}
        assert not detail["detail"]["preset"] and not detail["detail"]["subtitle"]
        assert not detail["detail"]["class_name"] and detail["detail"]["prompts_per_class"]
        assert {"super_resolution", "inpaint_faces", "w", "h", "style"} <= set(prompts["params_missing"])
        assert prompts["account_filled"]["scheduler"] == prompts["sampled"] > 0
        assert tune_filter["honoured"] is False
    text = project.run("doctor")
    assert text.code == 0 and "packsync pages with limit=100&offset=N" in text.out
    assert "slugs are global: a taken slug gets another one; apply adopts the created pack by id" in text.out
    assert "7 checks, 0 unknown" in text.out


def test_probe_learns_the_echo_profile_and_leaves_at_most_one_probe_pack(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    first, err = doctor(project, "--probe")
    assert "packs cannot be deleted through the API" in err  # said before it writes
    probe = first["probe"]
    assert probe["problems"] == [] and probe["pack_created"] is True
    params = probe["profile"]["params"]
    if mode == "default":
        assert params["super_resolution"]["sent"] == "echoed" and params["style"]["sent"] == "echoed"
        assert params["scheduler"]["omitted"] == "blank" and probe["run_prompt_ids"] is True
    else:
        assert params["super_resolution"]["sent"] == "absent" and params["w"]["sent"] == "absent"
        assert params["seed"]["sent"] == "echoed" and params["num_images"]["sent"] == "echoed"
        assert params["scheduler"]["omitted"] == "filled" and probe["run_prompt_ids"] is False
    assert any("cannot be deleted through the API" in item for item in probe["left_behind"])
    second, _ = doctor(project, "--probe")
    again = second["probe"]
    assert again["pack_created"] is False and again["pack_id"] == probe["pack_id"], (again["problems"], second)
    assert len(probe_packs(project)) == 1
    with project.sandbox.http() as http:
        left = http.get("/prompts", params={"pack_id": probe["pack_id"]}).json()
    assert left == []  # the probe templates were deleted


def test_without_save_nothing_is_written(project: Project, mode: str) -> None:
    state = project.root / ".packsync" / "state"
    report, _ = doctor(project, "--probe")
    assert report["saved"] is None and not state.exists()
    text = project.run("doctor", "--save")
    assert text.code == 0 and "nothing saved (--save without --probe)" in text.out and not state.exists()


def test_save_writes_a_profile_that_plan_uses(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    for found in (project.root / ".packsync" / "state").glob("*.json"):
        found.unlink()  # a fresh checkout: no record of what was sent, no profile
    report, _ = doctor(project, "--probe", "--save")
    assert report["saved"] and report["saved"].endswith("test.json")
    account = json.dumps({"url": project.sandbox.url, "workspace_id": None}, sort_keys=True)
    state = load_state(project.root, "test", account)
    assert state.problem is None and state.profile.learned_at is not None
    assert KEY not in (project.root / ".packsync" / "state" / "test.json").read_text()
    plan = project.plan("--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    notes = [line for line in plan.out.splitlines() if "does not show back" in line]
    if mode == "default":
        assert state.profile.of("super_resolution").sent == "echoed" and notes == []
    else:
        assert state.profile.unshown() and "super_resolution" in state.profile.unshown()
        assert len(notes) == 1 and "super_resolution" in notes[0]


def test_a_refused_key_is_one_line_and_exit_1(project: Project) -> None:
    project.sandbox.config.key = "another-key"
    try:
        done = project.run("doctor")
    finally:
        project.sandbox.config.key = None
    assert done.code == 1 and done.out == ""
    assert done.err.startswith("packsync: error: GET /packs: 401") and "Traceback" not in done.err


def test_answers_of_the_wrong_shape_are_unknown_never_a_crash() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/packs":
            return httpx.Response(200, json=[{"id": 7, "slug": "mine", "title": "Mine"}])
        if path.startswith("/p/"):
            return httpx.Response(200, text="<html>gallery</html>", headers={"content-type": "text/html"})
        if path == "/prompts":
            return httpx.Response(200, json={"prompts": "not a list", "echo": KEY})
        return httpx.Response(404, json={"error": "no such thing"})

    async def examine() -> list[Any]:
        config = ClientConfig("https://astria.test", Secret(KEY), None, 1, RetryPolicy(attempts=1))
        async with AstriaClient(config, transport=httpx.MockTransport(answer)) as client:
            return await Doctor(client).run()

    findings = {f.key: f for f in asyncio.run(examine())}
    assert findings["key"].known and findings["slug-namespace"].known is False
    assert "expected JSON" in findings["slug-namespace"].found
    assert findings["prompt-object"].known is False and "an object" in findings["prompt-object"].found
    assert all(KEY not in json.dumps(f.to_json()) for f in findings.values())


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_server_that_answers_nonsense_gives_unknowns_never_a_traceback(tmp_path: Path, case: str) -> None:
    from click.testing import CliRunner

    from packsync.cli import cli

    server, url = serve(CASES[case])
    try:
        (tmp_path / "packsync.yaml").write_text(f"default_target: bad\ntargets:\n  bad: {{url: '{url}', key_env: K}}\n")
        with_packs(tmp_path)
        env = {"K": KEY, "PACKSYNC_RETRY_ATTEMPTS": "2", "PACKSYNC_RETRY_MAX_DELAY": "0.05", "NO_COLOR": "1"}
        for args in (["doctor"], ["doctor", "--probe", "--save", "--format", "json"]):
            done = CliRunner().invoke(cli, [*args, "--project", str(tmp_path)], env=env)
            assert done.exception is None or isinstance(done.exception, SystemExit), (case, args, done.exception)
            assert done.exit_code == 0, (case, args, done.output)
            assert "unknown" in done.stdout and KEY not in done.output, (case, args, done.output)
    finally:
        server.shutdown()
