"""A3: creating, listing and reading packs; packs cannot be changed or deleted through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.support import (
    MAN_TUNE,
    WOMAN_TUNE,
    create_pack,
    create_prompt,
    create_template,
    get_json,
    set_pack_column,
    tag,
    wait_until_rendered,
)
from tests.sandbox_helpers import ThreadSandbox

SUMMARY_KEYS = {
    "id",
    "base_tune_id",
    "user_id",
    "slug",
    "title",
    "token",
    "created_at",
    "updated_at",
    "multiplier",
    "model_type",
    "public_at",
    "unlisted_at",
    "cost_mc_hash",
}


def test_creating_a_pack_answers_201_with_the_pack(client: httpx.Client) -> None:
    response = client.post(
        "/packs",
        json={
            "pack": {
                "title": "Corporate Headshots",
                "base_tune_id": 1504944,
                "model_type": "faceid",
                "subtitle": "Sharp",
            }
        },
    )
    assert response.status_code == 201
    pack = response.json()
    assert set(pack) >= SUMMARY_KEYS
    assert pack["title"] == "Corporate Headshots"
    assert pack["slug"] == "corporate-headshots"
    assert pack["base_tune_id"] == 1504944
    assert pack["model_type"] == "faceid"
    assert pack["subtitle"] == "Sharp"
    assert pack["token"] == "ohwx"
    assert isinstance(pack["id"], int)


def test_pack_token_can_be_given_at_create(client: httpx.Client) -> None:
    assert create_pack(client, "Tokened", token="sks")["token"] == "sks"


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("test rv5.1 pack", "test-rv5-1-pack"),
        ("Corporate   Headshots!!", "corporate-headshots"),
        ("  --Hello, World--  ", "hello-world"),
        ("100% Real", "100-real"),
    ],
)
def test_slug_is_derived_from_the_title(client: httpx.Client, title: str, slug: str) -> None:
    assert create_pack(client, title)["slug"] == slug


def test_a_taken_slug_gets_a_numeric_suffix(client: httpx.Client) -> None:
    slugs = [create_pack(client, "test rv5.1 pack")["slug"] for _ in range(3)]
    assert slugs == ["test-rv5-1-pack", "test-rv5-1-pack-2", "test-rv5-1-pack-3"]
    assert create_pack(client, "Test RV5-1 Pack")["slug"] == "test-rv5-1-pack-4"


@pytest.mark.parametrize(
    "pack",
    [
        {"base_tune_id": 1},
        {"title": "", "base_tune_id": 1},
        {"title": "No base tune"},
        {"title": "Bad model", "base_tune_id": 1, "model_type": "dreambooth"},
    ],
)
def test_creating_a_pack_with_bad_fields_is_rejected_with_422(client: httpx.Client, pack: dict[str, Any]) -> None:
    response = client.post("/packs", json={"pack": pack})
    assert response.status_code == 422
    assert isinstance(response.json()["error"], str)


def test_pack_list_without_limit_returns_every_pack_newest_first(client: httpx.Client) -> None:
    ids = [create_pack(client, f"Pack {n}")["id"] for n in range(25)]
    listed = get_json(client, "/packs")
    assert [p["id"] for p in listed] == sorted(ids, reverse=True)
    assert all(set(p) >= SUMMARY_KEYS for p in listed)


def test_pack_list_honours_limit_and_offset(client: httpx.Client) -> None:
    ids = sorted((create_pack(client, f"Pack {n}")["id"] for n in range(7)), reverse=True)
    assert [p["id"] for p in get_json(client, "/packs", limit=3)] == ids[:3]
    assert [p["id"] for p in get_json(client, "/packs", limit=3, offset=3)] == ids[3:6]
    assert [p["id"] for p in get_json(client, "/packs", limit=3, offset=6)] == ids[6:]
    assert get_json(client, "/packs", limit=3, offset=9) == []
    # paging with limit/offset until a short page (what the client does) sees every pack once
    seen: list[int] = []
    while True:
        page = get_json(client, "/packs", limit=2, offset=len(seen))
        seen += [p["id"] for p in page]
        if len(page) < 2:
            break
    assert seen == ids


def test_public_and_listed_filters(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    private = create_pack(client, "Private")["id"]
    public = create_pack(client, "Public")["id"]
    public_unlisted = create_pack(client, "Public Unlisted")["id"]
    set_pack_column(sandbox, public, "public_at", "2025-02-16T17:13:02.204Z")
    set_pack_column(sandbox, public_unlisted, "public_at", "2025-02-16T17:13:02.204Z")
    set_pack_column(sandbox, public_unlisted, "unlisted_at", "2025-03-01T00:00:00.000Z")

    def ids(**params: Any) -> list[int]:
        return [p["id"] for p in get_json(client, "/packs", **params)]

    assert ids() == [public_unlisted, public, private]
    assert ids(public="true") == [public_unlisted, public]
    assert ids(listed="true") == [public, private]
    assert ids(public="true", listed="true") == [public]
    assert get_json(client, f"/p/{public_unlisted}")["unlisted_at"] == "2025-03-01T00:00:00.000Z"


def test_filters_apply_before_limit_and_offset(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    """A filtered page is full while more matching packs exist, so paging to a short page finds them all."""
    public = [create_pack(client, f"Public {n}")["id"] for n in range(3)]
    for pack_id in public:
        set_pack_column(sandbox, pack_id, "public_at", "2025-02-16T17:13:02.204Z")
    for n in range(3):
        create_pack(client, f"Private {n}")  # the newest packs are not public
    assert [p["id"] for p in get_json(client, "/packs", public="true", limit=2)] == public[::-1][:2]
    assert [p["id"] for p in get_json(client, "/packs", public="true", limit=2, offset=2)] == public[::-1][2:]


def test_pack_is_read_by_id_and_by_slug_with_or_without_json_suffix(client: httpx.Client) -> None:
    # images must not appear between the reads compared below
    client.post("/_sandbox/settings", json={"render_delay": 60}).raise_for_status()
    pack = create_pack(client, "Readable Pack")
    create_template(client, pack["id"])
    by_id = get_json(client, f"/p/{pack['id']}")
    assert by_id["slug"] == "readable-pack"
    for path in (f"/p/{pack['id']}.json", "/p/readable-pack", "/p/readable-pack.json"):
        assert get_json(client, path) == by_id


def test_pack_detail_costs_and_classes_match_its_templates(client: httpx.Client) -> None:
    pack = create_pack(client, "Detail Pack")
    woman_a = create_template(client, pack["id"], words="a", num_images=2)
    woman_b = create_template(client, pack["id"], words="b", num_images=3)
    man = create_template(client, pack["id"], MAN_TUNE, "man", num_images=4)
    other_pack = create_pack(client, "Other")
    create_template(client, other_pack["id"], words="elsewhere")
    create_prompt(client, WOMAN_TUNE, f"{tag(WOMAN_TUNE)} ohwx woman, not a template")
    wait_until_rendered(client, man["id"])

    detail = get_json(client, f"/p/{pack['id']}")
    assert SUMMARY_KEYS | {"subtitle", "cover_url", "costs", "prompts_per_class", "template_prompts"} <= set(detail)

    templates = detail["template_prompts"]
    assert [t["id"] for t in templates] == [man["id"], woman_b["id"], woman_a["id"]]
    assert {t["id"]: t["class_name"] for t in templates} == {
        woman_a["id"]: "woman",
        woman_b["id"]: "woman",
        man["id"]: "man",
    }
    assert all(t["pack_id"] == pack["id"] for t in templates)

    expected_costs: dict[str, dict[str, int]] = {}
    for t in templates:
        entry = expected_costs.setdefault(t["class_name"], {"cost_mc": 0, "num_images": 0})
        entry["cost_mc"] += t["cost_mc"]
        entry["num_images"] += t["num_images"]
    assert detail["costs"] == expected_costs
    assert detail["costs"]["woman"]["num_images"] == 5
    assert detail["costs"]["man"]["num_images"] == 4
    assert detail["costs"]["man"]["cost_mc"] > 0  # a template on a non-free tune costs money
    assert detail["cost_mc_hash"] == {cls: c["cost_mc"] for cls, c in expected_costs.items()}

    per_class = detail["prompts_per_class"]
    assert set(per_class) == {"woman", "man"}
    assert sorted(p["id"] for p in per_class["woman"]) == sorted([woman_a["id"], woman_b["id"]])
    assert [p["id"] for p in per_class["man"]] == [man["id"]]
    rendered = next(t for t in templates if t["id"] == man["id"])
    assert per_class["man"][0]["images"] == rendered["images"] and len(rendered["images"]) == 4

    # the summary in the list carries the same per-class prices
    (summary,) = [p for p in get_json(client, "/packs") if p["id"] == pack["id"]]
    assert summary["cost_mc_hash"] == detail["cost_mc_hash"]


def test_pack_without_templates_has_no_classes(client: httpx.Client) -> None:
    detail = get_json(client, f"/p/{create_pack(client, 'Empty')['id']}")
    assert detail["costs"] == {} and detail["prompts_per_class"] == {} and detail["template_prompts"] == []
    assert detail["cost_mc_hash"] == {}


@pytest.mark.parametrize(
    ("method", "path_format"),
    [
        ("PATCH", "/packs/{id}"),
        ("PUT", "/packs/{id}"),
        ("DELETE", "/packs/{id}"),
        ("PATCH", "/p/{id}"),
        ("PATCH", "/p/{slug}"),
        ("DELETE", "/p/{id}"),
        ("PATCH", "/packs/{id}.json"),
    ],
)
def test_packs_cannot_be_updated_or_deleted_through_the_api(
    client: httpx.Client, method: str, path_format: str
) -> None:
    pack = create_pack(client, "Fixed Pack")
    path = path_format.format(id=pack["id"], slug=pack["slug"])
    response = client.request(method, path, json={"pack": {"title": "Renamed"}})
    assert response.status_code == 404
    assert isinstance(response.json()["error"], str)
    after = get_json(client, f"/p/{pack['id']}")
    assert after["title"] == "Fixed Pack"
    assert after["updated_at"] == pack["updated_at"]
