"""The reference tune preflight end to end: plan and apply against the sandbox over HTTP on
127.0.0.1, in its default and its realistic mode (where a tune past expires_at answers 404)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from click.testing import CliRunner

from packsync.cli import cli
from packsync.sandbox.store import now_iso
from tests.engine.conftest import Project
from tests.reliability.hostile import Asked, Hostile, Reply, as_json, forward
from tests.sandbox.support import in_sandbox

MORE_MEN = """\
slug: more-men
title: More Men
model: { base_tune_id: 1504944, model_type: lora }
classes:
  man: { tune_id: 690204 }
prompts:
  - key: lighthouse
    text: "weathered lighthouse keeper portrait of {{subject}} on a stormy pier, oil painting"
    seed: 77
"""
DAY = 86400.0
LIFETIME = 30 * DAY  # the sandbox's expires_at is created_at + 30 days


def class_line(project: Project, name: str, line: str) -> int:
    """The 1-based line of ``line`` in pack file ``name``."""
    lines = project.pack_file(name).read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.startswith(line))


def expires_in(project: Project, tune_id: int, seconds: float) -> None:
    """Make a seeded reference tune one without auto_extend that expires ``seconds`` from now."""
    with project.sandbox.http() as http:
        http.patch(f"/tunes/{tune_id}", json={"tune": {"auto_extend": False}}).raise_for_status()
    created = now_iso(time.time() + seconds - LIFETIME)
    in_sandbox(
        project.sandbox,
        lambda store: store.db.execute("UPDATE tunes SET created_at = ? WHERE id = ?", (created, tune_id)),
    )


def only_reads_since(project: Project, start: int) -> bool:
    log = project.sandbox.requests()["log"][start:]
    return bool(log) and all(entry["method"] == "GET" for entry in log)


def test_healthy_tunes_are_read_once_each_and_the_plan_says_nothing_of_them(project: Project, mode: str) -> None:
    project.pack_file("more-men.yaml").write_text(MORE_MEN)  # shares 690204 with corporate-headshots
    done = project.plan()
    assert done.code == 0, done.out + done.err
    assert "Reference tune" not in done.out
    reads = [e["path"] for e in project.sandbox.requests()["log"] if e["path"].startswith("/tunes/")]
    assert sorted(reads) == ["/tunes/690204", "/tunes/690205", "/tunes/690310", "/tunes/690311"]
    assert project.plan_json()["preflight"] == []


def test_a_missing_tune_fails_plan_with_the_class_line_and_apply_sends_nothing(project: Project, mode: str) -> None:
    project.edit("corporate-headshots.yaml", "man: { tune_id: 690204 }", "man: { tune_id: 123456 }")
    line = class_line(project, "corporate-headshots.yaml", "  man:")
    done = project.plan()
    assert done.code == 1, done.out + done.err
    assert re.search(rf"ERROR \S*packs/corporate-headshots\.yaml:{line} \(corporate-headshots, class man\):", done.out)
    assert "reference tune 123456 does not exist on the account" in done.out
    assert "packsync: error: 1 reference tune problem(s)" in done.err
    start = len(project.sandbox.requests()["log"])
    applied = project.apply()
    assert applied.code == 1 and "123456 does not exist" in applied.out
    assert only_reads_since(project, start)


def test_a_tune_named_otherwise_than_its_class_is_a_warning_showing_both(project: Project, mode: str) -> None:
    # a warning: an account's tune may bear a name no class can (import renames those)
    project.sandbox.seed_tunes({"id": 690999, "name": "Man"})
    project.edit("corporate-headshots.yaml", "man: { tune_id: 690204 }", "man: { tune_id: 690999 }")
    done = project.plan("--format", "json")
    assert done.code == 0
    (finding,) = json.loads(done.out)["preflight"]
    assert finding["severity"] == "warning" and finding["tune_id"] == 690999
    assert "is named 'Man', not 'man' (the class)" in finding["message"]
    line = class_line(project, "corporate-headshots.yaml", "  man:")
    assert [(u["class"], u["source"]["line"]) for u in finding["uses"]] == [("man", line)]


def test_a_tune_expiring_soon_warns_once_in_every_format(project: Project, mode: str) -> None:
    project.pack_file("more-men.yaml").write_text(MORE_MEN)
    expires_in(project, 690204, 3.5 * DAY)
    done = project.plan()
    assert done.code == 0, done.out + done.err
    assert done.out.count("WARNING") == 1
    warning = done.out[done.out.index("WARNING") :]
    assert "(corporate-headshots, class man)" in warning and "(more-men, class man)" in warning
    assert "reference tune 690204 (class man) expires on" in warning and "(3 days left)" in warning
    assert "auto_extend" in warning
    markdown = project.plan("--format", "markdown")
    assert markdown.code == 0 and markdown.out.count("Reference tune warning") == 1
    out = project.root / "plan.json"
    assert project.plan("--out", str(out)).code == 0
    comment = CliRunner().invoke(cli, ["comment", str(out)], env={"NO_COLOR": "1"})  # the pull request's view
    assert comment.exit_code == 0 and comment.stdout.count("Reference tune warning") == 1
    (finding,) = project.plan_json()["preflight"]
    assert (finding["severity"], finding["tune_id"], finding["days_left"], len(finding["uses"])) == (
        "warning",
        690204,
        3,
        2,
    )


def test_an_expired_tune_is_an_error_in_both_modes(project: Project, mode: str) -> None:
    expires_in(project, 690311, -2 * DAY)
    done = project.plan()
    assert done.code == 1, done.out + done.err
    # the default sandbox still serves it, past expires_at; the realistic one answers 404
    said = "reference tune 690311 expired on" if mode == "default" else "reference tune 690311 does not exist"
    assert said in done.out
    assert "30 days after training unless auto_extend" in done.out
    start = len(project.sandbox.requests()["log"])
    assert project.apply().code == 1
    assert only_reads_since(project, start)


def test_a_saved_plan_has_its_tunes_read_again_by_apply(project: Project, mode: str) -> None:
    out = project.root / "plan.json"
    assert project.plan("--out", str(out)).code == 0
    expires_in(project, 690205, -1 * DAY)  # after the review
    start = len(project.sandbox.requests()["log"])
    done = project.apply(str(out))
    assert done.code == 1, done.out + done.err
    assert "690205" in done.out and "packsync: error: 1 reference tune problem(s)" in done.err
    assert only_reads_since(project, start)


def test_a_saved_plan_is_never_refused_for_what_its_file_says_of_the_tunes(project: Project, mode: str) -> None:
    expires_in(project, 690205, -1 * DAY)
    out = project.root / "plan.json"
    assert project.plan("--out", str(out)).code == 1
    assert json.loads(out.read_text())["preflight"][0]["tune_id"] == 690205
    created = now_iso()  # fixed after the review: a tune 30 days from its end
    in_sandbox(project.sandbox, lambda s: s.db.execute("UPDATE tunes SET created_at = ? WHERE id = 690205", (created,)))
    start = len(project.sandbox.requests()["log"])
    done = project.apply(str(out))
    assert "reference tune" not in done.err and "Reference tune" not in done.out
    assert any(e["method"] == "POST" for e in project.sandbox.requests()["log"][start:])  # it went ahead
    assert done.code == 0, done.out + done.err


def _rewritten(upstream: str, tune: Any) -> Any:
    def answer(asked: Asked) -> Reply:
        if asked.method == "GET" and asked.path.rstrip("/") == "/tunes/690204":
            return tune if isinstance(tune, Reply) else as_json(tune)
        status, data = forward(upstream, asked)
        return as_json(data, status)

    return answer


BAD_ANSWERS = {
    "a list": ([{"id": 690204, "name": "man"}], "answered a list, not a tune"),
    "another tune": ({"id": 690205, "name": "man"}, "answered a tune with id 690205"),
    "an id as text": ({"id": "690204", "name": "man"}, "answered a tune with id '690204'"),
    "an html page": (Reply(200, b"<html>maintenance</html>", "text/html"), "something that is not a tune"),
    "null": (None, "answered nothing, not a tune"),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
def test_an_answer_that_is_not_the_tune_is_an_error_naming_it(project: Project, mode: str, case: str) -> None:
    tune, said = BAD_ANSWERS[case]
    with Hostile(_rewritten(project.sandbox.url, tune)) as server:
        (project.root / "packsync.yaml").write_text(
            f"default_target: test\ntargets:\n  test: {{url: '{server.url}', key_env: PACKSYNC_TEST_KEY}}\n"
        )
        done = project.plan()
    assert done.code == 1, done.out + done.err
    assert "Traceback" not in done.err and said in done.out and "reference tune 690204" in done.out


@pytest.mark.parametrize("expires_at", ["soon", 1764700000, None, {"at": "tomorrow"}, "2026-02-30T00:00:00Z"])
def test_an_unreadable_expires_at_is_unknown_never_a_crash(project: Project, mode: str, expires_at: Any) -> None:
    tune = {"id": 690204, "name": "man", "auto_extend": False, "expires_at": expires_at}
    with Hostile(_rewritten(project.sandbox.url, tune)) as server:
        (project.root / "packsync.yaml").write_text(
            f"default_target: test\ntargets:\n  test: {{url: '{server.url}', key_env: PACKSYNC_TEST_KEY}}\n"
        )
        done = project.plan()
    assert done.code == 0, done.out + done.err
    assert "Reference tune" not in done.out
