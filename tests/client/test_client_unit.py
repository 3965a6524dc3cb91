"""The client against hand-made servers (httpx.MockTransport): odd answers, timing, limits."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from packsync.astria.client import AstriaClient
from packsync.astria.errors import (
    AuthError,
    ConfigError,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
)
from packsync.astria.settings import ClientConfig, RetryPolicy, Scrubber, Secret, Timeouts, check_base_url

T = TypeVar("T")
RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.02)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def mock_client(
    handler: Callable[[httpx.Request], Any], concurrency: int = 8, max_list_items: int = 100_000
) -> AstriaClient:
    config = ClientConfig(
        "https://api.astria.test",
        Secret("k"),
        retry=RETRY,
        concurrency=concurrency,
        seed=3,
        max_list_items=max_list_items,
    )
    return AstriaClient(config, transport=httpx.MockTransport(handler))


def packs(ids: range) -> list[dict[str, Any]]:
    return [{"id": i, "slug": f"p{i}"} for i in ids]


def test_list_packs_copes_with_a_server_that_returns_everything_at_once() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json=packs(range(150, 0, -1)))

    async def scenario() -> list[dict[str, Any]]:
        async with mock_client(handler) as client:
            return await client.list_packs()

    assert len(run(scenario())) == 150
    assert len(calls) == 1


def test_list_packs_asks_once_unpaged_when_the_server_ignores_offset() -> None:
    calls: list[str] = []
    held = packs(range(130, 0, -1))

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        limit = request.url.params.get("limit")
        return httpx.Response(200, json=held[: int(limit)] if limit else held)  # offset ignored

    async def scenario() -> list[dict[str, Any]]:
        async with mock_client(handler) as client:
            return await client.list_packs()

    assert len(run(scenario())) == 130
    assert calls[-1] == "https://api.astria.test/packs"
    assert len(calls) == 3


@pytest.mark.parametrize("cap", [20, 50])
def test_list_packs_reads_past_short_pages_of_a_server_that_caps_them(cap: int) -> None:
    """A server that pages lower than asked: a short page is not the last, only an empty one is."""
    calls: list[str] = []
    held = packs(range(300, 0, -1))

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        offset = int(request.url.params.get("offset", 0))
        limit = min(int(request.url.params.get("limit", cap)), cap)
        return httpx.Response(200, json=held[offset : offset + limit])

    async def scenario() -> list[dict[str, Any]]:
        async with mock_client(handler) as client:
            return await client.list_packs()

    assert sorted(int(p["id"]) for p in run(scenario())) == list(range(1, 301))
    assert len(calls) == 300 // cap + 1  # the pages, then the empty one


def test_pagination_that_repeats_itself_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": 5}, {"id": 4}])  # before_id ignored

    async def scenario() -> None:
        async with mock_client(handler) as client:
            await client.list_prompts(pack_id=1)

    with pytest.raises(ProtocolError, match=r"GET /prompts\?pack_id=1: pagination did not advance"):
        run(scenario())


def keyset(ids: list[int], page: int, repeat_cursor: bool = False) -> Callable[[httpx.Request], httpx.Response]:
    """A server holding ``ids`` (newest first) in pages of ``page``; ``repeat_cursor`` reads
    ``before_id`` as ``id <= before_id``, so each page starts with the last one's last item."""

    def handler(request: httpx.Request) -> httpx.Response:
        before = request.url.params.get("before_id")
        held = [i for i in ids if before is None or (i <= int(before) if repeat_cursor else i < int(before))]
        return httpx.Response(200, json=[{"id": i, "text": f"t{i}", "pack_id": 1} for i in held[:page]])

    return handler


def test_ids_listed_again_with_the_same_content_are_read_once() -> None:
    ids = list(range(40, 0, -1))

    async def scenario(handler: Callable[[httpx.Request], httpx.Response]) -> list[int]:
        async with mock_client(handler) as client:
            return [int(p["id"]) for p in await client.list_prompts(pack_id=1)]

    assert run(scenario(keyset(ids, 7, repeat_cursor=True))) == ids  # across pages

    def twice(request: httpx.Request) -> httpx.Response:
        page = keyset(ids, 7)(request).json()
        return httpx.Response(200, json=[copy for item in page for copy in (item, item)])

    assert run(scenario(twice)) == ids  # within a page


def test_an_id_listed_twice_with_other_content_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "before_id" in request.url.params:
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=[{"id": 5, "text": "a"}, {"id": 5, "text": "b"}])

    async def scenario() -> None:
        async with mock_client(handler) as client:
            await client.list_prompts(pack_id=1)

    with pytest.raises(ProtocolError, match="holds #5 twice, with different content"):
        run(scenario())


def test_a_pack_listed_twice_with_other_content_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": 5, "slug": "a"}, {"id": 5, "slug": "b"}])

    async def scenario() -> None:
        async with mock_client(handler) as client:
            await client.list_packs()

    with pytest.raises(ProtocolError, match="pack #5 twice"):
        run(scenario())


def test_the_client_applies_the_pack_filter_itself() -> None:
    """A server that ignores ``pack_id`` lists other packs' prompts and one-offs: left out. An
    item that does not say its pack (the documented prompt object has no pack_id) is kept."""
    rows: list[dict[str, Any]] = [
        {"id": 9, "text": "ours", "pack_id": 1},
        {"id": 8, "text": "another pack's", "pack_id": 2},
        {"id": 7, "text": "a one-off", "pack_id": None},
        {"id": 6, "text": "says nothing"},
        {"id": 5, "text": "ours as a string", "pack_id": "1"},
        {"id": 4, "text": "ours as a float", "pack_id": 1.0},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        before = int(request.url.params.get("before_id", 100))
        return httpx.Response(200, json=[r for r in rows if r["id"] < before][:2])

    async def scenario() -> list[int]:
        async with mock_client(handler) as client:
            return [int(p["id"]) for p in await client.pack_templates(1)]

    assert run(scenario()) == [9, 6, 5, 4]


def test_a_list_that_never_ends_is_cut_off_at_the_bound() -> None:
    asked = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal asked
        asked += 1
        before = int(request.url.params.get("before_id", 10**9))
        return httpx.Response(200, json=[{"id": before - 1 - i} for i in range(120)])

    async def scenario() -> None:
        async with mock_client(handler, max_list_items=1000) as client:
            await client.list_prompts(pack_id=3)

    with pytest.raises(ProtocolError, match=r"GET /prompts\?pack_id=3: the list did not end after 1,000 items"):
        run(scenario())
    assert asked == 9  # ceil(1000 / 120) pages, not one more


def test_a_list_of_tiny_pages_that_never_ends_is_cut_off_too() -> None:
    asked = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal asked
        asked += 1
        if request.url.path == "/packs":
            offset = int(request.url.params.get("offset", 0))
            return httpx.Response(200, json=[{"id": offset + i, "slug": f"p{offset + i}"} for i in range(100)])
        before = int(request.url.params.get("before_id", 10**9))
        return httpx.Response(200, json=[{"id": before - 1}])

    async def scenario(what: str, bound: int) -> None:
        async with mock_client(handler, max_list_items=bound) as client:
            await (client.list_prompts() if what == "prompts" else client.list_packs())

    with pytest.raises(ProtocolError, match="GET /prompts: the list did not end after 6 pages"):
        run(scenario("prompts", 100))
    assert asked == 6  # enough pages for 100 items at the default page size of 20
    asked = 0
    with pytest.raises(ProtocolError, match="GET /packs: the list did not end after 100 items"):
        run(scenario("packs", 1000))  # packs: a tenth of the bound
    assert asked == 2


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"<html><body>Bad gateway</body></html>", "text/html", "expected JSON, got text/html"),
        (b'{"id": 1, "slug": ', "application/json", "expected JSON"),
        (b'["not", "objects"]', "application/json", "expected a list of objects with ids"),
        (b'{"packs": []}', "application/json", "expected a list of objects with ids"),
    ],
)
def test_bad_answers_are_protocol_errors(body: bytes, content_type: str, expected: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    async def scenario() -> None:
        async with mock_client(handler) as client:
            await client.list_packs()

    with pytest.raises(ProtocolError, match=expected):
        run(scenario())


def test_an_html_error_page_gives_a_readable_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            502, content=b"<html><h1>502 Bad Gateway</h1></html>", headers={"content-type": "text/html"}
        )

    async def scenario() -> None:
        async with mock_client(handler) as client:
            await client.get_pack(1)

    with pytest.raises(ServerError) as caught:
        run(scenario())
    assert "502 Bad Gateway" in str(caught.value)
    assert "after 4 attempts" in str(caught.value)


def test_auth_errors_are_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(401, json={"error": "Invalid API key"})

    async def scenario() -> None:
        async with mock_client(handler) as client:
            await client.list_packs()

    with pytest.raises(AuthError, match="401 Invalid API key"):
        run(scenario())
    assert calls == 1


@pytest.mark.parametrize("header", ["0.3", "http-date"])
def test_retry_after_is_honoured(header: str) -> None:
    answers = iter(["429", "ok"])

    def handler(request: httpx.Request) -> httpx.Response:
        if next(answers) == "429":
            value = header
            if header == "http-date":
                value = email.utils.formatdate(time.time() + 1.2, usegmt=True)
            return httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": value})
        return httpx.Response(200, json={"id": 1})

    async def scenario() -> float:
        async with mock_client(handler) as client:
            start = time.monotonic()
            await client.get_pack(1)
            return time.monotonic() - start

    elapsed = run(scenario())
    assert elapsed >= (0.3 if header == "0.3" else 0.2)  # an HTTP date has whole seconds
    assert elapsed < 3


def test_rails_style_field_errors_become_the_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"text": ["can't be blank"], "num_images": ["must be less than 9"]})

    async def scenario() -> None:
        async with mock_client(handler) as client:
            await client.create_prompt(1, {"text": ""})

    with pytest.raises(Exception, match="text can't be blank, num_images must be less than 9"):
        run(scenario())


def test_concurrency_is_bounded() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={"id": 1})

    async def scenario() -> None:
        async with mock_client(handler, concurrency=3) as client:
            await asyncio.gather(*(client.get_pack(i) for i in range(30)))

    run(scenario())
    assert peak == 3


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for attempt in range(10):
        ceiling = min(4.0, 0.5 * 2**attempt)
        delays = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # really spread, not a constant
        assert min(delays) < ceiling * 0.2


def test_a_write_is_sent_as_json_with_a_root_key_and_the_key_only_in_the_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": 9, "text": "x"})

    async def scenario() -> None:
        config = ClientConfig("https://api.astria.test", Secret("sk-top"), workspace_id="42", retry=RETRY)
        async with AstriaClient(config, transport=httpx.MockTransport(handler)) as client:
            await client.create_prompt(5, {"text": "<lora:5:1> ohwx man", "pack_id": 3})

    run(scenario())
    (request,) = seen
    assert request.headers["authorization"] == "Bearer sk-top"
    assert request.headers["x-workspace-id"] == "42"
    assert request.url.path == "/tunes/5/prompts"
    assert request.read() == b'{"prompt":{"text":"<lora:5:1> ohwx man","pack_id":3}}'
    assert "sk-top" not in str(request.url)


@pytest.mark.parametrize(
    "url",
    ["https://api.astria.ai", "http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:9", "http://127.9.9.9"],
)
def test_allowed_urls(url: str) -> None:
    assert check_base_url(url + "/") == url


@pytest.mark.parametrize("url", ["http://api.astria.ai", "http://10.0.0.5:80", "ftp://x", "api.astria.ai", "http://"])
def test_refused_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        check_base_url(url)


def test_secret_never_shows_itself() -> None:
    secret = Secret("sk-live-123")
    assert "sk-live-123" not in f"{secret} {secret!r} {[secret]} {ClientConfig('https://x', secret)!r}"
    assert secret.reveal() == "sk-live-123"


def test_no_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        AstriaClient(ClientConfig("https://api.astria.ai", Secret("")))


def test_the_request_deadline_covers_the_whole_answer() -> None:
    """An answer slower than the deadline is a lost answer: a read is retried, then given up
    on; a write is an unknown outcome, sent once."""
    sent: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        await asyncio.sleep(5)
        return httpx.Response(200, json={"id": 1})

    async def scenario() -> tuple[Exception, Exception, float]:
        config = ClientConfig(
            "https://api.astria.test", Secret("k"), retry=RETRY, seed=3, timeouts=Timeouts(read=10, total=0.2)
        )
        async with AstriaClient(config, transport=httpx.MockTransport(handler)) as client:
            started = time.monotonic()
            with pytest.raises(TransportError) as read:
                await client.get_pack(1)
            with pytest.raises(OutcomeUnknown) as write:
                await client.create_prompt(1, {"text": "<lora:1:1> ohwx man"})
            return read.value, write.value, time.monotonic() - started

    read, write, took = run(scenario())
    assert str(read) == "GET /p/1: no answer: no complete answer within 0.2 s"
    assert "POST /tunes/1/prompts: no answer (no complete answer within 0.2 s)" in str(write)
    assert sent == ["GET"] * RETRY.attempts + ["POST"]
    assert took < 2


def test_every_form_of_the_key_is_blanked_in_what_the_server_sends() -> None:
    key = "sk_live_UNIT+a1/b2=c3"
    scrub = Scrubber.of(Secret(key))
    forms = Secret(key).forms()
    assert key in forms and "sk_live_UNIT%2Ba1%2Fb2%3Dc3" in forms and "sk_live_UNIT+a1\\/b2=c3" in forms
    for text in (key, f"Bearer {key}", "sk_live_unit%2ba1%2fb2%3dc3", f"x{key}y"):
        assert "UNIT" not in scrub.message(text).upper(), text
    assert scrub.message("Authorization: Bearer someone-else") == "Authorization: Bearer [redacted]"
    escaped = ('{"title": "' + "".join(f"\\u{ord(c):04x}" for c in key) + '", "n": [1, {"k": "' + key + '"}]}').encode()
    assert scrub.data(json.loads(escaped), escaped) == {"title": "[redacted]", "n": [1, {"k": "[redacted]"}]}
    plain = b'{"title": "Corporate Headshots"}'
    data = json.loads(plain)
    assert scrub.data(data, plain) is data  # nothing to search: the answer is returned as it is


def test_a_key_too_short_to_search_for_is_left_to_the_bearer_pattern() -> None:
    assert Secret("sk-1234").forms() == ()
    scrub = Scrubber.of(Secret("sk-1234"))
    assert scrub.message("Bearer sk-1234 and an sk-1234") == "Bearer [redacted] and an sk-1234"


def test_prompts_above_a_mark_page_down_to_it_once_per_page_without_retrying() -> None:
    """A run watcher's poll (A6): newest first, pages of 120 until one reaches the mark; a 429 is its caller's."""
    calls: list[dict[str, str]] = []
    prompts = [{"id": i, "base_pack_id": 9 if i % 10 else 8} for i in range(400, 100, -1)]

    def handler(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        calls.append(query)
        if query.get("base_pack_id") == "0":
            return httpx.Response(429, json={"error": "Too many requests"})
        before = int(query.get("before_id", 10**9))
        return httpx.Response(200, json=[p for p in prompts if p["id"] < before][: int(query["limit"])])

    async def scenario() -> tuple[list[dict[str, Any]], Exception]:
        async with mock_client(handler) as client:
            found = await client.prompts_above("/prompts", 150, base_pack_id=9)
            try:
                await client.prompts_above("/prompts", 150, base_pack_id=0)
            except Exception as exc:
                return found, exc
            raise AssertionError("no error")

    found, error = run(scenario())
    assert [p["id"] for p in found] == [i for i in range(151, 401) if i % 10]  # above the mark, this pack only
    assert [c.get("before_id") for c in calls[:3]] == [None, "281", "161"]  # stopped at the page reaching 150
    assert len(calls) == 4 and isinstance(error, RateLimited)  # tried once, never retried


def test_the_first_wait_after_a_500_is_30_seconds_within_the_cap() -> None:
    import asyncio

    from packsync.astria.client import AstriaClient
    from packsync.astria.settings import ClientConfig, RetryPolicy, Secret

    waits: list[float] = []

    async def scenario(policy: RetryPolicy) -> None:
        client = AstriaClient(ClientConfig("http://127.0.0.1:1", Secret("k" * 12), retry=policy))
        real_sleep = asyncio.sleep

        async def record(seconds: float) -> None:
            waits.append(seconds)
            await real_sleep(0)

        asyncio.sleep = record  # type: ignore[assignment]
        try:
            await client._wait(0, None, "GET", "/packs", "500")
            await client._wait(1, None, "GET", "/packs", "500")
            await client._wait(0, None, "GET", "/packs", "502")
        finally:
            asyncio.sleep = real_sleep  # type: ignore[assignment]
            await client.aclose()

    asyncio.run(scenario(RetryPolicy()))
    assert waits[0] == 30 and waits[1] < 30 and waits[2] <= 0.5
    waits.clear()
    asyncio.run(scenario(RetryPolicy(max_delay=0.05)))
    assert waits[0] == 0.05


def test_pack_templates_are_typed_once_and_know_what_the_account_showed() -> None:
    answers: dict[str, Any] = {
        "3": [
            {"id": 9, "text": "a", "tune_id": 690204, "pack_id": 3, "num_images": 4, "cfg_scale": None},
            {"id": 8, "text": None, "tune_id": "690204", "video_model": "kling", "controlnet": ""},
        ],
        "4": [{"id": 9, "text": 42}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        page = answers[request.url.params["pack_id"]] if "before_id" not in request.url.params else []
        return httpx.Response(200, json=page)

    async def scenario(pack_id: int) -> Any:
        async with mock_client(handler) as client:
            return await client.pack_templates(pack_id)

    first, second = run(scenario(3))
    assert (first.id, first.text, first.tune_id, first.pack_id) == (9, "a", 690204, 3)
    assert first.shown == {"num_images", "cfg_scale"}  # shown as null still counts as shown
    assert first.shows("cfg_scale") and not first.shows("super_resolution")
    assert first == answers["3"][0] and first["num_images"] == 4  # still the answer, read-only
    assert (second.text, second.tune_id, second.pack_id) == ("", None, None)  # a string tune id is no tune id
    assert dict(second.unmodeled) == {"video_model": "kling"}  # blank unmodeled fields say nothing
    with pytest.raises(TypeError):
        first["text"] = "b"  # type: ignore[index]
    with pytest.raises(ProtocolError, match=r"GET /prompts\?pack_id=4: template #9: its text is not a string"):
        run(scenario(4))
