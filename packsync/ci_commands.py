"""``packsync comment`` and ``packsync drift``: a saved plan turned into pull-request comments or a drift issue."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from packsync.github import (
    GitHub,
    GitHubError,
    build_comments,
    download_reviewed_plan,
    drift_issue_body,
    pull_request_number,
)
from packsync.plan import Plan, PlanFileError
from packsync.planformat import render_markdown


def run_comment(plan_file: Path, out_dir: Path | None, post: bool, pull: int | None, out: TextIO, err: TextIO) -> int:
    try:
        plan = Plan.load(plan_file)
        bodies = build_comments(plan)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            for index, body in enumerate(bodies, start=1):
                path = out_dir / f"comment-{index}.md"
                path.write_text(body, encoding="utf-8")
                out.write(f"wrote {path} ({len(body):,} characters)\n")
        if post:
            github = GitHub.from_environment()
            number = pull if pull is not None else pull_request_number()
            for line in github.sync_comments(number, bodies, plan.target):
                out.write(line + "\n")
        if out_dir is None and not post:
            out.write("\n\n".join(bodies))
    except (PlanFileError, GitHubError) as exc:
        err.write(f"packsync: error: {exc}\n")
        return 1
    return 0


def run_reviewed_plan(target: str, commit: str | None, out_file: Path, out: TextIO, err: TextIO) -> int:
    """Download the plan reviewed on the pull request that the pushed commit merged."""
    import os

    try:
        sha = commit or os.environ.get("GITHUB_SHA", "")
        if not sha:
            raise GitHubError("no commit: give --commit SHA or run in GitHub Actions (GITHUB_SHA)")
        found = download_reviewed_plan(GitHub.from_environment(), sha, target, out_file)
    except GitHubError as exc:
        err.write(f"packsync: error: {exc}\n")
        return 1
    out.write(f"saved {found} to {out_file}\n")
    return 0


def run_drift(plan_file: Path, post: bool, out: TextIO, err: TextIO) -> int:
    """Exit 0 when the account matches, 2 when it drifted (after opening or updating the issue)."""
    try:
        plan = Plan.load(plan_file)
        drifted = plan.has_changes
        body = drift_issue_body(plan, render_markdown(plan, limit=50_000)) if drifted else None
        if post:
            out.write(GitHub.from_environment().sync_drift_issue(plan.target, body) + "\n")
        elif body is not None:
            out.write(body)
        else:
            out.write("No drift: the account matches the pack files.\n")
    except (PlanFileError, GitHubError) as exc:
        err.write(f"packsync: error: {exc}\n")
        return 1
    return 2 if drifted else 0
