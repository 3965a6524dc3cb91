"""A4: reference tunes: create (JSON and multipart), training, idempotency, paging, read/update/delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.support import (
    MAN_TUNE,
    WOMAN_TUNE,
    callback_receiver,
    create_fast_tune,
    get_json,
    send_multipart,
    tag,
    wait_for,
)
from tests.sandbox_helpers import ThreadSandbox

MOCK = "https://sdbooth2-production.s3.amazonaws.com/mock"


def _tune_body(**fields: Any) -> dict[str, Any]:
    return {"tune": {"title": "Jane - 5f0c", "name": "woman", "image_urls": ["https://x/1.jpg"], **fields}}


def test_creating_a_tune_with_a_json_root_key_answers_201(client: httpx.Client) -> None:
    response = client.post(
        "/tunes",
        json=_tune_body(
            branch="fast",
            model_type="lora",
            base_tune_id=1504944,
            token="sks",
            auto_extend=True,
            characteristics={"eye_color": "green"},
        ),
    )
    assert response.status_code == 201
    tune = response.json()
    assert tune["title"] == "Jane - 5f0c"
    assert tune["name"] == "woman"
    assert tune["branch"] == "fast"
    assert tune["model_type"] == "lora"
    assert tune["base_tune_id"] == 1504944
    assert tune["token"] == "sks"
    assert tune["auto_extend"] is True
    assert tune["characteristics"] == {"eye_color": "green"}
    assert tune["orig_images"] == ["https://x/1.jpg"]
    assert tune["url"].endswith(f"/tunes/{tune['id']}.json")


def test_creating_a_tune_with_multipart_bracket_keys(client: httpx.Client) -> None:
    response = send_multipart(
        client,
        "POST",
        "/tunes",
        [
            ("tune[title]", "Multipart Jane"),
            ("tune[name]", "woman"),
            ("tune[branch]", "fast"),
            ("tune[image_urls][]", "https://x/1.jpg"),
            ("tune[image_urls][]", "https://x/2.jpg"),
            ("tune[characteristics][eye_color]", "blue"),
            ("tune[characteristics][hair]", "red"),
            ("tune[auto_extend]", "true"),
        ],
    )
    assert response.status_code == 201, response.text
    tune = response.json()
    assert (tune["title"], tune["name"], tune["branch"]) == ("Multipart Jane", "woman", "fast")
    assert tune["orig_images"] == ["https://x/1.jpg", "https://x/2.jpg"]
    assert tune["characteristics"] == {"eye_color": "blue", "hair": "red"}
    assert tune["auto_extend"] is True
    assert get_json(client, f"/tunes/{tune['id']}") == tune


def test_creating_a_tune_with_uploaded_image_files(client: httpx.Client) -> None:
    response = client.post(
        "/tunes",
        data={"tune[title]": "Uploaded", "tune[name]": "man", "tune[branch]": "fast"},
        files=[
            ("tune[images][]", ("one.jpg", b"\xff\xd8 not really a jpeg", "image/jpeg")),
            ("tune[images][]", ("two.jpg", b"\xff\xd8 neither", "image/jpeg")),
        ],
    )
    assert response.status_code == 201, response.text
    assert len(response.json()["orig_images"]) == 2


def test_fast_branch_is_trained_at_once(client: httpx.Client) -> None:
    tune = create_fast_tune(client)
    assert tune["trained_at"] is not None
    assert tune["ckpt_url"] == MOCK
    assert tune["ckpt_urls"] == [MOCK]


@pytest.mark.parametrize("branch", ["flux1", "sd15", "sdxl1"])
def test_other_branches_are_trained_after_the_train_delay(client: httpx.Client, branch: str) -> None:
    tune = client.post("/tunes", json=_tune_body(branch=branch)).json()
    assert tune["trained_at"] is None
    assert tune["ckpt_url"] is None
    trained = wait_for(
        lambda: (t := get_json(client, f"/tunes/{tune['id']}"))["trained_at"] and t, "the tune to train", 3
    )
    assert trained["ckpt_url"] == MOCK


def test_tune_callback_fires_when_training_ends(client: httpx.Client) -> None:
    with callback_receiver() as receiver:
        fast = create_fast_tune(client, callback=f"{receiver.url}/fast?user=1")
        slow = client.post(
            "/tunes", json=_tune_body(title="slow", branch="flux1", callback=f"{receiver.url}/slow")
        ).json()
        wait_for(lambda: receiver.bodies("/fast") and receiver.bodies("/slow"), "both tune callbacks")
        (fast_call,) = receiver.bodies("/fast")
        (slow_call,) = receiver.bodies("/slow")
    assert fast_call.path == "/fast?user=1"
    assert fast_call.body["tune"]["id"] == fast["id"]
    assert slow_call.body["tune"]["id"] == slow["id"]
    assert slow_call.body["tune"]["trained_at"] is not None


@pytest.mark.parametrize(
    "fields",
    [
        {"title": ""},
        {"name": ""},
        {"image_urls": []},
        {"branch": "sd3"},
        {"model_type": "checkpoint"},
    ],
    ids=["no-title", "no-name", "no-images", "bad-branch", "bad-model-type"],
)
def test_creating_a_tune_with_bad_fields_is_rejected_with_422(client: httpx.Client, fields: dict[str, Any]) -> None:
    response = client.post("/tunes", json=_tune_body(**fields))
    assert response.status_code == 422
    assert isinstance(response.json()["error"], str)


def test_with_idempotency_on_a_tune_with_a_taken_title_is_returned_not_created(
    sandbox: ThreadSandbox, client: httpx.Client
) -> None:
    sandbox.admin("POST", "settings", {"idempotency": "on"})
    first = client.post("/tunes", json=_tune_body(branch="fast")).json()
    again = client.post("/tunes", json=_tune_body(branch="fast", name="man", image_urls=["https://x/other.jpg"]))
    assert again.status_code in (200, 201)
    assert again.json()["id"] == first["id"]
    assert again.json()["name"] == "woman"
    assert [t["id"] for t in get_json(client, "/tunes", title="Jane - 5f0c")] == [first["id"]]


def test_with_idempotency_off_the_same_title_creates_a_second_tune(client: httpx.Client) -> None:
    first = client.post("/tunes", json=_tune_body(branch="fast")).json()
    second = client.post("/tunes", json=_tune_body(branch="fast")).json()
    assert second["id"] != first["id"]
    assert len(get_json(client, "/tunes", title="Jane - 5f0c")) == 2


def test_tune_list_pages_with_limit_and_before_id(client: httpx.Client) -> None:
    created = [create_fast_tune(client, "dog")["id"] for _ in range(130)]
    every = sorted([*created, WOMAN_TUNE, MAN_TUNE], reverse=True)

    first = get_json(client, "/tunes")
    assert [t["id"] for t in first] == every[:20]  # default page: 20, newest first
    assert len(get_json(client, "/tunes", limit=500)) == 120  # the limit is capped at 120
    assert [t["id"] for t in get_json(client, "/tunes", limit=5, offset=200)] == []

    seen: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 50}
        if before is not None:
            params["before_id"] = before
        page = [t["id"] for t in get_json(client, "/tunes", **params)]
        if not page:
            break
        seen += page
        before = page[-1]
    assert seen == every


@pytest.mark.parametrize("offset", [201, 5000])
def test_tune_offset_beyond_200_is_a_400(client: httpx.Client, offset: int) -> None:
    response = client.get("/tunes", params={"offset": offset})
    assert response.status_code == 400
    assert "before_id" in response.json()["error"]


def test_tune_list_filters(client: httpx.Client) -> None:
    dog = create_fast_tune(client, "dog", title="rex")
    assert [t["id"] for t in get_json(client, "/tunes", **{"name[]": "dog"})] == [dog["id"]]
    assert [t["id"] for t in get_json(client, "/tunes", title="rex")] == [dog["id"]]
    assert [t["id"] for t in get_json(client, "/tunes", branch="fast")] == [dog["id"]]
    both = client.get("/tunes", params=[("name[]", "man"), ("name[]", "woman")]).json()
    assert [t["id"] for t in both] == [MAN_TUNE, WOMAN_TUNE]


def test_tune_is_read_updated_and_deleted(client: httpx.Client) -> None:
    tune = create_fast_tune(client, "woman", title="before")
    assert get_json(client, f"/tunes/{tune['id']}")["title"] == "before"

    response = client.patch(
        f"/tunes/{tune['id']}",
        json={"tune": {"title": "after", "name": "man", "characteristics": {"age": "30"}, "auto_extend": True}},
    )
    assert response.status_code == 200
    updated = response.json()
    assert (updated["title"], updated["name"]) == ("after", "man")
    assert updated["characteristics"] == {"age": "30"}
    assert updated["auto_extend"] is True
    assert get_json(client, f"/tunes/{tune['id']}") == updated

    multipart = send_multipart(client, "PATCH", f"/tunes/{tune['id']}", [("tune[title]", "via form")])
    assert multipart.status_code == 200
    assert multipart.json()["title"] == "via form"

    deleted = client.delete(f"/tunes/{tune['id']}")
    assert deleted.status_code == 200
    assert client.get(f"/tunes/{tune['id']}").status_code == 404
    assert client.patch(f"/tunes/{tune['id']}", json={"tune": {"title": "x"}}).status_code == 404
    assert client.delete(f"/tunes/{tune['id']}").status_code == 404


def test_tune_prompts_are_listed_under_the_tune(client: httpx.Client) -> None:
    on_woman = client.post(f"/tunes/{WOMAN_TUNE}/prompts", json={"prompt": {"text": f"{tag(WOMAN_TUNE)} a"}}).json()
    client.post(f"/tunes/{MAN_TUNE}/prompts", json={"prompt": {"text": f"{tag(MAN_TUNE)} b"}})
    assert [p["id"] for p in get_json(client, f"/tunes/{WOMAN_TUNE}/prompts")] == [on_woman["id"]]


def test_a_tune_can_be_created_with_prompts_attributes(client: httpx.Client) -> None:
    tune = create_fast_tune(
        client, prompts_attributes=[{"text": "ohwx woman at the beach", "num_images": 2}, {"text": "ohwx woman, snow"}]
    )
    prompts = get_json(client, f"/tunes/{tune['id']}/prompts")
    assert sorted(p["text"] for p in prompts) == ["ohwx woman at the beach", "ohwx woman, snow"]
    assert {p["num_images"] for p in prompts} == {1, 2}
