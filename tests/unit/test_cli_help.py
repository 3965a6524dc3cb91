"""Every command's help shows an example, and each example parses as that command's flags; the
shell completion scripts come from click."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import click
import pytest

from packsync.cli import cli


def _commands(command: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(cli, ("packsync",))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_the_help_has_an_example_that_parses(path: tuple[str, ...], command: click.Command) -> None:
    text = command.get_help(click.Context(command, info_name=" ".join(path)))
    examples = [line.strip().removeprefix("Example:").strip() for line in text.splitlines() if "Example:" in line]
    examples = [e for e in examples if e]
    examples += [line.strip() for line in text.splitlines() if line.strip().startswith(f"{' '.join(path)} ")]
    assert examples, f"{' '.join(path)} --help has no example"
    if len(path) == 1:
        return  # the group's example chains commands
    for example in examples:
        words = shlex.split(example.split("&&")[0].split(">")[0])
        assert tuple(words[: len(path)]) == path, example
        try:
            command.make_context(" ".join(path), words[len(path) :])  # an unknown flag is a UsageError
        except click.BadParameter as exc:
            assert "does not exist" in str(exc), example  # a file the example names; the flags parsed


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_click_writes_the_completion_script(shell: str) -> None:
    env = {**os.environ, "_PACKSYNC_COMPLETE": f"{shell}_source"}
    done = subprocess.run(
        [sys.executable, "-c", "from packsync.cli import cli; cli(prog_name='packsync')"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "_PACKSYNC_COMPLETE" in done.stdout, done.stderr
