"""A6: likes. POST /prompts/:id/likes (or /like) -> 201 empty; DELETE -> 200; GET /prompts?liked=true."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.support import WOMAN_TUNE, create_pack, create_prompt, create_template, get_json, tag


def _liked(client: httpx.Client, **params: Any) -> list[int]:
    return [p["id"] for p in get_json(client, "/prompts", liked="true", **params)]


@pytest.mark.parametrize("spelling", ["likes", "like"])
def test_liking_a_prompt_answers_201_with_an_empty_body(client: httpx.Client, spelling: str) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, f"{tag(WOMAN_TUNE)} ohwx woman")
    response = client.post(f"/prompts/{prompt['id']}/{spelling}")
    assert response.status_code == 201
    assert response.content == b""
    assert _liked(client) == [prompt["id"]]


def test_liked_filter_lists_only_liked_prompts(client: httpx.Client) -> None:
    prompts = [create_prompt(client, WOMAN_TUNE, f"{tag(WOMAN_TUNE)} n{n}")["id"] for n in range(4)]
    client.post(f"/prompts/{prompts[0]}/likes")
    client.post(f"/prompts/{prompts[2]}/like")
    assert _liked(client) == [prompts[2], prompts[0]]
    assert len(get_json(client, "/prompts")) == 4
    assert get_json(client, "/prompts", liked="false") == get_json(client, "/prompts")


def test_liking_twice_keeps_one_like(client: httpx.Client) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, f"{tag(WOMAN_TUNE)} twice")
    assert client.post(f"/prompts/{prompt['id']}/likes").status_code == 201
    assert client.post(f"/prompts/{prompt['id']}/likes").status_code == 201
    assert _liked(client) == [prompt["id"]]
    assert client.delete(f"/prompts/{prompt['id']}/likes").status_code == 200
    assert _liked(client) == []


@pytest.mark.parametrize("spelling", ["likes", "like"])
def test_unliking_answers_200_and_the_prompt_leaves_the_liked_list(client: httpx.Client, spelling: str) -> None:
    prompt = create_prompt(client, WOMAN_TUNE, f"{tag(WOMAN_TUNE)} ohwx woman")
    client.post(f"/prompts/{prompt['id']}/likes")
    response = client.delete(f"/prompts/{prompt['id']}/{spelling}")
    assert response.status_code == 200
    assert _liked(client) == []
    # unliking what is not liked is harmless
    assert client.delete(f"/prompts/{prompt['id']}/likes").status_code == 200


def test_likes_of_an_unknown_prompt_are_a_404(client: httpx.Client) -> None:
    assert client.post("/prompts/999/likes").status_code == 404
    assert client.delete("/prompts/999/likes").status_code == 404


def test_liking_a_generated_prompt_counts_for_its_template(client: httpx.Client) -> None:
    pack = create_pack(client)
    template = create_template(client, pack["id"])
    other_template = create_template(client, pack["id"], words="other")
    run = client.post(
        f"/p/{pack['id']}/tunes", json={"tune": {"title": "t", "name": "woman", "image_urls": ["https://x/1.jpg"]}}
    )
    assert run.status_code == 201
    generated = {p["orig_prompt_id"]: p["id"] for p in get_json(client, "/prompts", base_pack_id=pack["id"])}
    liked_clone = generated[template["id"]]

    assert client.post(f"/prompts/{liked_clone}/likes").status_code == 201
    assert _liked(client) == [liked_clone]
    # likes per template = liked generated prompts grouped by orig_prompt_id
    assert _liked(client, orig_prompt_id=template["id"]) == [liked_clone]
    assert _liked(client, orig_prompt_id=other_template["id"]) == []
    assert _liked(client, base_pack_id=pack["id"]) == [liked_clone]

    assert client.delete(f"/prompts/{liked_clone}/likes").status_code == 200
    assert _liked(client, orig_prompt_id=template["id"]) == []
