"""The characteristics a preview's runs fill ``{{name}}`` with (astria-api.md A6).

On a ``tune_ids`` run Astria uses the existing tunes' characteristics "instead
of the above attributes", so the values come from the test tunes; the run's own
``characteristics`` may count too. So a preview decides one value per
placeholder its prompts use (``--set NAME=VALUE``, else the characteristic's
``example`` in the pack file), puts the values on each test tune that lacks them
(``PATCH /tunes/:id``, free, keeping the tune's other characteristics), reads
the tune again to see that they stuck, and sends the same values on the run.
A placeholder with no value fails before anything is spent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from packsync.astria.client import AstriaClient
from packsync.desired.expand import NAME_RE, SUBJECT, placeholders
from packsync.errors import PacksyncError
from packsync.packfiles.pack import Pack


class CharacteristicError(PacksyncError):
    """A characteristic the preview needs has no value, or ``--set`` names none of the pack's."""


@dataclass(frozen=True)
class Value:
    """The value one placeholder is filled with, and where it came from (shown to the user)."""

    name: str
    value: str
    source: str  # "--set", or "its example in FILE"


def used_placeholders(texts: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The characteristic placeholders in ``(prompt key, text)`` pairs, each with the first prompt that uses
    it, in order of appearance ({{subject}} aside)."""
    used: dict[str, str] = {}
    for key, text in texts:
        for inside, _ in placeholders(text):
            if inside != SUBJECT and NAME_RE.match(inside) and inside not in used:
                used[inside] = key
    return used


def parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` options as a mapping (the last one of a name wins)."""
    values: dict[str, str] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise CharacteristicError(f"--set needs NAME=VALUE, got {assignment!r}")
        values[name] = value
    return values


def choose_values(pack: Pack, used: Mapping[str, str], assignments: Sequence[str]) -> list[Value]:
    """One value per placeholder the previewed texts use (``--set``, else the example), and per ``--set``.

    Fails, naming the file, the characteristic and the fix, when a used placeholder has neither.
    """
    given = parse_assignments(assignments)
    declared = {c.name: c for c in pack.characteristics}
    for name in given:
        if name not in declared and name not in used:
            shown = ", ".join(sorted(declared)) or "none"
            raise CharacteristicError(f'"{name}" is not a characteristic of pack {pack.slug} (declared: {shown})')
    values = [Value(name, value, "--set") for name, value in given.items()]
    for name, key in used.items():
        if name in given:
            continue
        found = declared.get(name)
        if found is not None and found.example is not None:
            values.append(Value(name, str(found.example), f"its example in {pack.path}"))
            continue
        if found is None:  # only the account's text of a prompt the files changed can use it
            raise CharacteristicError(
                f"{pack.path}: placeholder {{{{{name}}}}}, which the account's version of prompt {key} uses, is "
                f"not declared under characteristics: declare it with an example:, or give --set {name}=VALUE"
            )
        raise CharacteristicError(
            f"{str(found.location) or pack.path}: characteristic {name}, which prompt {key} uses, has no example "
            f"and no --set value: add example: to it, or give --set {name}=VALUE"
        )
    return sorted(values, key=lambda v: v.name)


def describe_values(values: Sequence[Value]) -> list[str]:
    """What the runs fill the placeholders with, one line each (empty: none)."""
    if not values:
        return []
    return ["Characteristics the runs fill in:\n", *(f'  {v.name} = "{v.value}" ({v.source})\n' for v in values)]


def _held(tune: Mapping[str, Any]) -> dict[str, Any]:
    found = tune.get("characteristics")
    return dict(found) if isinstance(found, Mapping) else {}  # a tune object without them holds none we know of


def _named(tune_id: int, tune: Mapping[str, Any]) -> str:
    title = str(tune.get("title") or "")
    return f'test tune #{tune_id} "{title}"' if title else f"test tune #{tune_id}"


async def set_on_tunes(
    client: AstriaClient, tunes: Mapping[int, Mapping[str, Any]], wanted: Mapping[str, str], out: TextIO, err: TextIO
) -> None:
    """Put ``wanted`` on each test tune whose characteristics differ (one PATCH each, none when nothing
    differs), say so, and read the tune again: values it does not hold are warned about."""
    for tune_id, tune in tunes.items():
        held = _held(tune)
        differ = [name for name, value in wanted.items() if held.get(name) != value]
        if not differ:
            continue
        await client.update_tune(tune_id, {"characteristics": {**held, **wanted}})
        out.write(f"Set characteristics on {_named(tune_id, tune)}: {', '.join(differ)}\n")
        now = _held(await client.get_tune(tune_id))
        for name in (n for n in differ if now.get(n) != wanted[n]):
            err.write(
                f"packsync: warning: test tune #{tune_id} does not hold {name} after it was set: the account "
                f"filled the placeholders from elsewhere, and the preview's texts may show {{{{{name}}}}} unfilled\n"
            )
