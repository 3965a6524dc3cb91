"""The rules that depend on the model: the model type's tag, the Flux base's limits, and Astria's dedup.

Part A9 lists what each model type and the Flux base accept; A5 says that
Astria takes two prompts on one tune with the same text and seed for one.
Each rule reports where the value is written in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from packsync.desired.expand import Template
from packsync.desired.identity import canonical_value
from packsync.facts import FLUX_CFG_LIMIT
from packsync.packfiles.diagnostics import Diagnostic, Location, make
from packsync.packfiles.loader import Document
from packsync.packfiles.pack import Pack

# A weighted word or phrase in the text, as SD prompts write them: ``(soft light:1.2)``.
WEIGHTED_WORDS_RE = re.compile(r"\(([^():]+):\s*[0-9]*\.?[0-9]+\s*\)")

DedupKey = tuple[int, str, Any]


def check_model(pack: Pack, doc: Document) -> Iterator[Diagnostic]:
    """The model type's rules and, on a Flux base, Flux's."""
    data = doc.data
    if pack.model.model_type == "faceid":
        for name, ref in data["classes"].items():
            if "weight" in ref and ref["weight"] != 1:
                yield make(
                    "faceid-weight",
                    doc.location(("classes", name, "weight")),
                    f'class "{name}": a faceid tag is written <faceid:ID:1>; its 1 is not a weight, so '
                    f"weight {ref['weight']} cannot be sent: remove it",
                )
        if "token" in data["model"]:
            yield make(
                "faceid-token",
                doc.location(("model", "token")),
                "a faceid pack's {{subject}} is <faceid:ID:1> and the class, with no token: the token is ignored",
            )
    if pack.model.is_flux:
        yield from _check_flux(doc, pack.model.base_tune_id)


def _check_flux(doc: Document, base: int) -> Iterator[Diagnostic]:
    data = doc.data
    places: list[tuple[tuple[str | int, ...], dict[str, Any]]] = [(("defaults",), data.get("defaults") or {})]
    places += [(("prompts", i), entry) for i, entry in enumerate(data["prompts"])]
    on = f"the Flux base {base}"
    for path, values in places:
        if "negative_prompt" in values:
            yield make(
                "flux-negative-prompt",
                doc.location((*path, "negative_prompt")),
                f"{on} does not support negative prompts (Astria answers 422): remove negative_prompt, "
                "and describe what the images should show instead",
            )
        cfg = values.get("cfg_scale")
        if isinstance(cfg, int | float) and cfg >= FLUX_CFG_LIMIT:
            yield make(
                "flux-cfg-scale",
                doc.location((*path, "cfg_scale")),
                f"cfg_scale {cfg} on {on}: it must be less than {FLUX_CFG_LIMIT} (Astria answers 422)",
            )
        if "resolution" in values:
            yield make(
                "flux-resolution",
                doc.location((*path, "resolution")),
                f"{on} has no resolution tiers: remove resolution",
            )
        text = values.get("text")
        match = WEIGHTED_WORDS_RE.search(text) if isinstance(text, str) else None
        if match is not None:
            yield make(
                "flux-weighted-text",
                doc.location((*path, "text")),
                f"{match.group(0)!r}: {on} does not read weighted words; the parentheses and the number "
                "are sent as words",
            )


def dedup_key(template: Template) -> DedupKey:
    """What Astria compares when it dedups a create: the tune, the text and the seed (an omitted seed
    is one value of its own)."""
    return (template.tune_id, template.text, canonical_value("seed", dict(template.params).get("seed")))


def _where(template: Template, pack: Pack | None = None) -> str:
    owner = f" of pack {pack.slug}" if pack is not None else ""
    return f'prompt "{template.key}"{owner} (class {template.class_name}, {template.location})'


def check_dedup(templates: Sequence[Template]) -> Iterator[Diagnostic]:
    """Templates of one pack that Astria would dedup into one. Templates that are the same in every
    parameter are the prompt-duplicate rule's."""
    seen: dict[DedupKey, Template] = {}
    reported: set[tuple[Location, Location]] = set()
    for template in templates:
        first = seen.setdefault(dedup_key(template), template)
        if first is template or first.duplicate_key() == template.duplicate_key():
            continue
        pair = (template.location, first.location)
        if pair in reported:
            continue
        reported.add(pair)
        yield make(
            "prompt-dedup",
            template.location,
            f'prompt "{template.key}" (class {template.class_name}) has the same tune, text and seed as '
            f"{_where(first)}: Astria would answer its create with the other template; "
            "give one of them a distinct seed",
        )


def check_dedup_across(packs: Iterable[tuple[Pack, Sequence[Template]]]) -> Iterator[Diagnostic]:
    """Templates of different packs (each with its expansion) that Astria would dedup into one;
    reported at both places."""
    seen: dict[DedupKey, tuple[Pack, Template]] = {}
    reported: set[tuple[Location, Location]] = set()
    for pack, templates in sorted(packs, key=lambda item: item[0].path):
        own: set[DedupKey] = set()
        for template in templates:
            key = dedup_key(template)
            if key in own:
                continue  # within the pack: check_dedup's
            own.add(key)
            first_pack, first = seen.setdefault(key, (pack, template))
            if first is template or (template.location, first.location) in reported:
                continue
            if first_pack.slug == pack.slug or (pack.id is not None and first_pack.id == pack.id):
                continue  # one pack declared twice: slug-duplicate or id-duplicate says so
            reported.add((template.location, first.location))
            for here, there, pack_there in ((template, first, first_pack), (first, template, pack)):
                yield make(
                    "prompt-dedup",
                    here.location,
                    f'prompt "{here.key}" (class {here.class_name}) has the same tune, text and seed as '
                    f"{_where(there, pack_there)}: Astria would answer one create with the other pack's "
                    f"template; give one of them a distinct seed",
                )
