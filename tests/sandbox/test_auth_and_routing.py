"""A1: bearer auth, the optional .json suffix, JSON 404s for unknown routes, X-Workspace-Id scoping."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.support import (
    WOMAN_TUNE,
    create_fast_tune,
    create_pack,
    create_prompt,
    create_template,
    tag,
    wait_until_rendered,
)
from tests.sandbox_helpers import ThreadSandbox


def _bare(sandbox: ThreadSandbox, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers=headers or {}, timeout=10)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["no-header", "empty-header", "bearer-without-key", "basic-scheme"],
)
def test_request_without_a_bearer_key_is_rejected_with_401_json(
    sandbox: ThreadSandbox, headers: dict[str, str]
) -> None:
    with _bare(sandbox, headers) as http:
        for method, path in [("GET", "/packs"), ("GET", "/prompts"), ("POST", "/packs"), ("GET", "/nowhere")]:
            response = http.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.headers["content-type"].startswith("application/json")
            body = response.json()
            assert set(body) == {"error"}
            assert isinstance(body["error"], str) and body["error"]


def test_rejected_request_writes_nothing(sandbox: ThreadSandbox) -> None:
    with _bare(sandbox) as http:
        response = http.post("/packs", json={"pack": {"title": "x", "base_tune_id": 1}})
    assert response.status_code == 401
    assert sandbox.admin("GET", "state")["packs"] == 0


@pytest.mark.parametrize("key", ["anything", "sd_XXXXXX", "k"])
def test_any_non_empty_key_is_accepted_by_default(sandbox: ThreadSandbox, key: str) -> None:
    with sandbox.http(key) as http:
        assert http.get("/packs").status_code == 200


@pytest.fixture
def keyed_sandbox() -> Iterator[ThreadSandbox]:
    server = ThreadSandbox(key="k").start()
    try:
        yield server
    finally:
        server.stop()


def test_with_a_configured_key_only_that_key_is_accepted(keyed_sandbox: ThreadSandbox) -> None:
    with keyed_sandbox.http("k") as http:
        assert http.get("/packs").status_code == 200
    for wrong in ("K", "k2", "test-key-not-secret"):
        with keyed_sandbox.http(wrong) as http:
            response = http.get("/packs")
            assert response.status_code == 401
            assert "error" in response.json()
    with _bare(keyed_sandbox) as http:
        assert http.get("/packs").status_code == 401


def test_json_suffix_is_accepted_on_every_kind_of_path(client: httpx.Client) -> None:
    pack = create_pack(client, "Suffix Pack")
    template = create_template(client, pack["id"])
    pid, tid = template["id"], WOMAN_TUNE
    wait_until_rendered(client, pid)  # so that no answer changes between the two reads of a path
    reads = [
        "/packs.json",
        f"/p/{pack['id']}.json",
        f"/p/{pack['slug']}.json",
        "/tunes.json",
        f"/tunes/{tid}.json",
        f"/tunes/{tid}/prompts.json",
        f"/tunes/{tid}/prompts/{pid}.json",
        "/prompts.json",
        f"/prompts/{pid}.json",
        "/users.json",
    ]
    for path in reads:
        plain = client.get(path.removesuffix(".json"))
        suffixed = client.get(path)
        assert suffixed.status_code == 200, path
        assert suffixed.json() == plain.json(), path
    # writes
    created = client.post("/packs.json", json={"pack": {"title": "Suffix Two", "base_tune_id": 1}})
    assert created.status_code == 201
    tune = client.post("/tunes.json", json={"tune": {"title": "t", "name": "man", "image_urls": ["u"]}})
    assert tune.status_code == 201
    assert client.patch(f"/tunes/{tune.json()['id']}.json", json={"tune": {"title": "t2"}}).status_code == 200
    prompt = client.post(f"/tunes/{tid}/prompts.json", json={"prompt": {"text": f"{tag(tid)} ohwx woman x"}})
    assert prompt.status_code == 201
    new_id = prompt.json()["id"]
    assert client.patch(f"/prompts/{new_id}.json", json={"prompt": {"pack_id": pack["id"]}}).status_code == 200
    assert client.post(f"/prompts/{new_id}/duplicate.json", json={}).status_code == 201
    assert client.post(f"/prompts/{new_id}/likes.json").status_code == 201
    assert client.post(f"/prompts/{new_id}/like.json").status_code == 201
    assert client.delete(f"/prompts/{new_id}/likes.json").status_code == 200
    assert client.delete(f"/tunes/{tid}/prompts/{new_id}.json").status_code == 200
    assert client.delete(f"/tunes/{tune.json()['id']}.json").status_code == 200
    run = client.post(
        f"/p/{pack['slug']}/tunes.json", json={"tune": {"title": "r", "name": "woman", "image_urls": ["u"]}}
    )
    assert run.status_code == 201, run.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("GET", "/pack"),
        ("GET", "/prompts/1/images"),
        ("POST", "/prompts"),  # prompts are created under a tune
        ("GET", "/tunes/abc"),
        ("PUT", "/prompts/1"),
        ("GET", "/gallery/nothing.json"),
    ],
)
def test_unknown_route_is_a_json_404(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["error"], str)


@pytest.mark.parametrize("path", ["/p/999", "/p/no-such-slug", "/tunes/999", "/prompts/999", "/tunes/999/prompts/1"])
def test_unknown_id_is_a_json_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert isinstance(response.json()["error"], str)


def test_current_user_is_served(client: httpx.Client) -> None:
    user = client.get("/users").json()
    assert isinstance(user["usd_balance_mc"], int)
    assert "email" in user


def test_packs_and_prompts_created_in_a_workspace_are_scoped_to_it(sandbox: ThreadSandbox) -> None:
    seven = {"X-Workspace-Id": "7"}
    with sandbox.http() as http:
        tune = create_fast_tune(http, "woman")  # in the personal scope
        http.headers.update(seven)
        ws_tune = create_fast_tune(http, "woman")
        ws_pack = create_pack(http, "Workspace Pack")
        ws_prompt = create_prompt(http, ws_tune["id"], f"{tag(ws_tune['id'])} ohwx woman", pack_id=ws_pack["id"])
        # inside the workspace, everything is visible
        assert [p["id"] for p in http.get("/packs").json()] == [ws_pack["id"]]
        assert http.get(f"/p/{ws_pack['id']}").status_code == 200
        assert http.get(f"/p/{ws_pack['slug']}").status_code == 200
        assert http.get(f"/prompts/{ws_prompt['id']}").status_code == 200
        assert [p["id"] for p in http.get("/prompts").json()] == [ws_prompt["id"]]
        assert [t["id"] for t in http.get("/tunes").json()] == [ws_tune["id"]]

        # without the header (personal scope) the workspace's objects are invisible
        del http.headers["X-Workspace-Id"]
        assert http.get("/packs").json() == []
        assert http.get(f"/p/{ws_pack['id']}").status_code == 404
        assert http.get(f"/p/{ws_pack['slug']}").status_code == 404
        assert http.get(f"/prompts/{ws_prompt['id']}").status_code == 404
        assert http.get("/prompts").json() == []
        assert http.get("/prompts", params={"pack_id": ws_pack["id"]}).json() == []
        assert [t["id"] for t in http.get("/tunes").json()] == [tune["id"]]

        # another workspace does not see them either
        http.headers["X-Workspace-Id"] = "8"
        assert http.get("/packs").json() == []
        assert http.get(f"/prompts/{ws_prompt['id']}").status_code == 404

        # "all" is the cross-workspace view
        http.headers["X-Workspace-Id"] = "all"
        assert [p["id"] for p in http.get("/packs").json()] == [ws_pack["id"]]
        assert http.get(f"/p/{ws_pack['slug']}").status_code == 200
        assert http.get(f"/prompts/{ws_prompt['id']}").status_code == 200
        assert [p["id"] for p in http.get("/prompts").json()] == [ws_prompt["id"]]
        assert {t["id"] for t in http.get("/tunes").json()} == {tune["id"], ws_tune["id"]}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'["a", "list"]', "application/json"),
        (b"<pack/>", "application/xml"),
        (b"--x\r\nno disposition\r\n\r\nv\r\n--x--\r\n", "multipart/form-data; boundary=x"),
    ],
    ids=["malformed-json", "json-array", "xml", "multipart-without-name"],
)
def test_an_unreadable_body_is_a_json_400(client: httpx.Client, content: bytes, content_type: str) -> None:
    response = client.post("/packs", content=content, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)
    assert client.get("/packs").json() == []


def test_a_root_key_that_is_not_an_object_is_a_422(client: httpx.Client) -> None:
    response = client.post("/packs", json={"pack": "Title"})
    assert response.status_code == 422
    assert isinstance(response.json()["error"], str)
