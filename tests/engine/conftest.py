"""A project whose target is the test sandbox, and helpers to run plan and apply on it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from packsync.cli import cli
from packsync.commands.preview import TIME_SCALE_ENV
from packsync.sandbox.realism import REALISTIC
from tests.conftest import with_packs
from tests.sandbox_helpers import KEY, ThreadSandbox

SLUGS_ALL = ("corporate-headshots", "pet-portraits")

REFERENCE_TUNES = [
    {"id": 690204, "name": "man"},
    {"id": 690205, "name": "woman"},
    {"id": 690310, "name": "dog"},
    {"id": 690311, "name": "cat"},
    {"id": 700001, "name": "man"},
]


@dataclass
class Done:
    code: int
    out: str
    err: str


class Project:
    def __init__(self, root: Path, sandbox: ThreadSandbox) -> None:
        self.root = root
        self.sandbox = sandbox
        self.runner = CliRunner()

    def run(self, *args: str, env: dict[str, str] | None = None) -> Done:
        result = self.runner.invoke(
            cli, [*args, "--project", str(self.root)], env={"PACKSYNC_TEST_KEY": KEY, "NO_COLOR": "1", **(env or {})}
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Done(result.exit_code, result.stdout, result.stderr)

    def plan(self, *args: str) -> Done:
        return self.run("plan", *args)

    def apply(self, *args: str) -> Done:
        return self.run("apply", "--auto-approve", *args)

    def plan_json(self, *args: str) -> dict[str, Any]:
        done = self.plan("--format", "json", *args)
        assert done.code == 0, done.err
        data: dict[str, Any] = json.loads(done.out)
        return data

    def pack_file(self, name: str) -> Path:
        return self.root / "packs" / name

    def edit(self, name: str, old: str, new: str, count: int = 1) -> None:
        path = self.pack_file(name)
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, count))

    def templates(self, slug: str) -> list[dict[str, Any]]:
        with self.sandbox.http() as http:
            pack = http.get(f"/p/{slug}").json()
            out: list[dict[str, Any]] = []
            before: int | None = None
            while True:
                params: dict[str, Any] = {"pack_id": pack["id"], "limit": 120}
                if before is not None:
                    params["before_id"] = before
                page = http.get("/prompts", params=params).json()
                if not page:
                    return out
                out += page
                before = page[-1]["id"]

    def templates_exist(self, slug: str) -> bool:
        with self.sandbox.http() as http:
            return http.get(f"/p/{slug}").status_code == 200

    def hand_made_pack(self) -> tuple[int, int]:
        """A pack made in the web UI, as no file declares it, with one template: (its id, the template's)."""
        with self.sandbox.http() as http:
            pack = http.post(
                "/packs", json={"pack": {"title": "Hand Made", "base_tune_id": 1, "model_type": "lora"}}
            ).json()
            mine = http.post(
                "/tunes/690204/prompts",
                json={"prompt": {"text": "<lora:690204:1> ohwx man, by hand", "pack_id": pack["id"]}},
            ).json()
        return int(pack["id"]), int(mine["id"])

    def api_requests(self) -> int:
        return int(self.sandbox.requests()["total"])


@pytest.fixture
def project(tmp_path: Path, sandbox: ThreadSandbox) -> Iterator[Project]:
    with_packs(tmp_path)
    (tmp_path / "packsync.yaml").write_text(
        f"default_target: test\ntargets:\n  test:\n    url: {sandbox.url}\n    key_env: PACKSYNC_TEST_KEY\n"
    )
    sandbox.seed_tunes(*REFERENCE_TUNES)
    sandbox.admin("DELETE", "requests")
    yield Project(tmp_path, sandbox)


def identities(templates: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    from packsync.desired.identity import identity

    return [identity(t["text"], t) for t in templates]


def assert_no_duplicates(project: Project, *slugs: str) -> None:
    for slug in slugs:
        found = identities(project.templates(slug))
        assert len(found) == len(set(found)), f"duplicates in {slug}"


# -- both sandbox modes, for the tests of preview and stats on the wire -------------------------

SCALE = 100  # the sandbox's clock and the preview's waits, both this many times faster: 5 s polls take 0.05 s


@pytest.fixture(params=["default", "realistic"])
def mode(request: pytest.FixtureRequest, sandbox: ThreadSandbox) -> Iterator[str]:
    """A test that asks for ``mode`` runs against both readings of the API: the default sandbox and the
    realistic one (sparse echo, gallery slugs, dedup, pack runs answered without ids whose prompts
    appear 10-180 s later, early polls answered 404/503, polls under 5 s apart 429, likes once, ...),
    on a clock SCALE times faster. The shared sandbox is back to the default after it."""
    realism = sorted(REALISTIC) if request.param == "realistic" else []
    sandbox.admin("POST", "settings", {"realism": realism, "time_scale": SCALE})
    try:
        yield request.param
    finally:
        sandbox.admin("POST", "settings", {"realism": [], "time_scale": 1})


def preview(project: Project, *args: str) -> Done:
    """``packsync preview`` with its waits scaled as the sandbox's clock is."""
    return project.run("preview", *args, env={TIME_SCALE_ENV: str(SCALE)})


def listed(http: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """A listing read by the test itself, waiting out the realistic mode's 429 (polled within 5 s) and 404/503."""
    for _ in range(100):
        answer = http.get(path, params={"limit": 120, **params})
        if answer.status_code == 200:
            found: list[dict[str, Any]] = answer.json()
            return found
        assert answer.status_code in (404, 429, 503), answer.text
        time.sleep(0.06)
    raise AssertionError(f"{path} did not answer")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def landed(project: Project, *tune_ids: int) -> dict[int, list[dict[str, Any]]]:
    """The prompts of each tune once the pack runs sent so far have landed (realistic: they land 10-180 s
    after the answer, which carries no ids; the clock is moved past that)."""
    project.sandbox.admin("POST", "clock", {"advance": 200})
    with project.sandbox.http() as http:
        return {tune_id: listed(http, f"/tunes/{tune_id}/prompts") for tune_id in tune_ids}
