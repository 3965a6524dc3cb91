"""A setting in the environment that cannot be used is one clear line naming the variable,
exit 1, no traceback, and nothing is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from packsync.astria.connect import env_number, max_list_items, retry_policy, timeouts
from packsync.astria.errors import ConfigError
from tests.conftest import run_packsync, with_packs
from tests.reliability.hostile import Hostile, as_json

COMMANDS = (["plan"], ["apply", "--auto-approve"], ["packs"], ["stats"], ["import", "--all"])

# variable, a value it cannot take, the message
BAD = [
    ("PACKSYNC_RETRY_ATTEMPTS", "eight", "PACKSYNC_RETRY_ATTEMPTS must be a whole number, 1 or more; it is 'eight'"),
    ("PACKSYNC_RETRY_MAX_DELAY", "soon", "PACKSYNC_RETRY_MAX_DELAY must be a number of seconds, 0 or more"),
    ("PACKSYNC_READ_TIMEOUT", "45s", "PACKSYNC_READ_TIMEOUT must be a number of seconds, greater than 0; it is '45s'"),
    ("PACKSYNC_REQUEST_TIMEOUT", "2 min", "PACKSYNC_REQUEST_TIMEOUT must be a number of seconds, greater than 0"),
    ("PACKSYNC_MAX_LIST_ITEMS", "many", "PACKSYNC_MAX_LIST_ITEMS must be a whole number, 1 or more"),
    ("ASTRIA_WORKSPACE_ID", "wörkspace", "ASTRIA_WORKSPACE_ID must be printable ASCII"),
    ("ASTRIA_WORKSPACE_ID", "42\nX-Injected: 1", "ASTRIA_WORKSPACE_ID must be printable ASCII"),
    ("K", "sk-clé-1234", "the API key in K has characters other than printable ASCII"),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    with_packs(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("variable", "value", "message"), BAD, ids=[f"{v}={x!r}" for v, x, _ in BAD])
def test_an_unusable_setting_is_one_line_naming_it(project: Path, variable: str, value: str, message: str) -> None:
    with Hostile(lambda asked: as_json([])) as server:
        (project / "packsync.yaml").write_text(
            f"default_target: t\ntargets:\n  t: {{url: '{server.url}', key_env: K}}\n"
        )
        for command in COMMANDS:
            done = run_packsync(*command, cwd=project, env={"K": "key", variable: value})
            assert done.code == 1, (command, done.out, done.err)
            lines = done.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"packsync: error: {message}"), (command, done.err)
            assert "sk-clé" not in done.err
        assert server.asked == [], "something was sent"


def test_an_unusable_lock_timeout_is_one_line_naming_it(project: Path) -> None:
    with Hostile(lambda asked: as_json([])) as server:
        (project / "packsync.yaml").write_text(
            f"default_target: t\ntargets:\n  t: {{url: '{server.url}', key_env: K}}\n"
        )
        done = run_packsync("apply", "--auto-approve", cwd=project, env={"K": "key", "PACKSYNC_LOCK_TIMEOUT": "ten"})
        assert server.asked == []
    assert done.code == 1
    assert done.err.strip().splitlines() == [
        "packsync: error: PACKSYNC_LOCK_TIMEOUT must be a number of seconds, 0 or more; it is 'ten'"
    ]


def test_a_workspace_id_in_the_project_file_is_checked_too(project: Path) -> None:
    (project / "packsync.yaml").write_text(
        "default_target: t\ntargets:\n  t: {url: 'http://127.0.0.1:9', key_env: K, workspace_id: 'é'}\n"
    )
    done = run_packsync("plan", cwd=project, env={"K": "key"})
    assert done.code == 1
    assert done.err.startswith("packsync: error: targets.t.workspace_id must be printable ASCII"), done.err


@pytest.mark.parametrize("value", ["", "abc", "nan", "inf", "-1", "0", "1e999", "9" * 400])
def test_each_number_is_checked_for_its_range(value: str) -> None:
    env = {"PACKSYNC_READ_TIMEOUT": value, "PACKSYNC_REQUEST_TIMEOUT": value, "PACKSYNC_MAX_LIST_ITEMS": value}
    if value == "":
        assert timeouts(env).read == 45 and timeouts(env).total == 120 and max_list_items(env) == 100_000
        return
    for read in (timeouts, max_list_items):
        with pytest.raises(ConfigError, match="PACKSYNC_"):
            read(env)


def test_good_values_are_taken() -> None:
    env = {
        "PACKSYNC_RETRY_ATTEMPTS": " 3 ",
        "PACKSYNC_RETRY_MAX_DELAY": "0",
        "PACKSYNC_READ_TIMEOUT": "2.5",
        "PACKSYNC_REQUEST_TIMEOUT": "7",
        "PACKSYNC_MAX_LIST_ITEMS": "500",
    }
    policy = retry_policy(env)
    assert (policy.attempts, policy.max_delay, policy.max_retry_after) == (3, 0, 0)
    assert (timeouts(env).read, timeouts(env).total) == (2.5, 7)
    assert max_list_items(env) == 500
    assert env_number("X", 1.5, least=0, env={"X": "0"}) == 0
    with pytest.raises(ConfigError, match=r"X must be a whole number, 1 or more; it is '2\.5'"):
        env_number("X", 1, least=1, whole=True, env={"X": "2.5"})
