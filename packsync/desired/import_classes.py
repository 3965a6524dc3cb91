"""The classes of an imported pack, as the account shows them (A9).

A template's class is the key the pack detail's ``prompts_per_class`` lists it under; its
reference tune and weight come from the tag in its text (``<lora:ID:W>``, ``<faceid:ID:1>``),
or, for a checkpoint pack's tagless texts, from the tune the template was created on. The tune a
template sits on (its ``tune_id``) says nothing else: templates are created on the pack's base
model as often as on a reference tune. Where the detail does not place a template, its class is
named after the tune its tag references, and a note says so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packsync.facts import TUNE_TAG_RE, ModelType

MAX_CLASS_NAME = 50

ClassKey = tuple[str, int]  # (the class as the account names it, "" when it does not; the reference tune)


@dataclass
class ImportedClass:
    name: str
    tune_id: int
    weight: float | int = 1


def placed_classes(detail: Mapping[str, Any]) -> dict[Any, str] | None:
    """Template id -> its class, from the detail's ``prompts_per_class``; None when the detail has none.
    Entries of a shape the documented one is not (a class of no name, an entry without an id) are
    passed over, as if the detail did not place those templates."""
    grouped = detail.get("prompts_per_class")
    if not isinstance(grouped, Mapping):
        return None
    placed: dict[Any, str] = {}
    for name, entries in grouped.items():
        if not isinstance(name, str) or not isinstance(entries, list):
            continue
        for entry in entries:
            template_id = entry.get("id") if isinstance(entry, Mapping) else None
            if type(template_id) is int:
                placed.setdefault(template_id, name)
    return placed


def reference_of(template: Mapping[str, Any], kind: ModelType, is_tune_id: Callable[[Any], bool]) -> int:
    """The reference tune of a template's class: the tune its first tag of the pack's kind references
    (else its first tag of any kind), or, for a tagless text or a checkpoint pack, the tune it sits on."""
    if kind.tag is not None:
        tags = list(TUNE_TAG_RE.finditer(str(template.get("text") or "")))
        for match in [m for m in tags if m.group(1) == kind.tag] + tags:
            if is_tune_id(int(match.group(2))):
                return int(match.group(2))
    return int(template["tune_id"])


def class_keys(
    usable: Sequence[Mapping[str, Any]],
    detail: Mapping[str, Any],
    tune_names: Mapping[int, str | None],
    kind: ModelType,
    is_tune_id: Callable[[Any], bool],
    notes: list[str],
) -> dict[Any, ClassKey]:
    """Each template's class key, by template id: the class ``prompts_per_class`` puts it under (where
    the detail does not place it, the name of its reference tune; "" when that is gone too) and its
    reference tune."""
    placed = placed_classes(detail)
    keys: dict[Any, ClassKey] = {}
    unplaced = 0
    for t in usable:
        reference = reference_of(t, kind, is_tune_id)
        name = placed.get(t["id"]) if placed is not None else None
        if name is None:
            unplaced += 1
            name = tune_names.get(reference)
        keys[t["id"]] = (name or "", reference)
    if unplaced and usable:
        why = "has no prompts_per_class" if placed is None else f"does not place {unplaced} of its templates"
        notes.append(f"the pack's detail (GET /p/:id) {why}: their class is named after the tune their tag references")
    return keys


def _usable_name(raw: str, tune_id: int, used: set[str]) -> str:
    """A class name a pack file can hold, unique among ``used``, from the account's (or the tune's) name."""
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-") or f"class-{tune_id}"
    if not name[0].isalpha():
        name = f"c-{name}"
    # a class name has at most MAX_CLASS_NAME characters, with room for a "-N" suffix
    name = name[:MAX_CLASS_NAME].rstrip("-")
    base, n = name[: MAX_CLASS_NAME - 4].rstrip("-"), 1
    while name in used:
        n += 1
        name = f"{base}-{n}"
    used.add(name)
    return name


def build_classes(
    usable: Sequence[Mapping[str, Any]],
    keys: Mapping[Any, ClassKey],
    tune_names: Mapping[int, str | None],
    kind: ModelType,
    notes: list[str],
    shown: Callable[[Any], str],
    weight_of: Callable[[str], float | int | None],
) -> dict[ClassKey, ImportedClass]:
    """One class per (class, reference tune), in the order of the templates, with the weight its
    tags use most. ``tune_names``: the reference tunes' names (None: the tune is gone)."""
    classes: dict[ClassKey, ImportedClass] = {}
    used: set[str] = set()
    for t in usable:
        key = keys[t["id"]]
        if key in classes:
            continue
        raw, tune_id = key
        if tune_names.get(tune_id) is None and (tune_id in tune_names or not raw):
            kept = f"the class the account puts it under, {shown(raw)}" if raw else f"'class-{tune_id}'"
            notes.append(f"tune {tune_id}: it no longer exists (or has no name); its class is named {kept}")
        name = _usable_name(raw, tune_id, used)
        if raw and name != raw:
            notes.append(
                f"tune {tune_id}: class named {name!r} (its name {shown(raw)} "
                "is not a usable class name, or another tune's class has it)"
            )
        classes[key] = ImportedClass(name, tune_id)
    # The weight each class's {{subject}} uses: the most common one in its tags (of a weighted type).
    for key, cls in classes.items() if kind.weighted else ():
        weights = Counter(
            weight
            for t in usable
            if keys[t["id"]] == key
            for m in TUNE_TAG_RE.finditer(str(t.get("text") or ""))
            if m.group(1) == kind.tag
            and int(m.group(2)) == cls.tune_id
            and m.group(3) is not None
            and (weight := weight_of(m.group(3))) is not None
        )
        if weights:
            cls.weight = weights.most_common(1)[0][0]
    return classes
