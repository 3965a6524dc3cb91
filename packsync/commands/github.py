"""``packsync comment`` and ``packsync drift``: a saved plan turned into pull-request comments or a drift issue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packsync.commands.base import Streams
from packsync.errors import ExitCode, PacksyncError
from packsync.github import (
    GitHub,
    GitHubError,
    build_comments,
    download_reviewed_plan,
    drift_issue_body,
    pull_request_number,
)
from packsync.plan.formats import render_markdown
from packsync.plan.model import Plan


@dataclass(frozen=True)
class CommentOptions:
    plan_file: Path
    out_dir: Path | None = None  # write comment-N.md files here
    post: bool = False  # create or update the pull request's comments
    pull: int | None = None  # the pull request; default: from GITHUB_EVENT_PATH


def run_comment(options: CommentOptions, io: Streams) -> ExitCode:
    plan = Plan.load(options.plan_file)
    bodies = build_comments(plan)
    if options.out_dir is not None:
        names = {f"comment-{index}.md": body for index, body in enumerate(bodies, start=1)}
        _write_dir(options.out_dir, names, "comment-*.md", io.out)
    if options.post:
        github = GitHub.from_environment()
        number = options.pull if options.pull is not None else pull_request_number()
        for line in github.sync_comments(number, bodies, plan.target):
            io.out.write(line + "\n")
    if options.out_dir is None and not options.post:
        io.out.write("\n\n".join(bodies))
    return ExitCode.OK


class OutDirError(PacksyncError):
    pass


def _write_dir(out_dir: Path, files: dict[str, str], pattern: str, out: TextIO) -> None:
    """Write ``files`` into ``out_dir`` atomically, and remove the files of an earlier run (those
    matching ``pattern``) that this run does not write, so the directory holds exactly this run's."""
    from packsync.packfiles.safe_write import atomic_write

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = out_dir / name
            atomic_write(path, text)
            out.write(f"wrote {path} ({len(text):,} characters)\n")
        for stale in sorted(out_dir.glob(pattern)):
            if stale.name not in files and stale.is_file() and not stale.is_symlink():
                stale.unlink()
                out.write(f"removed {stale}, left by an earlier run\n")
    except OSError as exc:
        raise OutDirError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class ReviewedPlanOptions:
    target: str  # the target the plan was made for
    commit: str | None = None  # the pushed merge commit; default: GITHUB_SHA
    out_file: Path = Path("plan.json")


def run_reviewed_plan(options: ReviewedPlanOptions, io: Streams) -> ExitCode:
    """Download the plan reviewed on the pull request that the pushed commit merged."""
    import os

    sha = options.commit or os.environ.get("GITHUB_SHA", "")
    if not sha:
        raise GitHubError("no commit: give --commit SHA or run in GitHub Actions (GITHUB_SHA)")
    found = download_reviewed_plan(GitHub.from_environment(), sha, options.target, options.out_file)
    io.out.write(f"saved {found} to {options.out_file}\n")
    return ExitCode.OK


@dataclass(frozen=True)
class DriftOptions:
    plan_file: Path
    out_dir: Path | None = None  # drift.md goes here when there is drift
    post: bool = False  # open, update or close the drift issue


def run_drift(options: DriftOptions, io: Streams) -> ExitCode:
    """Exit 0 when the account matches, 2 when it drifted (after opening or updating the issue).

    ``out_dir`` gets ``drift.md``, the issue's body, when the account drifted, and loses the
    ``drift.md`` of an earlier run when it no longer does: the file is there exactly when
    there is drift.
    """
    plan = Plan.load(options.plan_file)
    drifted = plan.has_changes
    body = drift_issue_body(plan, render_markdown(plan, limit=50_000)) if drifted else None
    if options.out_dir is not None:
        _write_dir(options.out_dir, {} if body is None else {"drift.md": body}, "drift.md", io.out)
    if options.post:
        io.out.write(GitHub.from_environment().sync_drift_issue(plan.target, body) + "\n")
    elif body is None:
        io.out.write("No drift: the account matches the pack files.\n")
    elif options.out_dir is None:
        io.out.write(body)
    return ExitCode.CHANGES if drifted else ExitCode.OK
