"""What the account answers, as typed objects: each answer parsed and checked once, where it comes in.

A :class:`LiveTemplate` is a template prompt as the account showed it. It keeps the answer
itself (read-only, for what looks at raw fields: fingerprints, import, doctor) and says, typed,
what the rest of packsync relies on: its id, text, the tune it sits on, its pack, and **which
generation parameters the answer carried** (``shown``). A parameter outside ``shown`` was not
in the answer: the account did not show it, which is not the same as showing nothing (A8).

An answer that is not a template (no integer id, a text that is not a string) is refused here,
as a :class:`ProtocolError`, so no later stage has to doubt the shape of what it holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from packsync.astria.errors import ProtocolError
from packsync.facts import PROMPT_PARAM_DEFAULTS

# What a live prompt carries besides what it generates: ids, links, times, results, money.
METADATA = frozenset(
    {
        "id", "text", "callback", "trained_at", "started_training_at", "created_at", "updated_at", "tune_id",
        "url", "images", "user_error", "cost_mc", "pack_id", "base_pack_id", "orig_prompt_id", "order_id",
        "likes", "liked", "status", "tune", "user_id", "content_types", "filenames", "debug_images",
        "community", "workspace_id",
    }
)  # fmt: skip


def blank(value: Any) -> bool:
    """Whether an answer's value says nothing (null, false, empty)."""
    return value is None or value is False or value == "" or value == [] or value == {}


def _unmodeled(name: str, value: Any) -> bool:
    return name not in METADATA and name not in PROMPT_PARAM_DEFAULTS and not blank(value)


def _whole_id(value: Any) -> int | None:
    return value if type(value) is int else None


@dataclass(frozen=True, eq=False)
class LiveTemplate(Mapping[str, Any]):
    """A template prompt as the account showed it; a read-only mapping over the answer's fields.

    Build one with :meth:`parse`. Two compare equal as mappings (to each other or to a dict)
    when the answers are the same."""

    fields: Mapping[str, Any] = field(repr=False)
    id: int
    text: str
    tune_id: int | None  # the tune it was created on, when the answer gives one as an integer
    pack_id: int | None
    shown: frozenset[str]  # the generation parameters the answer carried (with any value, null too)
    unmodeled: Mapping[str, Any]  # fields packsync does not model that hold a value (video, controlnet, ...)

    @classmethod
    def parse(cls, item: Any, where: str = "/prompts") -> LiveTemplate:
        """The template in one answer item; :class:`ProtocolError` when it is not one."""
        if isinstance(item, LiveTemplate):
            return item
        if not isinstance(item, Mapping):
            raise ProtocolError("GET", where, None, f"expected a template prompt object, got {type(item).__name__}")
        tid = item.get("id")
        if type(tid) is not int:
            raise ProtocolError("GET", where, None, "a template prompt has no integer id")
        text = item.get("text")
        if text is not None and not isinstance(text, str):
            raise ProtocolError("GET", where, None, f"template #{tid}: its text is not a string")
        fields = MappingProxyType(dict(item))
        return cls(
            fields=fields,
            id=tid,
            text=text or "",
            tune_id=_whole_id(item.get("tune_id")),
            pack_id=_whole_id(item.get("pack_id")),
            shown=frozenset(name for name in PROMPT_PARAM_DEFAULTS if name in fields),
            unmodeled=MappingProxyType({k: v for k, v in fields.items() if _unmodeled(k, v)}),
        )

    def shows(self, name: str) -> bool:
        """Whether the answer carried generation parameter ``name`` (a null value counts: it was shown)."""
        return name in self.shown

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def as_dict(self) -> dict[str, Any]:
        """The answer as a plain dict (a copy), for JSON."""
        return dict(self.fields)


def parse_templates(items: list[Any], where: str) -> list[LiveTemplate]:
    return [LiveTemplate.parse(item, where) for item in items]
