"""GitHub: the plan as sticky pull-request comments, and one drift issue.

The comment builder splits a large plan into several comments on pack
boundaries (GitHub refuses a comment over 65,536 characters), each starting
with a hidden marker so that the next run finds and updates them in place
instead of adding more. The drift issue is found by its marker too: opened or
updated when the account drifted from the files, closed when it no longer does.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from packsync.astria.settings import Scrubber, Secret
from packsync.errors import PacksyncError
from packsync.plan.formats import MARKDOWN_LIMIT, markdown_head, markdown_sections, summary_line
from packsync.plan.model import Plan

COMMENT_MARKER = "<!-- packsync-plan"
DRIFT_MARKER = "<!-- packsync-drift"
MAX_PARTS = 20


def _marker(target: str, part: int, total: int) -> str:
    return f"{COMMENT_MARKER} target={target} part={part}/{total} -->"


def build_comments(plan: Plan, limit: int = MARKDOWN_LIMIT) -> list[str]:
    """The plan as one comment, or several split between packs, each at most ``limit`` characters."""
    room = limit - len(_marker(plan.target, MAX_PARTS, MAX_PARTS)) - 200  # marker and continuation line
    head = markdown_head(plan)
    rows = len(plan.changed_packs)
    while len(head) > room // 2 and rows > 0:  # an enormous table: show fewer rows
        rows //= 2
        head = markdown_head(plan, max_rows=rows)
    parts: list[str] = [head]
    summarised: list[str] = []
    for slug, section in markdown_sections(plan):
        if len(section) > room:
            summarised.append(slug)  # a single pack too large for any comment
            continue
        if len(parts[-1]) + len(section) > room:
            if len(parts) == MAX_PARTS:
                summarised.append(slug)
                continue
            parts.append(f"_packsync plan for `{plan.target}`, continued._\n\n")
        parts[-1] += section
    if summarised:
        note = (
            f"\n_{len(summarised)} pack(s) too large to show here ({', '.join(summarised[:20])}"
            f"{' ...' if len(summarised) > 20 else ''}); run `packsync plan` for the full plan._\n"
        )
        if len(parts[-1]) + len(note) > room:
            parts.append(note)
        else:
            parts[-1] += note
    total = len(parts)
    return [f"{_marker(plan.target, i, total)}\n{body}" for i, body in enumerate(parts, start=1)]


def drift_issue_body(plan: Plan, details: str) -> str:
    return (
        f"{DRIFT_MARKER} target={plan.target} -->\n"
        f"The account of target `{plan.target}` no longer matches the pack files. "
        f"{summary_line(plan)}\n\n"
        "Someone changed it outside a pull request (in the Astria web UI, say). Either apply the files "
        "again (`packsync apply`) or bring the change into the files (`packsync import --diff` shows it).\n\n"
        f"{details}"
    )


class GitHubError(PacksyncError):
    pass


@dataclass
class GitHub:
    """The few GitHub REST calls packsync needs."""

    repository: str  # owner/name
    token: str
    api_url: str = "https://api.github.com"
    transport: httpx.BaseTransport | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> GitHub:
        environ = os.environ if env is None else env
        missing = [v for v in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not environ.get(v)]
        if missing:
            raise GitHubError(f"{' and '.join(missing)} not set: run this in GitHub Actions, or set them")
        return cls(environ["GITHUB_REPOSITORY"], environ["GITHUB_TOKEN"], environ.get("GITHUB_API_URL", cls.api_url))

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            timeout=30,
            transport=self.transport,
        )

    def _call(self, http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        response = http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text[:200]
            # a proxy's error page may quote the request: no token is shown
            shown = Scrubber.of(Secret(self.token)).message(str(message))
            raise GitHubError(f"{method} {path}: {response.status_code} {shown}")
        return response.json() if response.content else None

    def _all(self, http: httpx.Client, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self._call(http, "GET", path, params={**(params or {}), "per_page": 100, "page": page})
            if not isinstance(batch, list):
                raise GitHubError(f"GET {path}: expected a list")
            items += batch
            if len(batch) < 100:
                return items
            page += 1

    def sync_comments(self, pull: int, bodies: Sequence[str], target: str) -> list[str]:
        """Make the pull request's packsync comments for ``target`` exactly ``bodies``; what was done."""
        done = []
        prefix = f"{COMMENT_MARKER} target={target} "
        with self._client() as http:
            path = f"/repos/{self.repository}/issues/{pull}/comments"
            existing = [c for c in self._all(http, path) if str(c.get("body", "")).startswith(prefix)]
            existing.sort(key=lambda c: int(c["id"]))
            for index, body in enumerate(bodies):
                if index < len(existing):
                    comment = existing[index]
                    if comment.get("body") != body:
                        self._call(
                            http,
                            "PATCH",
                            f"/repos/{self.repository}/issues/comments/{comment['id']}",
                            json={"body": body},
                        )
                        done.append(f"updated comment {comment['id']}")
                    else:
                        done.append(f"comment {comment['id']} unchanged")
                else:
                    created = self._call(http, "POST", path, json={"body": body})
                    done.append(f"created comment {created['id']}")
            for comment in existing[len(bodies) :]:
                self._call(http, "DELETE", f"/repos/{self.repository}/issues/comments/{comment['id']}")
                done.append(f"deleted comment {comment['id']}")
        return done

    def sync_drift_issue(self, target: str, body: str | None, label: str = "packsync-drift") -> str:
        """Open or update the drift issue (``body``), or close it when there is no drift (None)."""
        prefix = f"{DRIFT_MARKER} target={target} -->"
        with self._client() as http:
            issues = self._all(http, f"/repos/{self.repository}/issues", {"state": "open", "labels": label})
            mine = [i for i in issues if str(i.get("body", "")).startswith(prefix) and "pull_request" not in i]
            if body is None:
                for issue in mine:
                    self._call(
                        http,
                        "POST",
                        f"/repos/{self.repository}/issues/{issue['number']}/comments",
                        json={"body": "The account matches the pack files again. Closing."},
                    )
                    self._call(
                        http, "PATCH", f"/repos/{self.repository}/issues/{issue['number']}", json={"state": "closed"}
                    )
                return f"closed issue #{mine[0]['number']}" if mine else "no drift, no open drift issue"
            if mine:
                number = mine[0]["number"]
                self._call(http, "PATCH", f"/repos/{self.repository}/issues/{number}", json={"body": body})
                return f"updated issue #{number}"
            created = self._call(
                http,
                "POST",
                f"/repos/{self.repository}/issues",
                json={
                    "title": f"packsync: the {target} account drifted from the pack files",
                    "body": body,
                    "labels": [label],
                },
            )
            return f"opened issue #{created['number']}"

    def propose_change(self, change: ProposedChange) -> str:
        """Open a pull request that makes one file ``change.content``, on its own branch; or, when
        that branch's pull request is open already, bring the branch's file up to date. Only the
        REST API (refs, contents, pulls): no clone, no push credentials. What was done."""
        repo = self.repository
        owner = repo.split("/")[0]
        with self._client() as http:
            base = change.base or str(self._call(http, "GET", f"/repos/{repo}")["default_branch"])
            open_pulls = self._call(http, "GET", f"/repos/{repo}/pulls", params={"head": f"{owner}:{change.branch}"})
            existing = [p for p in open_pulls or [] if p.get("state", "open") == "open"]
            if not existing:
                head = self._call(http, "GET", f"/repos/{repo}/git/ref/heads/{base}")["object"]["sha"]
                try:
                    self._call(
                        http,
                        "POST",
                        f"/repos/{repo}/git/refs",
                        json={"ref": f"refs/heads/{change.branch}", "sha": head},
                    )
                except GitHubError as exc:
                    if ": 422 " not in str(exc):  # the branch is left from a closed pull request: reuse it
                        raise
            current = self._call(http, "GET", f"/repos/{repo}/contents/{change.path}", params={"ref": change.branch})
            encoded = base64.b64encode(change.content.encode()).decode()
            if base64.b64decode(str(current.get("content", ""))) != change.content.encode():
                body = {"message": change.title, "content": encoded, "sha": current["sha"], "branch": change.branch}
                self._call(http, "PUT", f"/repos/{repo}/contents/{change.path}", json=body)
            if existing:
                number = existing[0]["number"]
                self._call(http, "PATCH", f"/repos/{repo}/pulls/{number}", json={"body": change.body})
                return f"updated pull request #{number}"
            pull = {"title": change.title, "head": change.branch, "base": base, "body": change.body}
            created = self._call(http, "POST", f"/repos/{repo}/pulls", json=pull)
            return f"opened pull request #{created['number']}"


@dataclass(frozen=True)
class ProposedChange:
    """One file's new content, for review as a pull request."""

    branch: str
    path: str  # from the repository's root
    content: str
    title: str
    body: str
    base: str | None = None  # the branch to merge into; None: the repository's default


def artifact_name(target: str, head_sha: str) -> str:
    """The name the review job gives its saved plan, and the apply job looks for."""
    return f"packsync-plan-{target}-{head_sha}"


def download_reviewed_plan(github: GitHub, commit: str, target: str, destination: Path) -> str:
    """Fetch the plan saved by the review of the pull request that ``commit`` merged; describe what was found."""
    import io
    import zipfile

    with github._client() as http:
        pulls = github._call(http, "GET", f"/repos/{github.repository}/commits/{commit}/pulls")
        if not pulls:
            raise GitHubError(f"{commit} did not come from a pull request: there is no reviewed plan to apply")
        pull = pulls[0]
        head = str(pull["head"]["sha"])
        runs = github._call(
            http,
            "GET",
            f"/repos/{github.repository}/actions/runs",
            params={"head_sha": head, "event": "pull_request", "status": "success", "per_page": 100},
        )
        wanted = artifact_name(target, head)
        for run in (runs or {}).get("workflow_runs", []):
            listing = github._call(http, "GET", f"/repos/{github.repository}/actions/runs/{run['id']}/artifacts")
            for artifact in (listing or {}).get("artifacts", []):
                if artifact.get("name") != wanted or artifact.get("expired"):
                    continue
                response = http.get(
                    f"/repos/{github.repository}/actions/artifacts/{artifact['id']}/zip", follow_redirects=True
                )
                if response.status_code >= 400:
                    raise GitHubError(f"downloading {wanted}: {response.status_code}")
                with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                    destination.write_bytes(archive.read("plan.json"))
                return f"the plan reviewed on pull request #{pull['number']} (run {run['id']}, head {head[:12]})"
        raise GitHubError(
            f"no successful review of pull request #{pull['number']} saved {wanted}: nothing reviewed to apply"
        )


def pull_request_number(env: Mapping[str, str] | None = None) -> int:
    """The pull request of the running GitHub Actions event."""
    environ = os.environ if env is None else env
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        raise GitHubError("GITHUB_EVENT_PATH is not set; give --pull N")
    event = json.loads(Path(path).read_text(encoding="utf-8"))
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    if not isinstance(number, int):
        raise GitHubError("the event is not a pull request; give --pull N")
    return number
