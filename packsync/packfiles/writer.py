"""The canonical layout of a pack file: key order as in the format, one quoting style, two-space indents.

Used by ``import`` (which writes new files) and ``fmt`` (which rewrites
existing ones and carries their comments over, see ``Comments``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packsync.facts import GENERATION_PARAMS

TOP_ORDER = (
    "slug", "title", "subtitle", "id", "protect", "model", "classes", "characteristics", "defaults", "prompts",
    "experiments",
)  # fmt: skip
MODEL_ORDER = ("base_tune_id", "model_type", "token", "preset", "post_tune")
CLASS_ORDER = ("tune_id", "weight")
CHARACTERISTIC_ORDER = ("description", "example")
EXPERIMENT_ORDER = ("name", "control", "variants", "metric", "min_effect", "design", "status", "winner")
PROMPT_ORDER = ("key", "classes", "text", *GENERATION_PARAMS)
ALWAYS_QUOTED = frozenset({"text", "negative_prompt", "description", "example"})

# A plain scalar is safe when YAML 1.2 reads it back as the same string.
_PLAIN_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_./+-]*(?: [A-Za-z0-9_./+-]+)*$")
# Written as \u escapes: DEL, the C1 controls and U+FFFE/U+FFFF, which a YAML stream cannot hold raw,
# and U+2028/U+2029, which YAML reads as line breaks (folding the spaces around them away).
_ESCAPED = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_RESERVED_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})


@dataclass
class Comments:
    """Comment lines to keep: before the node at a path, and after its value on the same line."""

    before: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    trailing: dict[tuple[Any, ...], str] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)


def scalar(value: Any, *, quote: bool = False) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if not quote and _PLAIN_SAFE.match(text) and text.lower() not in _RESERVED_WORDS:
        return text
    return _ESCAPED.sub(lambda m: f"\\u{ord(m.group(0)):04x}", json.dumps(text, ensure_ascii=False))


def _ordered(mapping: Mapping[str, Any], order: Sequence[str]) -> list[tuple[str, Any]]:
    known = [(k, mapping[k]) for k in order if k in mapping]
    rest = [(k, v) for k, v in mapping.items() if k not in order]
    return known + rest


def _key(name: str) -> str:
    return scalar(name)


def _flow(mapping: Mapping[str, Any], order: Sequence[str]) -> str:
    parts = [f"{_key(k)}: {scalar(v, quote=k in ALWAYS_QUOTED)}" for k, v in _ordered(mapping, order)]
    return "{ " + ", ".join(parts) + " }" if parts else "{}"


def _flow_list(values: Sequence[Any]) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


class _Writer:
    def __init__(self, comments: Comments | None) -> None:
        self.comments = comments or Comments()
        self.lines: list[str] = []

    def line(self, path: tuple[Any, ...], indent: int, text: str) -> None:
        for comment in self.comments.before.get(path, []):
            self.lines.append(" " * indent + comment)
        trailing = self.comments.trailing.get(path)
        self.lines.append(" " * indent + text + (f"  {trailing}" if trailing else ""))


def write_pack(data: Mapping[str, Any], comments: Comments | None = None) -> str:
    """The canonical text of a pack document."""
    w = _Writer(comments)
    for top, value in _ordered(data, TOP_ORDER):
        path: tuple[Any, ...] = (top,)
        if top == "model" and isinstance(value, Mapping):
            w.line(path, 0, "model:")
            for k, v in _ordered(value, MODEL_ORDER):
                w.line((top, k), 2, f"{_key(k)}: {scalar(v)}")
        elif top in ("classes", "characteristics") and isinstance(value, Mapping):
            order = CLASS_ORDER if top == "classes" else CHARACTERISTIC_ORDER
            w.line(path, 0, f"{top}:" if value else f"{top}: {{}}")
            for name, spec in value.items():
                rendered = _flow(spec, order) if isinstance(spec, Mapping) else scalar(spec)
                w.line((top, name), 2, f"{_key(name)}: {rendered}")
        elif top == "defaults" and isinstance(value, Mapping):
            w.line(path, 0, "defaults:" if value else "defaults: {}")
            for k, v in _ordered(value, GENERATION_PARAMS):
                w.line((top, k), 2, f"{_key(k)}: {scalar(v, quote=k in ALWAYS_QUOTED)}")
        elif top in ("prompts", "experiments") and isinstance(value, list):
            w.line(path, 0, f"{top}:" if value else f"{top}: []")
            item_order = PROMPT_ORDER if top == "prompts" else EXPERIMENT_ORDER
            for index, prompt in enumerate(value):
                if not isinstance(prompt, Mapping):
                    w.line((top, index), 2, f"- {scalar(prompt)}")
                    continue
                first = True
                for k, v in _ordered(prompt, item_order):
                    rendered = _flow_list(v) if isinstance(v, list) else scalar(v, quote=k in ALWAYS_QUOTED)
                    prefix = "- " if first else "  "
                    if first:
                        # comments before the item belong above its dash
                        for comment in w.comments.before.get((top, index), []):
                            w.lines.append("  " + comment)
                    w.line((top, index, k), 2, f"{prefix}{_key(k)}: {rendered}")
                    first = False
        else:
            quote = top in ALWAYS_QUOTED
            w.line(path, 0, f"{_key(top)}: {scalar(value, quote=quote)}")
    body = "\n".join(w.lines) + "\n"
    head = "\n".join(w.comments.header)
    foot = "\n".join(w.comments.footer)
    return (head + "\n" if head else "") + body + (foot + "\n" if foot else "")
