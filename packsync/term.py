"""Terminal styling: colour only on a terminal, and never with NO_COLOR."""

from __future__ import annotations

import os
import re
from typing import TextIO

# What must never reach a terminal raw from a value: C0 and C1 controls (ESC starts a
# sequence that can move the cursor, erase lines or set the title), DEL, and the invisible
# characters that reorder or break lines.
_UNPRINTABLE = re.compile("[\ud800-\udfff\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_JSON_RAW = re.compile("[\ud800-\udfff\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def json_text(data: object, indent: int | None = 2) -> str:
    """JSON for people and tools alike: non-ASCII letters as they are, but every control or
    invisible ordering character as a ``\\uXXXX`` escape (json leaves DEL, C1 and bidi raw)."""
    import json

    encoded = json.dumps(data, indent=indent, ensure_ascii=False)  # C0 controls are escaped already
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def printable(text: str) -> str:
    """``text`` with every control or invisible ordering character written as an escape
    (``\\x1b``, ``\\n``, ``\\u202e``): safe to print whatever the account put in it."""
    return _UNPRINTABLE.sub(_escape, text)


_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


def color_enabled(stream: TextIO) -> bool:
    if "NO_COLOR" in os.environ:  # https://no-color.org: any value, even empty
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"
