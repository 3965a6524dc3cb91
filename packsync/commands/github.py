"""``packsync comment`` and ``packsync drift``: a saved plan turned into pull-request comments or a drift issue."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from packsync.errors import ExitCode, PacksyncError, fail
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


def run_comment(plan_file: Path, out_dir: Path | None, post: bool, pull: int | None, out: TextIO, err: TextIO) -> int:
    try:
        plan = Plan.load(plan_file)
        bodies = build_comments(plan)
        if out_dir is not None:
            names = {f"comment-{index}.md": body for index, body in enumerate(bodies, start=1)}
            _write_dir(out_dir, names, "comment-*.md", out)
        if post:
            github = GitHub.from_environment()
            number = pull if pull is not None else pull_request_number()
            for line in github.sync_comments(number, bodies, plan.target):
                out.write(line + "\n")
        if out_dir is None and not post:
            out.write("\n\n".join(bodies))
    except PacksyncError as exc:
        return fail(err, exc)
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


def run_reviewed_plan(target: str, commit: str | None, out_file: Path, out: TextIO, err: TextIO) -> int:
    """Download the plan reviewed on the pull request that the pushed commit merged."""
    import os

    try:
        sha = commit or os.environ.get("GITHUB_SHA", "")
        if not sha:
            raise GitHubError("no commit: give --commit SHA or run in GitHub Actions (GITHUB_SHA)")
        found = download_reviewed_plan(GitHub.from_environment(), sha, target, out_file)
    except GitHubError as exc:
        return fail(err, exc)
    out.write(f"saved {found} to {out_file}\n")
    return ExitCode.OK


def run_drift(plan_file: Path, out_dir: Path | None, post: bool, out: TextIO, err: TextIO) -> int:
    """Exit 0 when the account matches, 2 when it drifted (after opening or updating the issue).

    ``out_dir`` gets ``drift.md``, the issue's body, when the account drifted, and loses the
    ``drift.md`` of an earlier run when it no longer does: the file is there exactly when
    there is drift.
    """
    try:
        plan = Plan.load(plan_file)
        drifted = plan.has_changes
        body = drift_issue_body(plan, render_markdown(plan, limit=50_000)) if drifted else None
        if out_dir is not None:
            _write_dir(out_dir, {} if body is None else {"drift.md": body}, "drift.md", out)
        if post:
            out.write(GitHub.from_environment().sync_drift_issue(plan.target, body) + "\n")
        elif body is None:
            out.write("No drift: the account matches the pack files.\n")
        elif out_dir is None:
            out.write(body)
    except PacksyncError as exc:
        return fail(err, exc)
    return ExitCode.CHANGES if drifted else ExitCode.OK
