"""A key echoed by the server is never shown: an account, proxy or gateway that quotes the
``Authorization`` header back — in a 401, a 422, a 500, an HTML error page, a response
header, the data itself; as is, URL-encoded or JSON-escaped — never gets the key printed,
logged or written by any command. Any other ``Bearer`` token in an error is blanked too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import run_packsync, with_packs
from tests.reliability.hostile import Asked, Hostile, Reply, as_json, point_at

CANARY = "sk_live_CANARY+4f1e/9a7c=2d"  # characters that URL-encoding and JSON may rewrite
OTHER = "sk_live_SOMEONE_ELSES_5e8b1d"
COMMANDS = (["plan"], ["apply", "--auto-approve", "--allow-mass-removal"], ["packs"], ["stats"], ["import", "--all"])


def key_of(asked: Asked) -> str:
    return asked.headers.get("Authorization", "").removeprefix("Bearer ")


def escaped(text: str) -> str:
    """``text`` as JSON with every character \\u-escaped: nothing of it is readable raw."""
    return '"' + "".join(f"\\u{ord(c):04x}" for c in text) + '"'


def data(asked: Asked) -> Reply:
    """Answers that carry the key inside the data: a pack's title, a template's text, a
    class name, a header; every write is refused quoting the header."""
    key = key_of(asked)
    echo = {"X-Debug-Authorization": key}
    if asked.method != "GET":
        return Reply(422, json.dumps({"error": f"cannot accept {asked.headers.get('Authorization')}"}).encode())
    pack = {"id": 1, "slug": "corporate-headshots", "title": f"Corporate {key}", "base_tune_id": 1504944}
    if asked.path == "/packs":
        return Reply(200, json.dumps([pack]).encode(), headers=echo)
    if asked.path.startswith("/p/"):
        return as_json({**pack, "prompts_per_class": {key: [{"id": 5}]}})
    if asked.path == "/prompts" and "before_id" not in asked.query:
        text = f"<lora:690204:1> ohwx man holding a sign that says {key}"
        return Reply(200, json.dumps([{"id": 5, "text": text, "pack_id": 1, "tune_id": 690204}]).encode(), headers=echo)
    return as_json([])


MODES: dict[str, Callable[[Asked], Reply]] = {
    "401 quoting the header": lambda a: as_json({"error": f"invalid {a.headers.get('Authorization')}"}, 401),
    "422 field errors": lambda a: as_json({"token": [f"{key_of(a)} is not valid here"]}, 422),
    "500 with the bare key": lambda a: as_json({"message": f"upstream said no to {key_of(a)}"}, 500),
    "html error page": lambda a: Reply(
        502,
        f"<html><body><h1>502</h1><pre>Authorization: Bearer {key_of(a)}\nreferer: /?k={quote(key_of(a))}</pre>"
        "</body></html>".encode(),
        "text/html",
    ),
    "url-encoded": lambda a: as_json({"error": f"GET /packs?api_key={quote(key_of(a), safe='')} refused"}, 403),
    "json escapes": lambda a: Reply(401, ('{"error": ' + escaped(f"bad key {key_of(a)}") + "}").encode()),
    "a 200 that is not JSON": lambda a: Reply(200, f"<p>Welcome, {key_of(a)}</p>".encode(), "text/html"),
    "the data itself": data,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    with_packs(tmp_path)
    return tmp_path


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_key_echoed_by_the_server_is_never_shown(project: Path, mode: str) -> None:
    outputs = []
    with Hostile(MODES[mode]) as server:
        point_at(project, server.url)
        for command in COMMANDS:
            env = {"K": CANARY, "PACKSYNC_RETRY_ATTEMPTS": "2", "PACKSYNC_RETRY_MAX_DELAY": "0.05"}
            for log in ("", "trace"):
                done = run_packsync(*command, cwd=project, env={**env, "PACKSYNC_LOG": log})
                assert "Traceback" not in done.err, (command, done.err)
                outputs.append(done.out + done.err)
        assert server.asked, "nothing was asked"
    joined = "\n".join(outputs)
    for form in (CANARY, quote(CANARY), quote(CANARY, safe=""), "CANARY"):
        assert form not in joined, (mode, form)
    assert "[redacted]" in joined, mode  # the answer was shown, with the key blanked
    for path in project.rglob("*"):
        if path.is_file():
            assert b"CANARY" not in path.read_bytes(), path


def test_another_bearer_token_in_an_error_is_blanked_too(project: Path) -> None:
    answer = as_json({"error": f"token Bearer {OTHER} has expired"}, 401)
    with Hostile(lambda asked: answer) as server:
        point_at(project, server.url)
        done = run_packsync("plan", cwd=project, env={"K": CANARY})
    assert done.code == 1
    assert done.err.strip() == "packsync: error: GET /packs: 401 token Bearer [redacted] has expired"
