"""PACKSYNC_LOG: packsync's own request lines at info, library internals only with trace, never a key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from packsync.astria.settings import Secret
from packsync.logs import keep_secret, redact
from tests.conftest import run_packsync
from tests.sandbox_helpers import ThreadSandbox

CANARY = "sk-live-LOGCANARY-77a1"


def project_for(tmp_path: Path, sandbox: ThreadSandbox) -> Path:
    (tmp_path / "packs").mkdir()
    (tmp_path / "packsync.yaml").write_text(
        f"targets:\n  test:\n    url: {sandbox.url}\n    key_env: PACKSYNC_TEST_KEY\n", encoding="utf-8"
    )
    return tmp_path


def logged(tmp_path: Path, sandbox: ThreadSandbox, level: str) -> str:
    done = run_packsync(
        "packs", cwd=project_for(tmp_path, sandbox), env={"PACKSYNC_LOG": level, "PACKSYNC_TEST_KEY": CANARY}
    )
    assert done.code == 0, done.err
    assert CANARY not in done.out + done.err
    return done.err


REQUEST_LINE = re.compile(r"^packsync INFO packsync\.client: GET /packs\S* -> 200 \(\d+ ms\)$", re.M)


@pytest.mark.parametrize("level", ["info", "INFO", "debug"])
def test_request_lines_without_library_internals(tmp_path: Path, sandbox: ThreadSandbox, level: str) -> None:
    err = logged(tmp_path, sandbox, level)
    assert REQUEST_LINE.search(err), err
    assert "httpcore" not in err and "httpx" not in err


def test_trace_adds_the_http_libraries_lines(tmp_path: Path, sandbox: ThreadSandbox) -> None:
    err = logged(tmp_path, sandbox, "trace")
    assert REQUEST_LINE.search(err)
    assert "packsync DEBUG httpcore" in err


def test_an_unknown_level_is_said_and_read_as_info(tmp_path: Path, sandbox: ThreadSandbox) -> None:
    err = logged(tmp_path, sandbox, "loud")
    assert "PACKSYNC_LOG='loud' is not one of info, debug, trace; using info" in err
    assert REQUEST_LINE.search(err)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("Authorization: Bearer sk-123", "Authorization: Bearer [redacted]"),
        ("headers=[(b'authorization', b'Bearer sk-abc')]", "headers=[(b'authorization', b'Bearer [redacted]')]"),
        ("{'Authorization': 'sk-9'}", "{'Authorization': '[redacted]'}"),
        ("(b'Authorization', b'sk-zz')", "(b'Authorization', b'[redacted]')"),
        ("GET /p/1 -> 200 (3 ms)", "GET /p/1 -> 200 (3 ms)"),
    ],
)
def test_library_lines_are_redacted(line: str, shown: str) -> None:
    assert redact(line) == shown


def test_a_kept_secret_is_blanked_in_every_line_whatever_surrounds_it() -> None:
    keep_secret(Secret("sk_logged_7f3a9c1e").forms())
    line = "receive_response_headers.complete return_value=[(b'X-Echo', b'sk_logged_7f3a9c1e')]"
    assert redact(line) == "receive_response_headers.complete return_value=[(b'X-Echo', b'[redacted]')]"
    assert redact("k=sk_logged_7f3a9c1e&x") == "k=[redacted]&x"
