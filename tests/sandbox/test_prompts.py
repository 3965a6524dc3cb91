"""A2 and A5: template prompts: create, validate, page, read, attach/detach, delete, duplicate, render, dedup."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from packsync.facts import NOT_FINE_TUNED
from tests.sandbox.support import (
    MAN_TUNE,
    WOMAN_TUNE,
    create_pack,
    create_prompt,
    create_template,
    get_json,
    send_multipart,
    tag,
    wait_for,
    wait_until_rendered,
)
from tests.sandbox_helpers import ThreadSandbox

TEXT = f"{tag(WOMAN_TUNE)} ohwx woman on a rooftop"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _count(client: httpx.Client) -> int:
    return len(get_json(client, "/prompts", limit=120))


# -- create -------------------------------------------------------------------


def test_creating_a_template_prompt_with_json_answers_201(client: httpx.Client) -> None:
    pack = create_pack(client)
    response = client.post(
        f"/tunes/{WOMAN_TUNE}/prompts",
        json={
            "prompt": {
                "text": TEXT,
                "pack_id": pack["id"],
                "negative_prompt": "blurry",
                "num_images": 4,
                "seed": 42,
                "cfg_scale": 7.5,
                "steps": 30,
                "super_resolution": True,
                "inpaint_faces": True,
                "w": 1024,
                "h": 1536,
                "scheduler": "dpm++2m_karras",
                "style": "Photographic",
                "color_grading": "Ektar",
                "film_grain": True,
                "backend_version": 1,
            }
        },
    )
    assert response.status_code == 201
    prompt = response.json()
    expected = {
        "text": TEXT,
        "tune_id": WOMAN_TUNE,
        "pack_id": pack["id"],
        "base_pack_id": None,
        "orig_prompt_id": None,
        "negative_prompt": "blurry",
        "num_images": 4,
        "seed": 42,
        "cfg_scale": 7.5,
        "steps": 30,
        "super_resolution": True,
        "inpaint_faces": True,
        "w": 1024,
        "h": 1536,
        "scheduler": "dpm++2m_karras",
        "style": "Photographic",
        "color_grading": "Ektar",
        "film_grain": True,
        "backend_version": 1,
    }
    assert {k: prompt[k] for k in expected} == expected
    assert prompt["cost_mc"] > 0 and prompt["num_images"] == 4
    assert prompt["url"].endswith(f"/tunes/{WOMAN_TUNE}/prompts/{prompt['id']}.json")
    assert get_json(client, f"/prompts/{prompt['id']}") == prompt


def test_creating_a_template_prompt_with_multipart_bracket_keys(client: httpx.Client) -> None:
    pack = create_pack(client)
    response = send_multipart(
        client,
        "POST",
        f"/tunes/{WOMAN_TUNE}/prompts",
        [
            ("prompt[text]", TEXT),
            ("prompt[pack_id]", str(pack["id"])),
            ("prompt[num_images]", "3"),
            ("prompt[super_resolution]", "true"),
            ("prompt[cfg_scale]", "6.5"),
        ],
    )
    assert response.status_code == 201, response.text
    prompt = response.json()
    assert (prompt["text"], prompt["pack_id"], prompt["num_images"]) == (TEXT, pack["id"], 3)
    assert prompt["super_resolution"] is True
    assert prompt["cfg_scale"] == 6.5


def test_creating_a_prompt_with_a_urlencoded_form(client: httpx.Client) -> None:
    response = client.post(f"/tunes/{WOMAN_TUNE}/prompts", data={"prompt[text]": TEXT, "prompt[num_images]": "2"})
    assert response.status_code == 201
    assert response.json()["num_images"] == 2


def test_name_placeholders_are_kept_verbatim_in_a_template(client: httpx.Client) -> None:
    pack = create_pack(client)
    text = f"{tag(WOMAN_TUNE)} ohwx woman with {{{{eye_color}}}} eyes"
    assert create_prompt(client, WOMAN_TUNE, text, pack_id=pack["id"])["text"] == text


@pytest.mark.parametrize("model_tag", ["lora", "faceid", "pti"])
def test_every_kind_of_tune_tag_makes_a_valid_template(client: httpx.Client, model_tag: str) -> None:
    pack = create_pack(client)
    text = f"<{model_tag}:{WOMAN_TUNE}:0.8> ohwx woman"
    assert create_prompt(client, WOMAN_TUNE, text, pack_id=pack["id"])["pack_id"] == pack["id"]


@pytest.mark.parametrize("text", ["<faceid:{tune}> woman", "<lora:{tune}> ohwx woman"])
def test_a_weightless_tag_is_a_fine_tune_reference(client: httpx.Client, text: str) -> None:
    pack = create_pack(client)
    filled = text.format(tune=WOMAN_TUNE)
    assert create_prompt(client, WOMAN_TUNE, filled, pack_id=pack["id"])["pack_id"] == pack["id"]


@pytest.mark.parametrize(
    "text",
    ["ohwx woman in a garden", "<lora:abc:1> ohwx woman", "<lora:1001:> ohwx woman", "<dreambooth:1001:1> woman"],
)
def test_prompt_without_tune_tag_in_a_pack_is_rejected_with_422(client: httpx.Client, text: str) -> None:
    pack = create_pack(client)
    response = client.post(f"/tunes/{WOMAN_TUNE}/prompts", json={"prompt": {"text": text, "pack_id": pack["id"]}})
    assert response.status_code == 422
    assert response.json() == {"error": NOT_FINE_TUNED}
    assert _count(client) == 0


def test_prompt_without_tune_tag_outside_a_pack_is_accepted(client: httpx.Client) -> None:
    assert create_prompt(client, WOMAN_TUNE, "ohwx woman in a garden")["pack_id"] is None


def test_prompt_on_an_unknown_tune_or_pack_is_a_404(client: httpx.Client) -> None:
    assert client.post("/tunes/999/prompts", json={"prompt": {"text": TEXT}}).status_code == 404
    missing_pack = client.post(f"/tunes/{WOMAN_TUNE}/prompts", json={"prompt": {"text": TEXT, "pack_id": 999}})
    assert missing_pack.status_code == 404
    assert _count(client) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"num_images": 9},
        {"num_images": 0},
        {"steps": 51},
        {"steps": -1},
        {"cfg_scale": 16},
        {"cfg_scale": "lots"},
        {"w": 1020},
        {"h": 1001},
        {"w": 0},
        {"seed": -1},
        {"aspect_ratio": "7:5"},
        {"ar": "square"},
        {"resolution": "8K"},
        {"scheduler": "ddim"},
        {"style": "Baroque"},
        {"color_grading": "Sepia"},
        {"backend_version": 2},
        {"denoising_strength": 1.5},
        {"inpaint_faces": True},
        {"inpaint_faces": True, "super_resolution": False},
        {"hires_fix": True},
        {"super_resolution": "maybe"},
        {"text": ""},
        {"text": "   "},
    ],
    ids=repr,
)
def test_prompt_with_an_out_of_range_value_is_rejected_with_422(client: httpx.Client, fields: dict[str, Any]) -> None:
    pack = create_pack(client)
    body = {"text": TEXT, "pack_id": pack["id"], **fields}
    response = client.post(f"/tunes/{WOMAN_TUNE}/prompts", json={"prompt": body})
    assert response.status_code == 422
    assert isinstance(response.json()["error"], str)
    assert _count(client) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"num_images": 1},
        {"num_images": 8},
        {"steps": 0},
        {"steps": 50},
        {"cfg_scale": 0},
        {"cfg_scale": 15},
        {"w": 8, "h": 2048},
        {"seed": 0},
        {"seed": 2**32},
        {"aspect_ratio": "21:9"},
        {"ar": "portrait"},
        {"resolution": "4K"},
        {"scheduler": "tcd"},
        {"inpaint_faces": True, "super_resolution": True, "hires_fix": True},
        {"backend_version": None},
    ],
    ids=repr,
)
def test_prompt_with_a_boundary_value_is_accepted(client: httpx.Client, fields: dict[str, Any]) -> None:
    pack = create_pack(client)
    response = client.post(
        f"/tunes/{WOMAN_TUNE}/prompts", json={"prompt": {"text": TEXT, "pack_id": pack["id"], **fields}}
    )
    assert response.status_code == 201, response.text


# -- list and paging --------------------------------------------------------------


def test_template_list_pages_past_120_with_before_id_until_an_empty_page(client: httpx.Client) -> None:
    pack = create_pack(client)
    created = [create_template(client, pack["id"], words=f"#{n}", seed=n)["id"] for n in range(250)]
    create_prompt(client, WOMAN_TUNE, f"{tag(WOMAN_TUNE)} not in the pack")

    def read_all(limit: int | None) -> tuple[list[int], list[int]]:
        ids: list[int] = []
        sizes: list[int] = []
        before: int | None = None
        while True:
            params: dict[str, Any] = {"pack_id": pack["id"]}
            if limit is not None:
                params["limit"] = limit
            if before is not None:
                params["before_id"] = before
            page = get_json(client, "/prompts", **params)
            sizes.append(len(page))
            if not page:
                return ids, sizes
            assert all(p["pack_id"] == pack["id"] for p in page)
            ids += [p["id"] for p in page]
            before = page[-1]["id"]
            assert len(sizes) < 50, "paging does not end"

    for limit, expected_sizes in [(120, [120, 120, 10, 0]), (500, [120, 120, 10, 0]), (None, [20] * 12 + [10, 0])]:
        ids, sizes = read_all(limit)
        assert sizes == expected_sizes, limit
        assert all(a > b for a, b in itertools.pairwise(ids)), "ids must be strictly descending"
        assert len(set(ids)) == len(ids)
        assert sorted(ids) == created


def test_prompt_list_defaults_to_20_newest_first(client: httpx.Client) -> None:
    created = [create_prompt(client, WOMAN_TUNE, f"{tag(WOMAN_TUNE)} n{n}")["id"] for n in range(25)]
    assert [p["id"] for p in get_json(client, "/prompts")] == created[::-1][:20]
    assert [p["id"] for p in get_json(client, "/prompts", offset=20)] == created[::-1][20:]


def test_prompt_offset_beyond_10000_is_a_400(client: httpx.Client) -> None:
    assert get_json(client, "/prompts", offset=10_000) == []
    response = client.get("/prompts", params={"offset": 10_001})
    assert response.status_code == 400
    assert "before_id" in response.json()["error"]


def test_prompt_list_filters(client: httpx.Client) -> None:
    pack = create_pack(client)
    on_woman = create_template(client, pack["id"], words="in red")
    on_man = create_prompt(client, MAN_TUNE, f"{tag(MAN_TUNE)} ohwx man in blue", base_pack_id=pack["id"])
    assert [p["id"] for p in get_json(client, "/prompts", tune_id=MAN_TUNE)] == [on_man["id"]]
    assert [p["id"] for p in get_json(client, f"/tunes/{WOMAN_TUNE}/prompts")] == [on_woman["id"]]
    assert [p["id"] for p in get_json(client, "/prompts", base_pack_id=pack["id"])] == [on_man["id"]]
    assert [p["id"] for p in get_json(client, "/prompts", pack_id=pack["id"])] == [on_woman["id"]]
    assert [p["id"] for p in get_json(client, "/prompts", text="in blue")] == [on_man["id"]]


# -- read ---------------------------------------------------------------------------


def test_prompt_is_read_at_top_level_and_under_its_tune(client: httpx.Client) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, TEXT)
    top = get_json(client, f"/prompts/{prompt['id']}")
    assert get_json(client, f"/tunes/{WOMAN_TUNE}/prompts/{prompt['id']}") == top
    wrong_tune = client.get(f"/tunes/{MAN_TUNE}/prompts/{prompt['id']}")
    assert wrong_tune.status_code == 404
    assert "error" in wrong_tune.json()


# -- attach / detach ----------------------------------------------------------------


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "under-tune"])
def test_prompt_is_attached_and_detached_with_a_json_patch(client: httpx.Client, nested: bool) -> None:
    pack = create_pack(client)
    prompt = create_prompt(client, WOMAN_TUNE, TEXT)
    path = f"/tunes/{WOMAN_TUNE}/prompts/{prompt['id']}" if nested else f"/prompts/{prompt['id']}"

    attached = client.patch(
        path, json={"prompt": {"pack_id": pack["id"], "base_pack_id": None, "orig_prompt_id": None}}
    )
    assert attached.status_code == 200
    assert attached.json()["pack_id"] == pack["id"]
    assert [p["id"] for p in get_json(client, "/prompts", pack_id=pack["id"])] == [prompt["id"]]
    assert [t["id"] for t in get_json(client, f"/p/{pack['id']}")["template_prompts"]] == [prompt["id"]]

    detached = client.patch(path, json={"prompt": {"pack_id": None, "base_pack_id": pack["id"]}})
    assert detached.status_code == 200
    assert (detached.json()["pack_id"], detached.json()["base_pack_id"]) == (None, pack["id"])
    assert get_json(client, "/prompts", pack_id=pack["id"]) == []
    assert get_json(client, f"/p/{pack['id']}")["template_prompts"] == []
    assert detached.json()["text"] == prompt["text"]


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "under-tune"])
def test_prompt_is_attached_and_detached_with_a_multipart_patch(client: httpx.Client, nested: bool) -> None:
    pack = create_pack(client)
    prompt = create_prompt(client, WOMAN_TUNE, TEXT)
    path = f"/tunes/{WOMAN_TUNE}/prompts/{prompt['id']}" if nested else f"/prompts/{prompt['id']}"
    attached = send_multipart(client, "PATCH", path, [("prompt[pack_id]", str(pack["id"]))])
    assert attached.status_code == 200, attached.text
    assert attached.json()["pack_id"] == pack["id"]
    detached = send_multipart(client, "PATCH", path, [("prompt[pack_id]", "")])
    assert detached.status_code == 200
    assert detached.json()["pack_id"] is None


def test_orig_prompt_id_can_be_set_by_patch(client: httpx.Client) -> None:
    a = create_prompt(client, WOMAN_TUNE, TEXT)
    b = create_prompt(client, WOMAN_TUNE, TEXT + " again")
    response = client.patch(f"/prompts/{b['id']}", json={"prompt": {"orig_prompt_id": a["id"]}})
    assert response.json()["orig_prompt_id"] == a["id"]


@pytest.mark.parametrize(
    "change",
    [{"text": "<lora:1001:1> ohwx woman, new"}, {"seed": 7}, {"num_images": 2}, {"pack_id": None, "cfg_scale": 3}],
    ids=repr,
)
def test_patch_of_text_or_generation_params_is_rejected_with_422(client: httpx.Client, change: dict[str, Any]) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, TEXT, seed=1)
    response = client.patch(f"/prompts/{prompt['id']}", json={"prompt": change})
    assert response.status_code == 422
    assert isinstance(response.json()["error"], str)
    after = get_json(client, f"/prompts/{prompt['id']}")
    assert (after["text"], after["seed"], after["num_images"]) == (TEXT, 1, 1)


def test_attaching_a_prompt_whose_text_has_no_tune_tag_is_rejected_with_422(client: httpx.Client) -> None:
    pack = create_pack(client)
    prompt = create_prompt(client, WOMAN_TUNE, "ohwx woman without a tag")
    for path in (f"/prompts/{prompt['id']}", f"/tunes/{WOMAN_TUNE}/prompts/{prompt['id']}"):
        response = client.patch(path, json={"prompt": {"pack_id": pack["id"]}})
        assert response.status_code == 422
        assert response.json() == {"error": NOT_FINE_TUNED}
    assert get_json(client, f"/prompts/{prompt['id']}")["pack_id"] is None


def test_attaching_to_an_unknown_pack_or_through_the_wrong_tune_is_a_404(client: httpx.Client) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, TEXT)
    assert client.patch(f"/prompts/{prompt['id']}", json={"prompt": {"pack_id": 999}}).status_code == 404
    pack = create_pack(client)
    wrong = client.patch(f"/tunes/{MAN_TUNE}/prompts/{prompt['id']}", json={"prompt": {"pack_id": pack["id"]}})
    assert wrong.status_code == 404
    assert get_json(client, f"/prompts/{prompt['id']}")["pack_id"] is None


# -- delete ----------------------------------------------------------------------


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "under-tune"])
def test_prompt_is_deleted_then_404(client: httpx.Client, nested: bool) -> None:
    pack = create_pack(client)
    prompt = create_template(client, pack["id"])
    path = f"/tunes/{WOMAN_TUNE}/prompts/{prompt['id']}" if nested else f"/prompts/{prompt['id']}"
    response = client.delete(path)
    assert response.status_code == 200
    assert response.json() == {"message": "Prompt successfully deleted"}
    assert client.get(f"/prompts/{prompt['id']}").status_code == 404
    assert client.delete(path).status_code == 404
    assert get_json(client, f"/p/{pack['id']}")["template_prompts"] == []


def test_deleting_through_the_wrong_tune_is_a_404_and_keeps_the_prompt(client: httpx.Client) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, TEXT)
    assert client.delete(f"/tunes/{MAN_TUNE}/prompts/{prompt['id']}").status_code == 404
    assert client.get(f"/prompts/{prompt['id']}").status_code == 200


# -- duplicate -----------------------------------------------------------------------


def test_duplicate_copies_the_prompt_and_applies_overrides(client: httpx.Client) -> None:
    pack = create_pack(client)
    original = create_template(client, pack["id"], negative_prompt="blurry", num_images=2, seed=1, steps=20)
    response = client.post(
        f"/prompts/{original['id']}/duplicate", json={"prompt": {"seed": 99, "num_images": 4, "pack_id": pack["id"]}}
    )
    assert response.status_code == 201
    copy = response.json()
    assert copy["id"] != original["id"]
    assert (copy["text"], copy["tune_id"], copy["negative_prompt"], copy["steps"]) == (
        original["text"],
        WOMAN_TUNE,
        "blurry",
        20,
    )
    assert (copy["seed"], copy["num_images"], copy["pack_id"]) == (99, 4, pack["id"])
    assert get_json(client, f"/prompts/{original['id']}")["seed"] == 1
    new_text = client.post(f"/prompts/{original['id']}/duplicate", json={"prompt": {"text": TEXT + ", at dusk"}})
    assert new_text.json()["text"] == TEXT + ", at dusk"
    plain = client.post(f"/prompts/{original['id']}/duplicate")
    assert plain.status_code == 201
    assert plain.json()["seed"] == 1


def test_duplicate_validates_like_a_create(client: httpx.Client) -> None:
    pack = create_pack(client)
    untagged = create_prompt(client, WOMAN_TUNE, "ohwx woman, no tag")
    into_pack = client.post(f"/prompts/{untagged['id']}/duplicate", json={"prompt": {"pack_id": pack["id"]}})
    assert into_pack.status_code == 422
    assert into_pack.json() == {"error": NOT_FINE_TUNED}
    bad = client.post(f"/prompts/{untagged['id']}/duplicate", json={"prompt": {"steps": 51}})
    assert bad.status_code == 422
    tagged = create_prompt(client, WOMAN_TUNE, TEXT)
    unknown_pack = client.post(f"/prompts/{tagged['id']}/duplicate", json={"prompt": {"pack_id": 999}})
    assert unknown_pack.status_code == 404
    assert client.post("/prompts/999/duplicate").status_code == 404
    assert _count(client) == 2


# -- lifecycle ---------------------------------------------------------------------


def test_prompt_images_appear_after_the_render_delay_and_are_served_as_png(client: httpx.Client) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, TEXT, num_images=3)
    assert prompt["images"] == []
    assert prompt["trained_at"] is None
    assert prompt["user_error"] is None
    done = wait_until_rendered(client, prompt["id"])
    assert done["trained_at"] is not None
    assert done["user_error"] is None
    assert len(done["images"]) == 3
    assert len(set(done["images"])) == 3
    for url in done["images"]:
        assert url.startswith(str(client.base_url).rstrip("/") + "/")
        image = httpx.get(url, timeout=5)
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert image.content.startswith(PNG_MAGIC)


def test_a_prompt_marked_to_fail_ends_with_user_error(client: httpx.Client) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, f"{TEXT} [sandbox:fail]")
    done = wait_for(
        lambda: (p := get_json(client, f"/prompts/{prompt['id']}"))["user_error"] and p, "the prompt to fail"
    )
    assert done["images"] == []
    assert isinstance(done["user_error"], str)


# -- idempotency ---------------------------------------------------------------------


def test_with_idempotency_on_the_same_template_for_another_pack_returns_the_existing_prompt(
    sandbox: ThreadSandbox, client: httpx.Client
) -> None:
    sandbox.admin("POST", "settings", {"idempotency": "on"})
    pack_a, pack_b = create_pack(client, "A"), create_pack(client, "B")
    params: dict[str, Any] = {"num_images": 2, "seed": 5, "cfg_scale": 7}
    first = create_template(client, pack_a["id"], **params)
    replay = client.post(
        f"/tunes/{WOMAN_TUNE}/prompts", json={"prompt": {"text": first["text"], "pack_id": pack_b["id"], **params}}
    )
    assert replay.status_code in (200, 201)
    assert replay.json()["id"] == first["id"]
    assert replay.json()["pack_id"] == pack_a["id"]  # the client must notice and attach it
    assert _count(client) == 1
    assert get_json(client, "/prompts", pack_id=pack_b["id"]) == []

    # any compared attribute that differs makes a new prompt
    other_seed = create_template(client, pack_b["id"], **{**params, "seed": 6})
    assert other_seed["id"] != first["id"] and other_seed["pack_id"] == pack_b["id"]
    assert _count(client) == 2


def test_with_idempotency_off_the_same_template_is_created_again(client: httpx.Client) -> None:
    pack_a, pack_b = create_pack(client, "A"), create_pack(client, "B")
    first = create_template(client, pack_a["id"], seed=5)
    second = create_template(client, pack_b["id"], seed=5)
    assert second["id"] != first["id"]
    assert second["pack_id"] == pack_b["id"]
    assert _count(client) == 2


def test_text_seed_idempotency_dedups_on_text_and_seed_only(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    sandbox.admin("POST", "settings", {"idempotency": "text-seed"})
    pack = create_pack(client)
    first = create_template(client, pack["id"], seed=5, num_images=1)
    same_text_seed = create_template(client, pack["id"], seed=5, num_images=4, steps=10)
    assert same_text_seed["id"] == first["id"]
    other_seed = create_template(client, pack["id"], seed=6)
    assert other_seed["id"] != first["id"]
    other_text = create_template(client, pack["id"], words="elsewhere", seed=5)
    assert other_text["id"] != first["id"]
    assert _count(client) == 3
