"""The realistic mode (Part A's least convenient readings): each behaviour against its default answer.

Each test first asks the default sandbox, then switches the behaviour on over the control API and
asks again. Waits of the realistic mode run on its own clock, which the tests advance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from packsync.sandbox.embedded import REALISTIC_ENV, EmbeddedSandbox
from packsync.sandbox.realism import BEHAVIOURS, LOST_WRITES, REALISTIC, RealismError, parse_realism
from packsync.sandbox.realistic import SPARSE_FIELDS
from tests.sandbox.support import (
    MAN_TUNE,
    WOMAN_TUNE,
    create_fast_tune,
    create_pack,
    create_prompt,
    create_template,
    get_json,
    in_sandbox,
    tag,
    wait_for,
)
from tests.sandbox_helpers import ThreadSandbox

TEXT = f"{tag(WOMAN_TUNE)} ohwx woman in a field"


@pytest.fixture
def switch(sandbox: ThreadSandbox) -> Iterator[Any]:
    """``switch("dedup", ...)`` turns those behaviours on (``switch("all")``: the whole mode);
    the shared sandbox is back to the default mode after the test."""

    def turn_on(*names: str, **settings: Any) -> None:
        sandbox.admin("POST", "settings", {"realism": list(names), **settings})

    try:
        yield turn_on
    finally:
        sandbox.admin("POST", "settings", {"realism": [], "time_scale": 1})
        sandbox.admin("POST", "faults", {})
        sandbox.admin("POST", "reset")


def _advance(sandbox: ThreadSandbox, seconds: float) -> None:
    sandbox.admin("POST", "clock", {"advance": seconds})


def _post(client: httpx.Client, text: str = TEXT, tune: int = WOMAN_TUNE, **fields: Any) -> httpx.Response:
    return client.post(f"/tunes/{tune}/prompts", json={"prompt": {"text": text, **fields}})


# -- the switches -------------------------------------------------------------


def test_behaviour_names_parse_with_all_names_and_minus_names() -> None:
    assert parse_realism(["all"]) == REALISTIC
    assert LOST_WRITES not in REALISTIC and REALISTIC < BEHAVIOURS
    assert parse_realism(["-dedup"], REALISTIC) == REALISTIC - {"dedup"}
    assert parse_realism(["dedup,like-once", "-like-once"]) == {"dedup"}
    assert parse_realism(["all", "none", "gallery"]) == {"gallery"}
    with pytest.raises(RealismError, match="unknown realistic behaviour 'bogus'"):
        parse_realism(["bogus"])


def test_settings_switch_behaviours_on_a_running_sandbox(sandbox: ThreadSandbox, switch: Any) -> None:
    assert sandbox.admin("GET", "settings")["realism"] == []
    switch("all", "-dedup")
    assert sandbox.admin("GET", "settings")["realism"] == sorted(REALISTIC - {"dedup"})
    with sandbox.http() as http:
        assert http.post("/_sandbox/settings", json={"realism": ["nope"]}).status_code == 422


def test_help_names_every_behaviour_and_a_bad_name_fails_in_one_line() -> None:
    from packsync.cli import cli

    runner = CliRunner()
    shown = runner.invoke(cli, ["sandbox", "--help"]).output
    assert all(name in shown for name in BEHAVIOURS)
    result = runner.invoke(cli, ["sandbox", "--port", "0", "--db", ":memory:", "--realism", "bogus"])
    assert result.exit_code == 1
    assert "unknown realistic behaviour 'bogus'" in result.output


# -- A5: what a prompt reads back ---------------------------------------------


def test_sparse_echo_returns_the_known_fields_and_the_account_scheduler(client: httpx.Client, switch: Any) -> None:
    sent = {"super_resolution": True, "w": 512, "seed": 7}
    default = _post(client, **sent).json()
    assert default["super_resolution"] is True and default["w"] == 512 and default["scheduler"] is None
    switch("sparse-echo")
    sparse = _post(client, TEXT + " again", **sent).json()
    assert set(sparse) == {*SPARSE_FIELDS, "scheduler", "backend_version"}
    assert (sparse["scheduler"], sparse["backend_version"], sparse["seed"]) == ("dpm++2m_karras", 0, 7)
    assert get_json(client, f"/prompts/{default['id']}")["scheduler"] == "dpm++2m_karras"  # reads too
    switch("sparse-echo", account_scheduler="euler_a")
    assert _post(client, TEXT + " three").json()["scheduler"] == "euler_a"
    assert _post(client, TEXT + " four", scheduler="lcm").json()["scheduler"] == "lcm"


def test_dedup_answers_a_text_seed_replay_201_with_the_existing_prompt(client: httpx.Client, switch: Any) -> None:
    first, second = _post(client, seed=1), _post(client, seed=1, num_images=2)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]  # default: no dedup while idempotency is off
    switch("dedup")
    replay = _post(client, seed=1, num_images=3)
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
    assert _post(client, seed=2).json()["id"] not in (first.json()["id"], second.json()["id"])


def test_patch_ignores_other_fields_instead_of_422(client: httpx.Client, switch: Any) -> None:
    pack = create_pack(client)
    prompt = _post(client).json()
    body = {"prompt": {"pack_id": pack["id"], "text": "changed", "seed": 3}}
    assert client.patch(f"/prompts/{prompt['id']}", json=body).status_code == 422
    switch("patch-ignores")
    patched = client.patch(f"/prompts/{prompt['id']}", json=body)
    assert patched.status_code == 200
    assert (patched.json()["pack_id"], patched.json()["text"], patched.json()["seed"]) == (pack["id"], TEXT, None)


def test_a_top_level_tune_id_filter_is_ignored(client: httpx.Client, switch: Any) -> None:
    _post(client)
    _post(client, f"{tag(MAN_TUNE)} ohwx man", tune=MAN_TUNE)
    assert len(get_json(client, "/prompts", tune_id=WOMAN_TUNE)) == 1
    switch("no-tune-filter")
    assert len(get_json(client, "/prompts", tune_id=WOMAN_TUNE)) == 2
    assert len(get_json(client, f"/tunes/{WOMAN_TUNE}/prompts")) == 1  # the nested listing still filters


# -- A1, A2, A3: transport and packs ------------------------------------------


def test_pack_listing_ignores_the_workspace_header(client: httpx.Client, switch: Any) -> None:
    other = client.post(
        "/packs",
        json={"pack": {"title": "Elsewhere", "base_tune_id": 1504944, "model_type": "lora"}},
        headers={"X-Workspace-Id": "ws-2"},
    ).json()
    assert other["id"] not in [p["id"] for p in get_json(client, "/packs")]
    switch("account-packs")
    assert other["id"] in [p["id"] for p in get_json(client, "/packs")]


def test_error_bodies_are_field_errors_on_422_and_html_on_502_504(
    sandbox: ThreadSandbox, client: httpx.Client, switch: Any
) -> None:
    assert _post(client, cfg_scale=99).json() == {"error": "cfg_scale must be between 0 and 15"}
    sandbox.faults(rates={"502": 1.0})
    assert "error" in client.get("/prompts").json()
    sandbox.faults()
    switch("error-bodies")
    assert _post(client, cfg_scale=99).json() == {"cfg_scale": ["must be between 0 and 15"]}
    for status in ("502", "504"):
        sandbox.faults(rates={status: 1.0})
        answer = client.get("/prompts")
        assert answer.status_code == int(status)
        assert answer.headers["content-type"].startswith("text/html") and "<html>" in answer.text
    sandbox.faults()


def test_packs_pages_are_capped_at_20(client: httpx.Client, switch: Any) -> None:
    for n in range(25):
        create_pack(client, f"Pack {n}")
    assert len(get_json(client, "/packs", limit=100)) == 25
    assert len(get_json(client, "/packs", limit=10, offset=20)) == 5
    switch("packs-page-cap")
    assert len(get_json(client, "/packs", limit=100)) == 20
    assert len(get_json(client, "/packs", limit=100, offset=20)) == 5
    assert len(get_json(client, "/packs")) == 25  # without limit: every pack, as by default


def test_pack_create_keeps_four_fields_and_answers_200(client: httpx.Client, switch: Any) -> None:
    body = {"title": "Tokens", "base_tune_id": 1504944, "model_type": "lora", "token": "sks", "preset": "flux-koda"}
    default = client.post("/packs", json={"pack": body})
    assert default.status_code == 201 and default.json()["token"] == "sks" and default.json()["preset"] == "flux-koda"
    switch("minimal-pack-create")
    minimal = client.post("/packs", json={"pack": {**body, "subtitle": "kept"}})
    assert minimal.status_code == 200
    assert (minimal.json()["token"], minimal.json()["preset"], minimal.json()["subtitle"]) == ("ohwx", None, "kept")


def test_gallery_packs_hold_slugs_and_a_taken_slug_gets_a_random_tail(client: httpx.Client, switch: Any) -> None:
    assert client.get("/p/corporate-headshots").status_code == 404
    switch("gallery")
    foreign = get_json(client, "/p/corporate-headshots")
    assert (foreign["id"], foreign["user_id"]) == (260, 2)
    assert get_json(client, "/p/260")["slug"] == "corporate-headshots"
    created = client.post(
        "/packs", json={"pack": {"title": "Corporate Headshots", "base_tune_id": 1504944, "model_type": "lora"}}
    ).json()
    assert re.fullmatch(r"corporate-headshots-[0-9a-f]{8}", created["slug"]), created["slug"]
    assert [p["id"] for p in get_json(client, "/packs")] == [created["id"]]  # never the foreign ones
    assert _post(client, pack_id=260).status_code == 404  # no templates go into another user's pack
    switch()  # the default mode: the next pack of that title gets the -2 suffix
    again = create_pack(client, "Corporate Headshots")
    assert again["slug"] == "corporate-headshots-2"


# -- A4: tunes ----------------------------------------------------------------


def test_a_tune_past_expires_at_answers_404(sandbox: ThreadSandbox, client: httpx.Client, switch: Any) -> None:
    tune = create_fast_tune(client)
    old = "2020-01-01T00:00:00.000Z"
    in_sandbox(sandbox, lambda s: s.db.execute("UPDATE tunes SET created_at = ?", (old,)))
    assert client.get(f"/tunes/{tune['id']}").status_code == 200
    switch("tune-expiry")
    assert client.get(f"/tunes/{tune['id']}").status_code == 404
    assert _post(client, "ohwx woman", tune=tune["id"]).status_code == 404
    assert client.get(f"/tunes/{WOMAN_TUNE}").status_code == 200  # auto_extend: kept


# -- A6: runs and likes -------------------------------------------------------


def _pack_with_template(client: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    pack = create_pack(client, "Runs")
    template = create_template(client, pack["id"], words="at the beach {{name}}")
    return pack, template


def test_a_run_answers_without_ids_and_its_clones_appear_later(
    sandbox: ThreadSandbox, client: httpx.Client, switch: Any
) -> None:
    pack, template = _pack_with_template(client)
    tune = create_fast_tune(client)
    default = client.post(f"/p/{pack['id']}/tunes", json={"tune": {"tune_ids": [tune["id"]]}}).json()
    assert len(default["prompt_ids"]) == 1 and len(get_json(client, f"/tunes/{tune['id']}/prompts")) == 1
    switch("async-runs", "poll-limit")
    later = create_fast_tune(client)
    run = {"tune_ids": [later["id"]], "characteristics": {"name": "Bo"}}
    answer = client.post(f"/p/{pack['id']}/tunes", json={"tune": run})
    assert (answer.status_code, answer.json()) == (201, {"status": 201, "message": "Prompts created"})
    listing = f"/tunes/{later['id']}/prompts"
    assert client.get(listing).status_code == 404
    assert client.get(listing).status_code == 429  # again within 5 s
    _advance(sandbox, 6)
    assert client.get(listing).status_code == 503  # still early
    assert client.get("/prompts", params={"base_pack_id": pack["id"]}).status_code == 404
    _advance(sandbox, 200)
    clones = get_json(client, listing)
    assert [(c["orig_prompt_id"], c["base_pack_id"]) for c in clones] == [(template["id"], pack["id"])]
    assert "Bo" in clones[0]["text"]
    assert client.get(listing).status_code == 429


def test_run_delays_follow_the_time_scale(client: httpx.Client, switch: Any) -> None:
    pack, _ = _pack_with_template(client)
    tune = create_fast_tune(client)
    switch("async-runs", time_scale=1000)  # 10-180 s become 0.01-0.18 s
    client.post(f"/p/{pack['id']}/tunes", json={"tune": {"tune_ids": [tune["id"]]}}).raise_for_status()

    def landed() -> list[Any] | None:
        response = client.get(f"/tunes/{tune['id']}/prompts")
        return response.json() if response.status_code == 200 and response.json() else None

    assert len(wait_for(landed, "the run's clones", deadline=3)) == 1


def test_a_repeated_like_answers_422(client: httpx.Client, switch: Any) -> None:
    prompt = _post(client).json()
    other = _post(client, TEXT + " two").json()
    assert [client.post(f"/prompts/{prompt['id']}/likes").status_code for _ in range(2)] == [201, 201]
    switch("like-once")
    assert [client.post(f"/prompts/{other['id']}/likes").status_code for _ in range(2)] == [201, 422]


# -- A7: writes answered before they commit -----------------------------------


def _prompts(sandbox: ThreadSandbox) -> int:
    count: int = sandbox.admin("GET", "state")["prompts"]
    return count


@pytest.mark.parametrize("status", ["504", "500"])
def test_a_faulted_write_commits_later(sandbox: ThreadSandbox, client: httpx.Client, switch: Any, status: str) -> None:
    sandbox.faults(rates={status: 1.0}, methods=["POST"])
    assert _post(client).status_code == int(status)
    assert _prompts(sandbox) == (1 if status == "504" else 0)  # default: 504 after the commit, 500 before
    sandbox.admin("POST", "reset")
    sandbox.seed_tunes({"id": WOMAN_TUNE, "name": "woman"})
    switch("late-commit")
    assert _post(client).status_code == int(status)
    assert _prompts(sandbox) == 0
    _advance(sandbox, 4)
    assert _prompts(sandbox) == 0
    _advance(sandbox, 60)
    assert _prompts(sandbox) == 1


def test_lost_writes_never_commit(sandbox: ThreadSandbox, client: httpx.Client, switch: Any) -> None:
    switch("late-commit", "lost-writes")
    sandbox.faults(rates={"504": 1.0}, methods=["POST"])
    assert _post(client).status_code == 504
    _advance(sandbox, 600)
    assert _prompts(sandbox) == 0


# -- A9: model rules ----------------------------------------------------------


def test_faceid_needs_a_gallery_tune_and_pti_is_no_tag(
    sandbox: ThreadSandbox, client: httpx.Client, switch: Any
) -> None:
    sandbox.seed_tunes({"id": 1504944, "name": "flux", "gallery": True, "model_type": None, "base_tune_id": None})
    faceid = f"<faceid:{WOMAN_TUNE}:1> woman portrait"
    pti = f"<pti:{WOMAN_TUNE}:1> ohwx woman"
    assert [_post(client, t).status_code for t in (faceid, pti)] == [201, 201]
    switch("model-rules")
    assert [_post(client, t, seed=2).status_code for t in (faceid, pti)] == [422, 422]
    assert _post(client, faceid, tune=1504944).status_code == 201


@pytest.mark.parametrize("realism", [[], ["all"]])
def test_the_gallery_base_models_take_a_packs_templates_in_both_modes(
    client: httpx.Client, switch: Any, realism: list[str]
) -> None:
    """A9: templates are POSTed on the pack's base model, a gallery model of another user: both modes
    know Flux1.dev and SDXL 1.0 as tunes to create prompts on, and neither lists or shows them."""
    switch(*realism)
    flux = create_pack(client, "On Flux")
    sdxl = create_pack(client, "On SDXL", base_tune_id=666678, model_type="faceid")
    lora = create_prompt(client, 1504944, f"{tag(WOMAN_TUNE)} ohwx woman in a field", pack_id=flux["id"])
    face = create_prompt(client, 666678, f"<faceid:{MAN_TUNE}:1> man in a suit", pack_id=sdxl["id"])
    assert (lora["tune_id"], lora["pack_id"], face["tune_id"], face["pack_id"]) == (
        1504944,
        flux["id"],
        666678,
        sdxl["id"],
    )
    # the class: the referenced tune's name (default) or the word after the tag (realistic), never the
    # base model's name
    assert list(get_json(client, f"/p/{flux['id']}")["prompts_per_class"]) == ["woman"]
    assert list(get_json(client, f"/p/{sdxl['id']}")["prompts_per_class"]) == ["man"]
    assert {t["id"] for t in get_json(client, "/tunes")} == {WOMAN_TUNE, MAN_TUNE}
    assert client.get("/tunes/1504944").status_code == 404
    assert _post(client, "<faceid:1:1> man", tune=424242).status_code == 404  # no other tune is anyone's base
    # faceid renders only on a gallery model (realistic), a reference tune is none
    assert _post(client, f"<faceid:{MAN_TUNE}:1> man, window", tune=MAN_TUNE).status_code == (422 if realism else 201)


def test_the_class_is_the_word_after_the_tag(sandbox: ThreadSandbox, client: httpx.Client, switch: Any) -> None:
    def classes(text: str) -> list[str]:
        pack = create_pack(client, f"Classes {text[-8:]}")
        create_prompt(client, WOMAN_TUNE, text, pack_id=pack["id"])
        return list(get_json(client, f"/p/{pack['id']}")["prompts_per_class"])

    assert classes(f"<faceid:{WOMAN_TUNE}:1> man in a suit") == ["woman"]  # default: the referenced tune's name
    switch("class-after-tag")
    assert classes(f"<faceid:{WOMAN_TUNE}:1> man in a suit 2") == ["man"]
    assert classes(f"{tag(WOMAN_TUNE)} ohwx woman in a suit") == ["woman"]  # past the token


def test_flux_rejects_negative_prompts_high_cfg_and_resolution(client: httpx.Client, switch: Any) -> None:
    bad = ({"negative_prompt": "blurry"}, {"cfg_scale": 5}, {"resolution": "1K"})
    assert [_post(client, seed=n, **fields).status_code for n, fields in enumerate(bad)] == [201, 201, 201]
    switch("flux-rules")
    assert [_post(client, seed=n, **fields).status_code for n, fields in enumerate(bad, 10)] == [422, 422, 422]
    assert _post(client, seed=20, cfg_scale=4.5).status_code == 201
    fast = create_fast_tune(client)  # no Flux base
    assert _post(client, "ohwx woman", tune=fast["id"], negative_prompt="blurry").status_code == 201


# -- the embedded target --------------------------------------------------------


def test_the_embedded_sandbox_runs_realistic_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REALISTIC_ENV, "all,-dedup")
    with (
        EmbeddedSandbox(tmp_path) as embedded,
        httpx.Client(base_url=embedded.url, headers={"Authorization": f"Bearer {embedded.key}"}, timeout=5) as http,
    ):
        assert http.get("/_sandbox/settings").json()["realism"] == sorted(REALISTIC - {"dedup"})
        assert http.get("/p/corporate-headshots").json()["id"] == 260
