"""Part B §3: real sandbox answers carry every key of the documented examples, with a compatible JSON type.

The examples are copied verbatim from astria-api.md Part B into tests/fixtures/api/:
pack-list-item.json (§3.1), pack-detail.json (§3.2), prompt.json (§3.3), tune.json (§3.5).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sandbox.support import (
    MAN_TUNE,
    WOMAN_TUNE,
    callback_receiver,
    create_fast_tune,
    create_pack,
    create_prompt,
    create_template,
    get_json,
    set_pack_column,
    tag,
    wait_until_rendered,
)
from tests.sandbox_helpers import ThreadSandbox

API_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "api"


def documented(name: str) -> Any:
    return json.loads((API_FIXTURES / name).read_text(encoding="utf-8"))


def incompatibilities(doc: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` lacks a documented key or has an incompatible type.

    A documented null says nothing about the type, so it matches anything; int and float match each other;
    every item of an actual list must match the first documented item.
    """
    if doc is None:
        return []
    if isinstance(doc, bool):
        return [] if isinstance(actual, bool) else [f"{path}: expected a boolean, got {actual!r}"]
    if isinstance(doc, (int, float)):
        ok = isinstance(actual, (int, float)) and not isinstance(actual, bool)
        return [] if ok else [f"{path}: expected a number, got {actual!r}"]
    if isinstance(doc, str):
        return [] if isinstance(actual, str) else [f"{path}: expected a string, got {actual!r}"]
    if isinstance(doc, list):
        if not isinstance(actual, list):
            return [f"{path}: expected an array, got {actual!r}"]
        if not doc:
            return []
        problems: list[str] = []
        for index, item in enumerate(actual):
            problems += incompatibilities(doc[0], item, f"{path}[{index}]")
        return problems
    assert isinstance(doc, dict)
    if not isinstance(actual, dict):
        return [f"{path}: expected an object, got {actual!r}"]
    problems = []
    for key, value in doc.items():
        if key not in actual:
            problems.append(f"{path}.{key}: missing")
        else:
            problems += incompatibilities(value, actual[key], f"{path}.{key}")
    return problems


def test_the_comparison_itself_catches_missing_keys_and_wrong_types() -> None:
    doc = {"a": 1, "b": "x", "c": None, "d": [{"e": True}], "f": {"g": 1.5}}
    assert incompatibilities(doc, {"a": 2.5, "b": "y", "c": [1], "d": [{"e": False}], "f": {"g": 2}}) == []
    problems = incompatibilities(doc, {"a": "1", "b": None, "d": [{"e": 1}], "f": {}})
    assert problems == [
        "$.a: expected a number, got '1'",
        "$.b: expected a string, got None",
        "$.c: missing",
        "$.d[0].e: expected a boolean, got 1",
        "$.f.g: missing",
    ]


def test_the_fixtures_keep_the_documented_values() -> None:
    assert documented("pack-list-item.json")[0]["slug"] == "test-rv5-1-pack"
    assert documented("pack-detail.json")["costs"]["woman"] == {"cost": 360, "num_images": 35}
    assert documented("prompt.json")["text"] == "a painting of ohwx man in the style of Van Gogh"
    assert documented("tune.json")["ckpt_url"] == "https://sdbooth2-production.s3.amazonaws.com/mock"


@pytest.fixture
def rendered_pack(sandbox: ThreadSandbox, client: httpx.Client) -> dict[str, Any]:
    """A public pack with rendered templates of both documented classes (woman and man)."""
    title = documented("pack-list-item.json")[0]["title"]
    pack = create_pack(client, title)
    create_template(client, pack["id"], WOMAN_TUNE, "woman", num_images=2)
    last = create_template(client, pack["id"], MAN_TUNE, "man")
    wait_until_rendered(client, last["id"])
    for template in get_json(client, "/prompts", pack_id=pack["id"]):
        wait_until_rendered(client, template["id"])
    set_pack_column(sandbox, pack["id"], "public_at", "2025-02-16T17:13:02.204Z")
    return pack


def test_pack_list_item_has_the_documented_shape(client: httpx.Client, rendered_pack: dict[str, Any]) -> None:
    doc = documented("pack-list-item.json")
    listed = get_json(client, "/packs")
    assert incompatibilities(doc, listed) == []
    assert listed[0]["slug"] == doc[0]["slug"]  # the same title gives the documented slug
    assert set(listed[0]["cost_mc_hash"]) == set(doc[0]["cost_mc_hash"])


def test_pack_detail_has_the_documented_shape(client: httpx.Client, rendered_pack: dict[str, Any]) -> None:
    doc = copy.deepcopy(documented("pack-detail.json"))
    # The GET /p/:id doc example (§3.2) names the price costs.<class>.cost, with no unit. Current Astria
    # clients read costs.<class>.cost_mc (millicents; Part B §3.2 and §5 item 4), and Part A (A3) makes
    # cost_mc the contract, so the sandbox serves cost_mc and that is what is checked here.
    for entry in doc["costs"].values():
        entry["cost_mc"] = entry.pop("cost")
    for path in (f"/p/{rendered_pack['id']}", f"/p/{rendered_pack['slug']}.json"):
        detail = get_json(client, path)
        assert incompatibilities(doc, detail) == [], path
        assert set(detail["costs"]) == set(doc["costs"]) == set(detail["prompts_per_class"])
        # A3 adds template_prompts; each carries the prompt shape plus id, class_name and cost_mc
        assert detail["template_prompts"]
        for template in detail["template_prompts"]:
            assert set(documented("prompt.json")) <= set(template)
            assert isinstance(template["class_name"], str) and isinstance(template["cost_mc"], int)


def test_prompt_has_the_documented_shape(client: httpx.Client) -> None:
    doc = documented("prompt.json")
    with callback_receiver() as receiver:
        prompt = create_prompt(
            client,
            WOMAN_TUNE,
            f"{tag(WOMAN_TUNE)} a painting of ohwx woman in the style of Van Gogh",
            negative_prompt=doc["negative_prompt"],
            callback=f"{receiver.url}/?user_id=1",
        )
        assert incompatibilities(doc, prompt) == []
        done = wait_until_rendered(client, prompt["id"])
    assert incompatibilities(doc, done) == []
    for path in (f"/tunes/{WOMAN_TUNE}/prompts/{prompt['id']}", "/prompts", f"/tunes/{WOMAN_TUNE}/prompts"):
        assert incompatibilities(doc if path.endswith(str(prompt["id"])) else [doc], get_json(client, path)) == []
    # the fields Part B §3.3 lists from Astria's own clients
    for key, kind in [
        ("images", list),
        ("num_images", int),
        ("cost_mc", int),
        ("user_error", type(None)),
        ("pack_id", type(None)),
        ("base_pack_id", type(None)),
        ("orig_prompt_id", type(None)),
    ]:
        assert isinstance(done[key], kind), key
    assert "aspect_ratio" in done and "resolution" in done and "order_id" in done


def test_tune_has_the_documented_shape(client: httpx.Client) -> None:
    doc = documented("tune.json")
    created = create_fast_tune(client, "woman", model_type="lora", base_tune_id=1504944)
    assert incompatibilities(doc, created) == []
    assert incompatibilities(doc, get_json(client, f"/tunes/{created['id']}")) == []
    assert incompatibilities([doc], get_json(client, "/tunes")) == []
    assert get_json(client, "/tunes")[0]["is_api"] is True  # the list also shows is_api (§3.5)
