"""The comment builder and the GitHub sync, against a fake GitHub API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from packsync.github import COMMENT_MARKER, GitHub, GitHubError, build_comments, drift_issue_body
from packsync.plan.formats import MARKDOWN_LIMIT, render_markdown
from packsync.plan.model import Change, LiveRef, PackPlan, Plan, Source, TemplateSpec
from tests.conftest import run_packsync


def big_plan(packs: int, per_pack: int, text_words: int = 30) -> Plan:
    plan = Plan(target="production")
    for p in range(packs):
        pack = PackPlan(slug=f"pack-{p:03d}", title=f"Pack {p}", file=f"packs/pack-{p:03d}.yaml", live_id=p + 1)
        for i in range(per_pack):
            text = f"<lora:10:1> ohwx man <i>{i}</i> " + " ".join(f"word{w}" for w in range(text_words))
            spec = TemplateSpec("man", 10, f"key-{i}", text, (("seed", i),), Source(pack.file, 10 + i))
            old = LiveRef(10_000 * p + i, "man", text.replace("word3", "word4"), (("seed", i + 1),), "fp")
            pack.changes.append(Change(kind="replace", create=spec, remove=old))
        plan.packs.append(pack)
    return plan


def test_500_packs_split_into_comments_under_the_limit_on_pack_boundaries() -> None:
    plan = big_plan(500, 2, text_words=12)
    comments = build_comments(plan)
    assert len(comments) > 1
    for index, body in enumerate(comments, start=1):
        assert len(body) <= MARKDOWN_LIMIT
        assert body.startswith(f"{COMMENT_MARKER} target=production part={index}/{len(comments)} -->")
        assert body.count("<details>") == body.count("</details>")  # never split inside markup
        for section in body.split("<details>")[1:]:
            assert section.count("</details>") == 1
    shown = [slug for body in comments for slug in re.findall(r"<summary><b>(pack-\d+)</b>", body)]
    assert shown == [f"pack-{p:03d}" for p in range(500)]  # every pack, in order, once


def test_beyond_the_most_comments_the_rest_is_summarised_by_name() -> None:
    comments = build_comments(big_plan(500, 6))
    assert len(comments) == 20
    shown = [slug for body in comments for slug in re.findall(r"<summary><b>(pack-\d+)</b>", body)]
    listed = re.search(r"(\d+) pack\(s\) too large to show here", comments[-1])
    assert listed is not None and len(shown) + int(listed.group(1)) == 500
    assert all(len(c) <= MARKDOWN_LIMIT for c in comments)


def test_a_small_plan_is_one_comment() -> None:
    comments = build_comments(big_plan(2, 2))
    assert len(comments) == 1
    assert "part=1/1" in comments[0]


def test_a_pack_too_large_for_any_comment_is_summarised() -> None:
    plan = big_plan(3, 2)
    plan.packs[1] = big_plan(1, 400, text_words=60).packs[0]
    plan.packs[1].slug = "huge"
    comments = build_comments(plan)
    assert all(len(c) <= MARKDOWN_LIMIT for c in comments)
    assert "1 pack(s) too large to show here (huge)" in comments[-1]


class FakeGitHub:
    """Issue comments and issues, in memory, behind the REST paths packsync uses."""

    def __init__(self) -> None:
        self.comments: dict[int, dict[str, Any]] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.next_id = 1000
        self.calls: list[str] = []
        self.pulls: dict[str, list[dict[str, Any]]] = {}  # merge commit -> pull requests
        self.runs: dict[str, list[dict[str, Any]]] = {}  # head sha -> successful runs
        self.artifacts: dict[int, list[dict[str, Any]]] = {}  # run id -> artifacts
        self.blobs: dict[int, bytes] = {}  # artifact id -> zip

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "blobs.github.test":
            assert request.headers["authorization"] == "Bearer gh-token"
        path, method = request.url.path, request.method
        self.calls.append(f"{method} {path}")
        body = json.loads(request.content) if request.content else {}
        page = int(request.url.params.get("page", 1))
        if m := re.fullmatch(r"/repos/o/r/issues/(\d+)/comments", path):
            if method == "GET":
                items = [c for c in self.comments.values() if c["issue"] == int(m.group(1))]
                return httpx.Response(200, json=items[(page - 1) * 100 : page * 100])
            self.next_id += 1
            self.comments[self.next_id] = {"id": self.next_id, "issue": int(m.group(1)), "body": body["body"]}
            return httpx.Response(201, json=self.comments[self.next_id])
        if m := re.fullmatch(r"/repos/o/r/issues/comments/(\d+)", path):
            cid = int(m.group(1))
            if method == "DELETE":
                del self.comments[cid]
                return httpx.Response(204)
            self.comments[cid]["body"] = body["body"]
            return httpx.Response(200, json=self.comments[cid])
        if path == "/repos/o/r/issues":
            if method == "GET":
                label = request.url.params.get("labels")
                items = [i for i in self.issues.values() if i["state"] == "open" and label in i["labels"]]
                return httpx.Response(200, json=items[(page - 1) * 100 : page * 100])
            self.next_id += 1
            issue = {"number": self.next_id, "state": "open", **body}
            self.issues[self.next_id] = issue
            return httpx.Response(201, json=issue)
        if m := re.fullmatch(r"/repos/o/r/commits/([\w-]+)/pulls", path):
            return httpx.Response(200, json=self.pulls.get(m.group(1), []))
        if path == "/repos/o/r/actions/runs":
            assert request.url.params["event"] == "pull_request" and request.url.params["status"] == "success"
            return httpx.Response(200, json={"workflow_runs": self.runs.get(request.url.params["head_sha"], [])})
        if m := re.fullmatch(r"/repos/o/r/actions/runs/(\d+)/artifacts", path):
            return httpx.Response(200, json={"artifacts": self.artifacts.get(int(m.group(1)), [])})
        if m := re.fullmatch(r"/repos/o/r/actions/artifacts/(\d+)/zip", path):
            return httpx.Response(302, headers={"Location": f"https://blobs.github.test/{m.group(1)}"})
        if request.url.host == "blobs.github.test":
            return httpx.Response(200, content=self.blobs[int(path.strip("/"))])
        if m := re.fullmatch(r"/repos/o/r/issues/(\d+)", path):
            self.issues[int(m.group(1))].update(body)
            return httpx.Response(200, json=self.issues[int(m.group(1))])
        return httpx.Response(404, json={"message": "Not Found"})

    def github(self) -> GitHub:
        return GitHub("o/r", "gh-token", "https://api.github.test", httpx.MockTransport(self.handler))


def test_sticky_comments_are_updated_in_place_then_trimmed() -> None:
    fake = FakeGitHub()
    fake.comments[1] = {"id": 1, "issue": 7, "body": "a human's comment"}
    github = fake.github()
    first = build_comments(big_plan(500, 6))
    github.sync_comments(7, first, "production")
    ids = sorted(c["id"] for c in fake.comments.values() if c["body"].startswith(COMMENT_MARKER))
    assert len(ids) == len(first)
    second = build_comments(big_plan(3, 2))
    log = github.sync_comments(7, second, "production")
    mine = [c for c in fake.comments.values() if c["body"].startswith(COMMENT_MARKER)]
    assert [c["id"] for c in mine] == ids[:1]  # the first comment was edited, not re-created
    assert mine[0]["body"] == second[0]
    assert sum(line.startswith("deleted") for line in log) == len(first) - 1
    assert fake.comments[1]["body"] == "a human's comment"  # never touched
    assert github.sync_comments(7, second, "production") == [f"comment {ids[0]} unchanged"]


def test_comments_of_another_target_are_left_alone() -> None:
    fake = FakeGitHub()
    github = fake.github()
    staging = big_plan(1, 1)
    staging.target = "staging"
    github.sync_comments(7, build_comments(staging), "staging")
    github.sync_comments(7, build_comments(big_plan(1, 1)), "production")
    assert len(fake.comments) == 2


def test_drift_issue_is_opened_updated_and_closed() -> None:
    fake = FakeGitHub()
    github = fake.github()
    plan = big_plan(2, 1)
    body = drift_issue_body(plan, render_markdown(plan))
    assert github.sync_drift_issue("production", body).startswith("opened issue #")
    assert github.sync_drift_issue("production", body + "\nmore").startswith("updated issue #")
    assert len(fake.issues) == 1
    assert github.sync_drift_issue("production", None).startswith("closed issue #")
    (issue,) = fake.issues.values()
    assert issue["state"] == "closed"
    assert github.sync_drift_issue("production", None) == "no drift, no open drift issue"


def test_comment_command_writes_files(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    big_plan(500, 6).save(plan_file)
    done = run_packsync("comment", str(plan_file), "--out-dir", str(tmp_path / "out"))
    assert done.code == 0, done.err
    files = sorted((tmp_path / "out").glob("comment-*.md"))
    assert len(files) > 1
    assert all(len(f.read_text()) <= MARKDOWN_LIMIT for f in files)


def test_drift_command_exit_codes(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    big_plan(1, 1).save(plan_file)
    assert run_packsync("drift", str(plan_file)).code == 2
    Plan(target="production").save(plan_file)
    done = run_packsync("drift", str(plan_file))
    assert done.code == 0 and "No drift" in done.out
    done = run_packsync("drift", str(plan_file), "--post", env={"GITHUB_TOKEN": "", "GITHUB_REPOSITORY": ""})
    assert done.code == 1 and "GITHUB_TOKEN and GITHUB_REPOSITORY not set" in done.err


def zipped_plan(plan: Plan) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plan.json", json.dumps(plan.to_json()))
    return buffer.getvalue()


def test_the_plan_reviewed_on_the_merged_pull_request_is_downloaded(tmp_path: Path) -> None:
    from packsync.github import artifact_name, download_reviewed_plan

    fake = FakeGitHub()
    fake.pulls["merge1"] = [{"number": 12, "head": {"sha": "head1"}}]
    fake.runs["head1"] = [{"id": 5}, {"id": 6}]
    fake.artifacts[5] = [{"id": 50, "name": "something-else"}]
    fake.artifacts[6] = [
        {"id": 60, "name": artifact_name("staging", "head1")},
        {"id": 61, "name": artifact_name("production", "head1"), "expired": False},
    ]
    reviewed = big_plan(2, 1)
    fake.blobs[61] = zipped_plan(reviewed)
    out = tmp_path / "plan.json"
    found = download_reviewed_plan(fake.github(), "merge1", "production", out)
    assert "pull request #12" in found and "run 6" in found
    assert Plan.load(out).to_json() == reviewed.to_json()


def test_no_reviewed_plan_is_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from packsync.github import GitHubError, download_reviewed_plan

    fake = FakeGitHub()
    with pytest.raises(GitHubError, match="did not come from a pull request"):
        download_reviewed_plan(fake.github(), "direct-push", "production", tmp_path / "p.json")
    fake.pulls["merge2"] = [{"number": 13, "head": {"sha": "head2"}}]
    with pytest.raises(GitHubError, match="nothing reviewed to apply"):
        download_reviewed_plan(fake.github(), "merge2", "production", tmp_path / "p.json")


def test_comment_out_dir_holds_exactly_this_runs_comments(tmp_path: Path) -> None:
    plan_file, out = tmp_path / "plan.json", tmp_path / "out"
    big_plan(500, 6).save(plan_file)
    assert run_packsync("comment", str(plan_file), "--out-dir", str(out)).code == 0
    assert len(list(out.glob("comment-*.md"))) > 1
    (out / "keep.txt").write_text("not ours")
    big_plan(1, 1).save(plan_file)
    done = run_packsync("comment", str(plan_file), "--out-dir", str(out))
    assert done.code == 0, done.err
    assert sorted(p.name for p in out.iterdir()) == ["comment-1.md", "keep.txt"]
    assert "removed" in done.out


def test_drift_out_dir_has_drift_md_exactly_when_there_is_drift(tmp_path: Path) -> None:
    plan_file, out = tmp_path / "plan.json", tmp_path / "out"
    big_plan(1, 1).save(plan_file)
    done = run_packsync("drift", str(plan_file), "--out-dir", str(out))
    assert done.code == 2, done.err
    body = (out / "drift.md").read_text()
    assert "pack-000" in body and f"wrote {out / 'drift.md'}" in done.out
    Plan(target="production").save(plan_file)
    done = run_packsync("drift", str(plan_file), "--out-dir", str(out))
    assert done.code == 0 and "No drift" in done.out
    assert not (out / "drift.md").exists()
    (tmp_path / "file").write_text("")
    done = run_packsync("drift", str(plan_file), "--out-dir", str(tmp_path / "file" / "sub"))
    assert done.code == 1 and "cannot write to" in done.err and "Traceback" not in done.err


def test_an_error_that_echoes_the_token_never_shows_it() -> None:
    token = "ghs_SECRET_token_1234"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": f"Bad credentials: {request.headers['authorization']} ({token})"})

    github = GitHub("o/r", token, "https://api.github.test", httpx.MockTransport(handler))
    with pytest.raises(GitHubError) as caught:
        github.sync_comments(7, ["body"], "production")
    assert "SECRET" not in str(caught.value)
    assert "Bad credentials: Bearer [redacted] ([redacted])" in str(caught.value)
