"""The one error contract: every error packsync reports derives from :class:`PacksyncError`, every
exit code is an :class:`ExitCode`, and :func:`fail` is the one place that writes
``packsync: error:``. Anything else that escapes a command is a bug, and the command line shows
it as an internal error.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TextIO


class ExitCode(IntEnum):
    OK = 0  # success; with --detailed-exitcode, also "no changes"
    ERROR = 1  # invalid pack files, an API error, bad usage of a file or value
    CHANGES = 2  # --detailed-exitcode: something differs (click's usage errors also exit 2)
    REFUSED = 3  # a safety limit: removals, spend, an empty or protected pack
    STALE = 4  # the saved plan is stale: the account changed since it was made
    PARTIAL = 5  # apply finished partly: some changes failed or the account does not match
    INTERRUPTED = 130  # Ctrl-C


class PacksyncError(Exception):
    """An error for the user: shown as one line, with its exit code."""

    exit_code: ExitCode = ExitCode.ERROR


def fail(err: TextIO, problem: object, code: ExitCode = ExitCode.ERROR) -> int:
    """Write ``packsync: error: PROBLEM`` (a message or an error) and return the exit code."""
    err.write(f"packsync: error: {problem}\n")
    return int(code)
