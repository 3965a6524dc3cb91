"""A server that answers nonsense: a clear error, exit 1, no traceback, nothing partial applied."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import run_packsync, with_packs

Answer = Callable[[str, str], tuple[int, str, bytes]]


def serve(answer: Answer) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            status, kind, body = answer(self.command, self.path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _reply

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def as_json(data: Any) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(data).encode()


CASES: dict[str, Answer] = {
    "html error page": lambda m, p: (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "html with 200": lambda m, p: (200, "text/html", b"<html>maintenance</html>"),
    "malformed json": lambda m, p: (200, "application/json", b'[{"id": 1, "slug": '),
    "an object instead of a list": lambda m, p: as_json({"packs": []}),
    "ids that are not integers": lambda m, p: as_json([{"id": "abc", "slug": "x"}]),
    "items without ids": lambda m, p: as_json([{"slug": "corporate-headshots"}]),
    "a list that never ends": lambda m, p: as_json(
        [{"id": 1, "slug": "corporate-headshots"}] if p.startswith("/packs") else endless_page(p)
    ),
}


def endless_page(path: str) -> list[dict[str, Any]]:
    """A full page of ids just below the cursor, however far the client reads."""
    before = int(parse_qs(urlsplit(path).query).get("before_id", ["1000000000"])[0])
    return [{"id": before - 1 - i} for i in range(120)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    with_packs(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_answers_give_one_clear_error(project: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server, url = serve(CASES[case])
    try:
        (project / "packsync.yaml").write_text(f"default_target: bad\ntargets:\n  bad: {{url: '{url}', key_env: K}}\n")
        for command in (["plan"], ["apply", "--auto-approve"], ["packs"], ["import", "--all"], ["stats"]):
            env = {
                "K": "key",
                "PACKSYNC_RETRY_ATTEMPTS": "2",
                "PACKSYNC_RETRY_MAX_DELAY": "0.05",
                "PACKSYNC_MAX_LIST_ITEMS": "2000",  # the default bound: tests/reliability/test_bounded_waits.py
            }
            done = run_packsync(*command, cwd=project, env=env)
            assert done.code == 1, (case, command, done.out, done.err)
            assert done.err.startswith("packsync: error: "), (case, command, done.err)
            assert "Traceback" not in done.err and "internal error" not in done.err, (case, command, done.err)
    finally:
        server.shutdown()
