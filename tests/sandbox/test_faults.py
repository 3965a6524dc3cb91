"""A7: injected faults. Which ones carry out the request, which headers they send, and that they replay."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.sandbox.support import WOMAN_TUNE, tag
from tests.sandbox_helpers import ThreadSandbox

TEXT = f"{tag(WOMAN_TUNE)} ohwx woman in a field"


def _prompt_count(sandbox: ThreadSandbox) -> int:
    count: int = sandbox.admin("GET", "state")["prompts"]
    return count


def _post_prompt(client: httpx.Client) -> httpx.Response:
    return client.post(f"/tunes/{WOMAN_TUNE}/prompts", json={"prompt": {"text": TEXT}})


def test_429_carries_retry_after_and_does_not_carry_out_the_request(
    sandbox: ThreadSandbox, client: httpx.Client
) -> None:
    sandbox.faults(rates={"429": 1.0}, retry_after=3)
    response = _post_prompt(client)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert "error" in response.json()
    sandbox.faults()
    assert _prompt_count(sandbox) == 0


def test_429_bare_has_no_retry_after(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    sandbox.faults(rates={"429-bare": 1.0})
    response = _post_prompt(client)
    assert response.status_code == 429
    assert "Retry-After" not in response.headers
    assert _prompt_count(sandbox) == 0


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_errors_do_not_carry_out_a_post(sandbox: ThreadSandbox, client: httpx.Client, status: str) -> None:
    sandbox.faults(rates={status: 1.0})
    response = _post_prompt(client)
    assert response.status_code == int(status)
    assert isinstance(response.json()["error"], str)
    assert _prompt_count(sandbox) == 0
    sandbox.faults()
    assert client.get("/prompts").json() == []


def test_504_carries_out_the_post_and_then_answers_504(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    sandbox.faults(rates={"504": 1.0})
    response = _post_prompt(client)
    assert response.status_code == 504
    assert "error" in response.json()
    sandbox.faults()
    prompts = client.get("/prompts").json()
    assert [p["text"] for p in prompts] == [TEXT]


def test_reset_carries_out_the_post_and_drops_the_connection(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    sandbox.faults(rates={"reset": 1.0})
    with pytest.raises(httpx.TransportError):
        _post_prompt(client)
    sandbox.faults()
    assert [p["text"] for p in client.get("/prompts").json()] == [TEXT]


def test_latency_delays_every_answer(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    started = time.monotonic()
    client.get("/packs")
    quick = time.monotonic() - started
    sandbox.faults(latency_ms=150)
    started = time.monotonic()
    assert client.get("/packs").status_code == 200
    slow = time.monotonic() - started
    assert slow >= 0.14
    assert slow > quick


def test_slow_carries_out_the_request_and_answers_late(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    sandbox.faults(rates={"slow": 1.0}, slow_ms=200)
    started = time.monotonic()
    response = _post_prompt(client)
    assert response.status_code == 201
    assert time.monotonic() - started >= 0.19


def test_same_seed_gives_the_same_fault_sequence(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    def sequence(seed: int) -> list[int]:
        sandbox.faults(rates={"500": 0.3, "429": 0.2}, seed=seed)
        return [client.get("/packs").status_code for _ in range(30)]

    first = sequence(7)
    assert sequence(7) == first
    assert {200, 429, 500} <= set(first)  # the sequence really mixes answers
    assert sequence(8) != first


def test_faults_can_be_limited_to_some_methods(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    sandbox.faults(rates={"503": 1.0}, methods=["POST"])
    assert client.get("/packs").status_code == 200
    assert _post_prompt(client).status_code == 503


def test_admin_endpoints_are_never_faulted(sandbox: ThreadSandbox) -> None:
    sandbox.faults(rates={"500": 1.0}, latency_ms=0)
    for _ in range(5):
        assert sandbox.admin("GET", "state")["prompts"] == 0
        assert "total" in sandbox.requests()
        assert sandbox.admin("GET", "settings")["idempotency"] == "off"
    sandbox.faults(rates={"reset": 1.0})
    assert sandbox.admin("GET", "faults")["rates"] == {"reset": 1.0}
    sandbox.seed_tunes({"id": 4242, "name": "dog"})
    sandbox.faults()
    with sandbox.http() as http:
        assert http.get("/tunes/4242").status_code == 200


def test_the_request_log_records_each_fault(sandbox: ThreadSandbox, client: httpx.Client) -> None:
    sandbox.admin("DELETE", "requests")
    sandbox.faults(rates={"502": 1.0})
    client.get("/packs")
    log = sandbox.requests()["log"]
    assert [(e["status"], e["fault"]) for e in log] == [(502, "502")]


def test_invalid_fault_settings_are_rejected(sandbox: ThreadSandbox) -> None:
    with sandbox.http() as http:
        for plan in ({"rates": {"429": 2}}, {"rates": {"nope": 0.1}}, {"rates": {"500": 0.6, "502": 0.6}}):
            response = http.post("/_sandbox/faults", json=plan)
            assert response.status_code == 422, plan
            assert "error" in response.json()
