"""The shape of every command: an options object in, the output streams, an exit code out.

A handler is ``run_NAME(options: NAMEOptions, io: Streams) -> ExitCode``; the command line builds
the options from the flags and calls :func:`invoke`, the one place where an error becomes an exit
code. A handler raises a :class:`~packsync.errors.PacksyncError` for anything the user can fix; it
writes nothing about it itself. Anything else that escapes is a bug, left for the command line's
internal-error path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO, TypeVar

from packsync.errors import PacksyncError, fail


@dataclass(frozen=True)
class Streams:
    """Where a command writes: results to ``out``, diagnostics and errors to ``err``."""

    out: TextIO
    err: TextIO

    @classmethod
    def standard(cls) -> Streams:
        return cls(sys.stdout, sys.stderr)


Options = TypeVar("Options")
Handler = Callable[[Options, Streams], int]


def invoke(handler: Handler[Options], options: Options, io: Streams | None = None) -> int:
    """Run one command and return its exit code: the error of a failed one, written once."""
    streams = io if io is not None else Streams.standard()
    try:
        return int(handler(options, streams))
    except PacksyncError as exc:
        return fail(streams.err, exc, exc.exit_code)
