"""What the commands that talk to an account do first, in one place: load and check the pack
files (nothing is sent when any is invalid), choose the packs, resolve the target, open the client.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from packsync.astria.client import AstriaClient
from packsync.astria.connect import open_client
from packsync.astria.echo import load_state
from packsync.astria.target import ResolvedTarget, resolve_target
from packsync.commands.base import Streams
from packsync.errors import PacksyncError
from packsync.packfiles.pack import Pack
from packsync.packfiles.project import Project
from packsync.packfiles.reporters import report_text
from packsync.plan.build import Workspace, load_workspace, select_packs
from packsync.plan.observe import Observation


class InvalidPackFiles(PacksyncError):
    """Some pack file is invalid: its problems were reported, and nothing is sent."""


def checked_workspace(project_dir: Path, io: Streams) -> Workspace:
    """The project and its packs, every file valid; otherwise report the problems and raise."""
    workspace = load_workspace(project_dir)
    if workspace.errors:
        files = len({d.location.path for d in workspace.diagnostics})
        report_text(workspace.diagnostics, files, io.err, io.err)
        raise InvalidPackFiles("the pack files are invalid; nothing was sent (run packsync validate)")
    return workspace


@dataclass(frozen=True)
class Prepared:
    """A checked project, the packs a command works on, and the account it works on."""

    workspace: Workspace
    target: ResolvedTarget
    packs: list[Pack]

    def observation(self, io: Streams) -> Observation:
        """What this project knows of how the target shows templates back (``.packsync/state``)."""
        return target_observation(self.workspace.project, self.target, io.err)

    def client(self) -> AbstractAsyncContextManager[AstriaClient]:
        """The account's client (for the embedded sandbox: the sandbox runs while it is open)."""
        return open_client(self.workspace.project, self.target, self.workspace.packs)


def prepare(project_dir: Path, target_name: str | None, slugs: Sequence[str], io: Streams) -> Prepared:
    """The prologue: checked files, the packs named by ``slugs`` (all when none), the target."""
    workspace = checked_workspace(project_dir, io)
    target = resolve_target(workspace.project, target_name)
    return Prepared(workspace, target, select_packs(workspace.packs, slugs))


def target_observation(project: Project, target: ResolvedTarget, err: TextIO) -> Observation:
    """The target's saved echo profile and record of what was sent; a state file not to be trusted
    is one warning on ``err`` and an empty state."""
    state = load_state(project.root, target.name, json.dumps(target.account, sort_keys=True))
    if state.problem is not None:
        err.write(f"packsync: warning: {state.problem}\n")
    return Observation(state)
