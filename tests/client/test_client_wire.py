"""The client against the sandbox over real HTTP: pagination, faults and the retry rules of A7."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from packsync.astria.client import AstriaClient
from packsync.astria.errors import OutcomeUnknown, RateLimited, Rejected, ServerError, TransportError
from packsync.astria.live import read_account
from packsync.astria.settings import ClientConfig, RetryPolicy, Secret, Timeouts
from tests.sandbox_helpers import KEY, ThreadSandbox

T = TypeVar("T")
# Enough tries that a 50% fault rate fails one request with odds of 1 in 4,096.
FAST_RETRY = RetryPolicy(attempts=12, base_delay=0.01, max_delay=0.05)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def client_for(
    sandbox: ThreadSandbox, *, key: str = KEY, retry: RetryPolicy = FAST_RETRY, read: float = 5.0
) -> AstriaClient:
    config = ClientConfig(sandbox.url, Secret(key), retry=retry, timeouts=Timeouts(read=read), seed=7)
    return AstriaClient(config)


def posts(sandbox: ThreadSandbox) -> int:
    return sum(1 for entry in sandbox.requests()["log"] if entry["method"] == "POST")


async def make_pack(client: AstriaClient, title: str = "Corporate Headshots") -> int:
    pack = await client.create_pack(title, 1504944, "lora")
    return int(pack["id"])


@pytest.fixture
def tuned(sandbox: ThreadSandbox) -> ThreadSandbox:
    sandbox.seed_tunes({"id": 690204, "name": "man"}, {"id": 690205, "name": "woman"})
    return sandbox


def test_every_template_of_a_pack_is_read_past_120(tuned: ThreadSandbox) -> None:
    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        async with client_for(tuned) as client:
            pack_id = await make_pack(client)
            await asyncio.gather(
                *(
                    client.create_prompt(690204, {"text": f"<lora:690204:1> ohwx man, look {i}", "pack_id": pack_id})
                    for i in range(250)
                )
            )
            return pack_id, await client.pack_templates(pack_id)

    pack_id, templates = run(scenario())
    assert len(templates) == 250
    assert len({t["id"] for t in templates}) == 250
    assert all(t["pack_id"] == pack_id for t in templates)


def test_every_pack_is_listed_past_a_page(sandbox: ThreadSandbox) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with client_for(sandbox) as client:
            await asyncio.gather(*(make_pack(client, f"Pack {i}") for i in range(230)))
            return await client.list_packs()

    packs = run(scenario())
    assert len(packs) == 230
    assert [p["id"] for p in packs] == sorted((p["id"] for p in packs), reverse=True)


def test_read_account_returns_each_pack_with_all_its_templates(tuned: ThreadSandbox) -> None:
    async def scenario() -> dict[str, int]:
        async with client_for(tuned) as client:
            for n in range(3):
                pack_id = await make_pack(client, f"Pack {n}")
                for i in range(n * 70):
                    await client.create_prompt(
                        690205, {"text": f"<lora:690205:1> ohwx woman {n} {i}", "pack_id": pack_id}
                    )
            return {p.slug: len(p.templates) for p in await read_account(client)}

    assert run(scenario()) == {"pack-0": 0, "pack-1": 70, "pack-2": 140}


@pytest.mark.parametrize("kind", ["429", "429-bare", "500", "502", "503", "504", "reset"])
def test_reads_survive_each_fault_kind_at_50_percent(tuned: ThreadSandbox, kind: str) -> None:
    async def scenario() -> list[int]:
        async with client_for(tuned) as client:
            pack_id = await make_pack(client)
            for i in range(5):
                await client.create_prompt(690204, {"text": f"<lora:690204:1> ohwx man {i}", "pack_id": pack_id})
            tuned.faults(rates={kind: 0.5}, seed=11, retry_after=0.01)
            counts = []
            for _ in range(10):
                counts.append(len(await client.pack_templates(pack_id)))
            return counts

    assert run(scenario()) == [5] * 10
    assert tuned.admin("GET", "faults")["drawn"].get(kind, 0) > 0


@pytest.mark.parametrize("kind", ["429", "429-bare"])
def test_writes_refused_before_processing_are_retried_without_duplicates(tuned: ThreadSandbox, kind: str) -> None:
    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        async with client_for(tuned) as client:
            pack_id = await make_pack(client)
            tuned.faults(rates={kind: 0.5}, seed=5, retry_after=0.01, methods=["POST"])
            for i in range(12):
                await client.create_prompt(690204, {"text": f"<lora:690204:1> ohwx man {i}", "pack_id": pack_id})
            drawn = int(tuned.admin("GET", "faults")["drawn"].get(kind, 0))
            tuned.faults()
            return drawn, await client.pack_templates(pack_id)

    drawn, templates = run(scenario())
    assert drawn >= 3  # the faults really happened ...
    # ... and every template exists exactly once
    assert sorted(t["text"] for t in templates) == sorted(f"<lora:690204:1> ohwx man {i}" for i in range(12))


@pytest.mark.parametrize("kind", ["504", "reset", "500", "502", "503"])
def test_a_write_whose_answer_is_lost_is_reported_unknown_and_never_resent(tuned: ThreadSandbox, kind: str) -> None:
    """A7: after a 504 or a lost answer the write probably happened, after a 500 it may have (the sandbox
    commits the first two and not the others): a POST is never sent again at once either way."""
    async def scenario() -> tuple[OutcomeUnknown, int, list[dict[str, Any]]]:
        async with client_for(tuned) as client:
            pack_id = await make_pack(client)
            before = posts(tuned)
            tuned.faults(rates={kind: 1.0}, methods=["POST"])
            with pytest.raises(OutcomeUnknown) as caught:
                await client.create_prompt(690204, {"text": "<lora:690204:1> ohwx man", "pack_id": pack_id})
            sent = posts(tuned) - before
            tuned.faults()
            return caught.value, sent, await client.pack_templates(pack_id)

    error, sent, templates = run(scenario())
    assert sent == 1  # not sent again
    assert len(templates) == (1 if kind in ("504", "reset") else 0)  # whether it happened: the caller must read
    assert "POST /tunes/690204/prompts" in str(error)


def test_a_slow_answer_past_the_timeout(tuned: ThreadSandbox) -> None:
    async def scenario() -> tuple[type[Exception], type[Exception], float]:
        client = client_for(tuned, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01), read=0.3)
        async with client:
            pack_id = await make_pack(client)
            tuned.faults(rates={"slow": 1.0}, slow_ms=1500)
            start = time.monotonic()
            with pytest.raises(OutcomeUnknown) as write:
                await client.create_prompt(690204, {"text": "<lora:690204:1> ohwx man", "pack_id": pack_id})
            with pytest.raises(TransportError) as read:
                await client.pack_templates(pack_id)
            return type(write.value), type(read.value), time.monotonic() - start

    write, read, elapsed = run(scenario())
    assert (write, read) == (OutcomeUnknown, TransportError)
    assert elapsed < 3  # three timeouts of 0.3 s, no long waits


def test_a_504_on_a_read_is_retried(tuned: ThreadSandbox) -> None:
    async def scenario() -> dict[str, Any]:
        async with client_for(tuned) as client:
            pack_id = await make_pack(client)
            tuned.faults(rates={"504": 0.5}, seed=2)
            return await client.get_pack(pack_id)

    assert run(scenario())["slug"] == "corporate-headshots"


def test_422_is_never_retried_and_carries_the_server_message(tuned: ThreadSandbox) -> None:
    async def scenario() -> tuple[Rejected, int]:
        async with client_for(tuned) as client:
            pack_id = await make_pack(client)
            before = posts(tuned)
            with pytest.raises(Rejected) as caught:
                await client.create_prompt(690204, {"text": "no tag here", "pack_id": pack_id})
            return caught.value, posts(tuned) - before

    error, sent = run(scenario())
    assert sent == 1
    assert error.status == 422
    assert error.message == "Prompt is not using a fine-tuned model"


def test_retries_give_up_with_a_typed_error(tuned: ThreadSandbox) -> None:
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.01)

    async def scenario(kind: str) -> Exception:
        async with client_for(tuned, retry=retry) as client:
            tuned.faults(rates={kind: 1.0}, retry_after=0.01)
            try:
                await client.list_packs()
            except Exception as exc:
                return exc
            raise AssertionError("no error")

    assert isinstance(run(scenario("429")), RateLimited)
    assert isinstance(run(scenario("503")), ServerError)
    assert tuned.requests()["total"] >= 6


def test_idempotent_replay_returns_the_prompt_of_another_pack(tuned: ThreadSandbox) -> None:
    tuned.admin("POST", "settings", {"idempotency": "on"})

    async def scenario() -> tuple[int, dict[str, Any], dict[str, Any]]:
        async with client_for(tuned) as client:
            pack_a = await make_pack(client, "Pack A")
            pack_b = await make_pack(client, "Pack B")
            body = {"text": "<lora:690204:1> ohwx man, studio", "seed": 4}
            first = await client.create_prompt(690204, {**body, "pack_id": pack_a})
            again = await client.create_prompt(690204, {**body, "pack_id": pack_b})
            return pack_a, first, again

    pack_a, first, again = run(scenario())
    assert again["id"] == first["id"]
    assert again["pack_id"] == pack_a  # the caller must notice and attach it itself


def test_the_key_never_appears_in_logs_or_errors(tuned: ThreadSandbox, caplog: pytest.LogCaptureFixture) -> None:
    canary = "sk-canary-7f3a9c1e55"
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    async def scenario() -> None:
        client = client_for(tuned, key=canary, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01), read=0.3)
        texts.extend([repr(client.config), str(client.config), repr(client.config.key)])
        async with client:
            pack_id = await make_pack(client)
            for kind in ("429", "500", "504", "reset", "slow"):
                tuned.faults(rates={kind: 1.0}, retry_after=0.01, slow_ms=800)
                for call in (
                    client.pack_templates(pack_id),
                    client.create_prompt(690204, {"text": "<lora:690204:1> ohwx man", "pack_id": pack_id}),
                ):
                    try:
                        await call
                    except Exception as exc:
                        texts.extend([str(exc), repr(exc), str(exc.__cause__), str(exc.__context__)])
            tuned.faults()
            try:
                await client.create_prompt(690204, {"text": "untagged", "pack_id": pack_id})
            except Rejected as exc:
                texts.append(str(exc))

    run(scenario())
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(str(record.args) for record in caplog.records)
    assert len(texts) > 10
    assert not [t for t in texts if canary in t]
