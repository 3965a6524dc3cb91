"""A6: running a pack (POST /p/:id_or_slug/tunes): training path, tune_ids path, overrides and callbacks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from packsync.sandbox.realism import REALISTIC
from tests.sandbox.support import (
    MAN_TUNE,
    WOMAN_TUNE,
    callback_receiver,
    create_fast_tune,
    create_pack,
    create_prompt,
    get_json,
    send_multipart,
    tag,
    wait_for,
)
from tests.sandbox_helpers import ThreadSandbox

WOMAN_A = f"{tag(WOMAN_TUNE)} ohwx woman named {{{{name}}}} with {{{{eye_color}}}} eyes"
WOMAN_B = f"{tag(WOMAN_TUNE, '0.7')} ohwx woman, {{{{name}}}} on a boat, {{{{unknown}}}} kept"
MAN_A = f"{tag(MAN_TUNE)} ohwx man named {{{{name}}}}"


@dataclass
class Pack:
    id: int
    slug: str
    woman: list[dict[str, Any]]
    man: list[dict[str, Any]]


@pytest.fixture
def pack(client: httpx.Client) -> Pack:
    created = create_pack(client, "Run Me")
    pid = created["id"]
    woman = [
        create_prompt(client, WOMAN_TUNE, WOMAN_A, pack_id=pid, num_images=2, seed=11, negative_prompt="blurry"),
        create_prompt(client, WOMAN_TUNE, WOMAN_B, pack_id=pid, num_images=1, seed=12),
    ]
    man = [create_prompt(client, MAN_TUNE, MAN_A, pack_id=pid, seed=13)]
    return Pack(pid, created["slug"], woman, man)


def _run(client: httpx.Client, ref: int | str, **tune: Any) -> httpx.Response:
    body = {"title": "Jane - 7d1e", "name": "woman", "image_urls": ["https://x/1.jpg"], **tune}
    return client.post(f"/p/{ref}/tunes", json={"tune": body})


def _clones(client: httpx.Client, pack_id: int) -> list[dict[str, Any]]:
    clones: list[dict[str, Any]] = get_json(client, "/prompts", base_pack_id=pack_id, limit=120)
    return clones


def test_running_a_pack_trains_a_tune_and_clones_its_class_templates(client: httpx.Client, pack: Pack) -> None:
    response = _run(client, pack.slug, characteristics={"name": "Jane", "eye_color": "green"})
    assert response.status_code == 201, response.text
    tune = response.json()
    assert (tune["title"], tune["name"]) == ("Jane - 7d1e", "woman")
    assert tune["base_tune_id"] == 1504944 and tune["model_type"] == "lora"  # from the pack
    assert tune["id"] not in (WOMAN_TUNE, MAN_TUNE)
    assert get_json(client, f"/tunes/{tune['id']}")["id"] == tune["id"]

    clones = sorted(_clones(client, pack.id), key=lambda p: p["orig_prompt_id"])
    templates = sorted(pack.woman, key=lambda p: p["id"])
    assert [c["orig_prompt_id"] for c in clones] == [t["id"] for t in templates]  # only the woman templates
    for clone, template in zip(clones, templates, strict=True):
        assert clone["id"] not in (template["id"],)
        assert clone["tune_id"] == tune["id"]
        assert clone["base_pack_id"] == pack.id
        assert clone["pack_id"] is None
        assert (clone["num_images"], clone["seed"]) == (template["num_images"], template["seed"])
    assert clones[0]["text"] == f"<lora:{tune['id']}:1> ohwx woman named Jane with green eyes"
    assert clones[0]["negative_prompt"] == "blurry"
    assert clones[1]["text"] == f"<lora:{tune['id']}:0.7> ohwx woman, Jane on a boat, {{{{unknown}}}} kept"

    # the pack's templates are untouched
    detail = get_json(client, f"/p/{pack.id}")
    assert sorted(t["id"] for t in detail["template_prompts"]) == sorted(t["id"] for t in pack.woman + pack.man)
    assert get_json(client, f"/prompts/{pack.woman[0]['id']}")["text"] == WOMAN_A
    # provenance filters
    assert [p["id"] for p in get_json(client, "/prompts", orig_prompt_id=templates[0]["id"])] == [clones[0]["id"]]
    assert {p["id"] for p in get_json(client, "/prompts", tune_id=tune["id"])} == {c["id"] for c in clones}


def test_running_a_pack_by_id_for_another_class(client: httpx.Client, pack: Pack) -> None:
    response = _run(client, pack.id, name="man", title="John", characteristics={"name": "John"})
    assert response.status_code == 201
    (clone,) = _clones(client, pack.id)
    assert clone["orig_prompt_id"] == pack.man[0]["id"]
    assert clone["text"] == f"<lora:{response.json()['id']}:1> ohwx man named John"


def test_running_a_pack_with_a_multipart_form(client: httpx.Client, pack: Pack) -> None:
    response = send_multipart(
        client,
        "POST",
        f"/p/{pack.slug}/tunes",
        [
            ("tune[title]", "Form Jane"),
            ("tune[name]", "woman"),
            ("tune[image_urls][]", "https://x/1.jpg"),
            ("tune[image_urls][]", "https://x/2.jpg"),
            ("tune[characteristics][name]", "Ann"),
            ("tune[characteristics][eye_color]", "grey"),
            ("tune[prompt_attributes][num_images]", "3"),
            ("tune[prompt_ids][]", str(pack.woman[0]["id"])),
        ],
    )
    assert response.status_code == 201, response.text
    assert response.json()["orig_images"] == ["https://x/1.jpg", "https://x/2.jpg"]
    (clone,) = _clones(client, pack.id)
    assert clone["orig_prompt_id"] == pack.woman[0]["id"]
    assert clone["num_images"] == 3
    assert clone["text"].endswith("ohwx woman named Ann with grey eyes")


@pytest.mark.parametrize(
    ("tune", "status"),
    [
        ({"name": "dog"}, 422),
        ({"name": ""}, 422),
        ({"title": ""}, 422),
        ({"image_urls": []}, 422),
        ({"prompt_attributes": {"num_images": 9}}, 422),
        ({"prompt_ids": [999]}, 422),
    ],
    ids=["class-not-in-pack", "no-class", "no-title", "no-images", "bad-override", "foreign-prompt-id"],
)
def test_a_bad_pack_run_is_rejected_and_creates_nothing(
    client: httpx.Client, pack: Pack, tune: dict[str, Any], status: int
) -> None:
    tunes_before = len(get_json(client, "/tunes"))
    response = _run(client, pack.slug, **tune)
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)
    assert _clones(client, pack.id) == []
    assert len(get_json(client, "/tunes")) == tunes_before


def test_running_an_unknown_pack_is_a_404(client: httpx.Client) -> None:
    assert _run(client, "no-such-pack").status_code == 404
    assert _run(client, 999).status_code == 404


def test_prompt_ids_run_only_that_subset(client: httpx.Client, pack: Pack) -> None:
    chosen = pack.woman[1]["id"]
    assert _run(client, pack.id, prompt_ids=[chosen]).status_code == 201
    assert [c["orig_prompt_id"] for c in _clones(client, pack.id)] == [chosen]


def test_tune_ids_clone_the_prompts_onto_existing_tunes(client: httpx.Client, pack: Pack) -> None:
    her = create_fast_tune(client, "woman")
    him = create_fast_tune(client, "man")
    tunes_before = len(get_json(client, "/tunes"))
    response = client.post(
        f"/p/{pack.slug}/tunes", json={"tune": {"tune_ids": [her["id"], him["id"]], "characteristics": {"name": "X"}}}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    clones = _clones(client, pack.id)
    assert sorted(body["prompt_ids"]) == sorted(c["id"] for c in clones)
    assert len(get_json(client, "/tunes")) == tunes_before  # no tune was trained
    by_tune = {(c["tune_id"], c["orig_prompt_id"]) for c in clones}
    assert by_tune == {(her["id"], t["id"]) for t in pack.woman} | {(him["id"], pack.man[0]["id"])}
    man_clone = next(c for c in clones if c["tune_id"] == him["id"])
    assert man_clone["text"] == f"<lora:{him['id']}:1> ohwx man named X"
    assert all(c["cost_mc"] == 0 for c in clones)  # fast tunes render for free


@pytest.mark.parametrize("realistic", [False, True], ids=["default", "realistic"])
def test_a_tune_ids_run_fills_placeholders_from_each_tunes_own_characteristics(
    sandbox: ThreadSandbox, client: httpx.Client, pack: Pack, realistic: bool
) -> None:
    """A6: on a tune_ids run the tunes' characteristics "will be used instead"; the request's fill only
    what a tune has no value for. A PATCH of a tune's characteristics counts on its next run."""
    ann = create_fast_tune(client, "woman", characteristics={"name": "Ann"})
    bare = create_fast_tune(client, "woman")
    later = create_fast_tune(client, "woman", characteristics={"name": "Old", "age": "30"})
    patched = client.patch(f"/tunes/{later['id']}", json={"tune": {"characteristics": {"name": "Liz", "age": "30"}}})
    assert patched.status_code == 200, patched.text
    if realistic:
        sandbox.admin("POST", "settings", {"realism": sorted(REALISTIC), "time_scale": 100})
    try:
        run = {
            "tune_ids": [ann["id"], bare["id"], later["id"]],
            "prompt_ids": [pack.woman[0]["id"]],
            "characteristics": {"name": "X", "eye_color": "green"},
        }
        assert client.post(f"/p/{pack.id}/tunes", json={"tune": run}).status_code == 201
        if realistic:
            sandbox.admin("POST", "clock", {"advance": 200})  # the clones land 10-180 s after the answer
        texts = {c["tune_id"]: c["text"] for c in _clones(client, pack.id)}
    finally:
        sandbox.admin("POST", "settings", {"realism": [], "time_scale": 1})
    assert texts[ann["id"]] == f"<lora:{ann['id']}:1> ohwx woman named Ann with green eyes"  # the tune's own wins
    assert texts[bare["id"]] == f"<lora:{bare['id']}:1> ohwx woman named X with green eyes"  # the request's
    assert texts[later["id"]] == f"<lora:{later['id']}:1> ohwx woman named Liz with green eyes"  # as PATCHed


def test_tune_ids_combine_with_prompt_ids(client: httpx.Client, pack: Pack) -> None:
    her = create_fast_tune(client, "woman")
    chosen = pack.woman[0]["id"]
    response = client.post(f"/p/{pack.id}/tunes", json={"tune": {"tune_ids": [her["id"]], "prompt_ids": [chosen]}})
    assert response.status_code == 201
    assert [(c["tune_id"], c["orig_prompt_id"]) for c in _clones(client, pack.id)] == [(her["id"], chosen)]


def test_tune_ids_of_a_class_not_in_the_pack_is_rejected(client: httpx.Client, pack: Pack) -> None:
    dog = create_fast_tune(client, "dog")
    response = client.post(f"/p/{pack.id}/tunes", json={"tune": {"tune_ids": [dog["id"]]}})
    assert response.status_code == 422
    assert client.post(f"/p/{pack.id}/tunes", json={"tune": {"tune_ids": [99999]}}).status_code == 404
    assert _clones(client, pack.id) == []


def test_prompt_attributes_override_every_cloned_prompt(client: httpx.Client, pack: Pack) -> None:
    response = _run(client, pack.id, prompt_attributes={"num_images": 4, "steps": 25, "super_resolution": True})
    assert response.status_code == 201
    clones = _clones(client, pack.id)
    assert len(clones) == 2
    assert all((c["num_images"], c["steps"], c["super_resolution"]) == (4, 25, True) for c in clones)
    assert {c["seed"] for c in clones} == {11, 12}  # what is not overridden comes from the template


def test_with_idempotency_on_a_second_run_with_the_same_title_returns_the_tune(
    sandbox: ThreadSandbox, client: httpx.Client, pack: Pack
) -> None:
    sandbox.admin("POST", "settings", {"idempotency": "on"})
    first = _run(client, pack.id).json()
    again = _run(client, pack.id)
    assert again.status_code in (200, 201)
    assert again.json()["id"] == first["id"]
    assert len(_clones(client, pack.id)) == 2  # the prompts were not cloned twice


def test_callbacks_are_posted_for_the_tune_each_prompt_and_all_prompts(client: httpx.Client, pack: Pack) -> None:
    with callback_receiver() as receiver:
        response = _run(
            client,
            pack.slug,
            callback=f"{receiver.url}/tune?user=42",
            prompt_attributes={"callback": f"{receiver.url}/prompt?user=42&kind=one"},
            prompts_callback=f"{receiver.url}/all?user=42",
        )
        assert response.status_code == 201
        tune_id = response.json()["id"]
        wait_for(
            lambda: receiver.bodies("/tune") and len(receiver.bodies("/prompt")) == 2 and receiver.bodies("/all"),
            "the tune, prompt and prompts callbacks",
        )
        time.sleep(0.2)  # nothing more comes
        tune_calls, prompt_calls, all_calls = (receiver.bodies(p) for p in ("/tune", "/prompt", "/all"))

    (tune_call,) = tune_calls
    assert tune_call.path == "/tune?user=42"
    assert set(tune_call.body) == {"tune"}
    assert tune_call.body["tune"]["id"] == tune_id
    assert tune_call.body["tune"]["trained_at"] is not None

    clone_ids = {c["id"] for c in _clones(client, pack.id)}
    assert len(prompt_calls) == 2
    for call in prompt_calls:
        assert call.path == "/prompt?user=42&kind=one"
        assert set(call.body) == {"prompt"}
        assert call.body["prompt"]["id"] in clone_ids
        assert call.body["prompt"]["images"] and call.body["prompt"]["trained_at"]
    assert {c.body["prompt"]["id"] for c in prompt_calls} == clone_ids

    (all_call,) = all_calls
    assert all_call.path == "/all?user=42"
    assert isinstance(all_call.body, list)
    assert {p["id"] for p in all_call.body} == clone_ids
    assert all(p["images"] and p["trained_at"] for p in all_call.body)


def test_callbacks_are_not_retried_when_the_receiver_fails(
    sandbox: ThreadSandbox, client: httpx.Client, pack: Pack
) -> None:
    with callback_receiver(status=500) as receiver:
        _run(
            client,
            pack.id,
            prompt_ids=[pack.woman[0]["id"]],
            callback=f"{receiver.url}/tune",
            prompt_attributes={"callback": f"{receiver.url}/prompt"},
            prompts_callback=f"{receiver.url}/all",
        )

        def delivered() -> bool:
            records = sandbox.admin("GET", "callbacks")
            return len([r for r in records if r.get("status") == 500]) == 3

        wait_for(delivered, "three failed deliveries")
        time.sleep(0.3)
        assert [len(receiver.bodies(p)) for p in ("/tune", "/prompt", "/all")] == [1, 1, 1]
