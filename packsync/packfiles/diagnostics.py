"""Diagnostics: problems found in files, as values with a location and a rule id.

Errors stay values until the command line prints them; nothing in the loading
and checking stages raises for a problem the user caused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packsync.packfiles.rules import RULES, Severity


@dataclass(frozen=True, order=True)
class Location:
    """A place in a file. ``line`` and ``col`` are 1-based; 0 means unknown."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.col or 1}"
        return self.path


NOWHERE = Location("")


@dataclass(frozen=True)
class Diagnostic:
    """One problem: where it is, which rule it breaks, and what to do about it."""

    location: Location
    rule: str
    message: str
    severity: Severity = field(default=Severity.ERROR)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule id {self.rule!r}")

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.path, loc.line, loc.col, self.rule)


def make(rule: str, location: Location, message: str) -> Diagnostic:
    """Build a diagnostic with the rule's registered severity."""
    return Diagnostic(location, rule, message, RULES[rule].severity)
