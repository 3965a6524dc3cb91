"""Reporters: diagnostics as text, JSON or GitHub workflow annotations."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TextIO

from packsync.packfiles.diagnostics import Diagnostic
from packsync.term import Style, color_enabled

REPORT_VERSION = 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if not diagnostics:
        return f"{_plural(files, 'file')} checked: all valid"
    return f"{_plural(files, 'file')} checked: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def report_text(diagnostics: Sequence[Diagnostic], files: int, out: TextIO, err: TextIO) -> None:
    style = Style(color_enabled(out))
    for d in diagnostics:
        rule = style(d.rule, "red" if d.is_error else "yellow")
        level = "" if d.is_error else style("warning: ", "yellow")
        out.write(f"{style(str(d.location), 'bold')}: {rule} {level}{d.message}\n")
    err.write(summary(diagnostics, files) + "\n")


def report_json(diagnostics: Sequence[Diagnostic], files: int, out: TextIO, err: TextIO) -> None:
    errors = sum(1 for d in diagnostics if d.is_error)
    document = {
        "version": REPORT_VERSION,
        "valid": errors == 0,
        "files": files,
        "errors": errors,
        "warnings": len(diagnostics) - errors,
        "diagnostics": [
            {
                "file": d.location.path,
                "line": d.location.line,
                "col": d.location.col,
                "rule": d.rule,
                "severity": d.severity.value,
                "message": d.message,
            }
            for d in diagnostics
        ],
    }
    out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def report_github(diagnostics: Sequence[Diagnostic], files: int, out: TextIO, err: TextIO) -> None:
    """GitHub Actions workflow commands: each diagnostic becomes an inline annotation."""
    for d in diagnostics:
        level = "error" if d.is_error else "warning"
        loc = d.location
        props = [f"file={_escape_property(loc.path)}"]
        if loc.line:
            props += [f"line={loc.line}", f"col={loc.col or 1}"]
        props.append(f"title={_escape_property('packsync ' + d.rule)}")
        out.write(f"::{level} {','.join(props)}::{_escape_data(d.message)}\n")
    err.write(summary(diagnostics, files) + "\n")


Reporter = Callable[[Sequence[Diagnostic], int, TextIO, TextIO], None]

REPORTERS: dict[str, Reporter] = {"text": report_text, "json": report_json, "github": report_github}
