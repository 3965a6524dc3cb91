"""The check stage: loaded documents in, diagnostics and pack models out.

Order: YAML loading (per file), the JSON Schema (per file), the semantic rules
of one pack (per file), then the rules that span files. A file that fails an
earlier stage is not checked by a later one, since its data cannot be trusted;
every other file still is, so one run reports every problem it can.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packsync.desired.expand import NAME_RE, SUBJECT, Template, expand_pack, placeholders
from packsync.desired.model_rules import check_dedup, check_dedup_across, check_model
from packsync.facts import TUNE_TAG_RE
from packsync.packfiles.diagnostics import Diagnostic, Location, make
from packsync.packfiles.loader import Document, load_file
from packsync.packfiles.pack import Pack, Prompt, pack_from_document
from packsync.packfiles.schema import PACK_SCHEMA, SchemaValidator
from packsync.slug import derive_slug

_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")


@dataclass
class CheckResult:
    packs: list[Pack] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


class PackChecker:
    """Checks pack files; keeps the compiled schema between files."""

    def __init__(self) -> None:
        self.schema = SchemaValidator(PACK_SCHEMA)
        self._templates: dict[int, list[Template]] = {}  # id(pack) -> its templates, expanded once

    def check_files(self, paths: Iterable[tuple[Path, str]]) -> CheckResult:
        """Check ``(path, display name)`` pairs, then the rules across them."""
        result = CheckResult()
        claims: list[Claim] = []
        for path, display in paths:
            result.files += 1
            loaded = load_file(path, display)
            result.diagnostics.extend(loaded.diagnostics)
            if loaded.document is None or any(d.is_error for d in loaded.diagnostics):
                continue
            claims.extend(claim_of(loaded.document))
            pack, found = self.check_document(loaded.document)
            result.diagnostics.extend(found)
            if pack is not None:
                result.packs.append(pack)
        result.diagnostics.extend(check_across(claims))
        expanded = [(pack, self._templates.pop(id(pack))) for pack in result.packs]
        self._templates.clear()
        result.diagnostics.extend(check_dedup_across(expanded))
        result.diagnostics.sort(key=Diagnostic.sort_key)
        return result

    def check_document(self, doc: Document) -> tuple[Pack | None, list[Diagnostic]]:
        found = self.schema.check(doc)
        found.extend(check_strings(doc))
        if any(d.rule != "schema-unknown-key" for d in found if d.rule.startswith("schema-")):
            return None, found
        # Valid, or only unknown keys (typos, mostly): every known value has
        # the right shape, so the semantic rules can run and report too.
        pack = pack_from_document(doc)
        templates = self._templates[id(pack)] = expand_pack(pack)
        found.extend(check_pack(pack, doc, templates))
        if any(d.is_error for d in found):
            return None, found
        return pack, found


def check_experiments(pack: Pack, doc: Document) -> Iterator[Diagnostic]:
    """The rules of the pack's experiments: they name its prompts (a concluded one, its winner
    only), each prompt in one running experiment at most, variants for the control's classes, a
    winner only once concluded."""
    prompts = {p.key: p for p in pack.prompts}
    names: dict[str, int] = {}
    in_use: dict[str, str] = {}  # prompt key -> the running experiment it is an arm of
    for index, experiment in enumerate(pack.experiments):
        base = ("experiments", index)
        if experiment.name in names:
            yield make(
                "experiment-name-duplicate",
                doc.location((*base, "name")),
                f'experiment name "{experiment.name}" is already used at line '
                f"{doc.location(('experiments', names[experiment.name])).line}",
            )
        names.setdefault(experiment.name, index)
        arms = [("control", experiment.control), *((("variants", i), key) for i, key in enumerate(experiment.variants))]
        if experiment.status == "concluded":
            arms = []  # concluding removed the other arms' prompts: only the winner must still be there
        if experiment.winner is not None:
            arms.append(("winner", experiment.winner))
        for where, key in arms:
            if key not in prompts:
                hint = _did_you_mean(key, prompts)
                place = (*base, *where) if isinstance(where, tuple) else (*base, where)
                yield make("experiment-prompt-unknown", doc.location(place), f'no prompt has the key "{key}"{hint}')
        yield from _experiment_arms(pack, doc, index, in_use, prompts)
        concluded = experiment.status == "concluded"
        if concluded != (experiment.winner is not None):
            said = "is concluded but names no winner" if concluded else f"names a winner but is {experiment.status}"
            yield make("experiment-winner", doc.location(base), f'experiment "{experiment.name}" {said}')
        elif experiment.winner is not None and experiment.winner not in experiment.arms:
            yield make(
                "experiment-winner",
                doc.location((*base, "winner")),
                f'the winner "{experiment.winner}" is neither the control nor a variant of "{experiment.name}"',
            )


def _experiment_arms(
    pack: Pack, doc: Document, index: int, in_use: dict[str, str], prompts: dict[str, Prompt]
) -> Iterator[Diagnostic]:
    experiment = pack.experiments[index]
    base = ("experiments", index)
    if experiment.control in experiment.variants:
        yield make(
            "experiment-prompt-reused",
            doc.location((*base, "control")),
            f'"{experiment.control}" is both the control and a variant of "{experiment.name}"',
        )
    if experiment.status == "running":
        for key in dict.fromkeys(experiment.arms):
            if key in in_use:
                yield make(
                    "experiment-prompt-reused",
                    doc.location(base),
                    f'prompt "{key}" is already an arm of the running experiment "{in_use[key]}"; '
                    "a prompt can be in one running experiment at a time",
                )
            in_use.setdefault(key, experiment.name)
    control = prompts.get(experiment.control)
    if control is None:
        return
    classes = set(pack.prompt_classes(control))
    for i, key in enumerate(experiment.variants):
        variant = prompts.get(key)
        if variant is not None and set(pack.prompt_classes(variant)) != classes:
            yield make(
                "experiment-classes-differ",
                doc.location((*base, "variants", i)),
                f'variant "{key}" is for {sorted(pack.prompt_classes(variant))}, its control '
                f'"{experiment.control}" for {sorted(classes)}: an experiment compares the same customers',
            )


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean "x"?`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


def check_strings(doc: Document) -> Iterator[Diagnostic]:
    """Invisible or control characters in the file's strings (the loader lists the candidates)."""
    for path in doc.unprintable:
        value = _at(doc.data, path)
        if not isinstance(value, str):
            continue
        for offset, char in enumerate(value):
            if char in "\n\t":
                continue
            if char in _BIDI:
                yield make(
                    "text-bidi-character",
                    doc.location(path),
                    f"invisible bidirectional character U+{ord(char):04X} at offset {offset}; "
                    "it can make the text read differently from what is sent",
                )
                break
            if unicodedata.category(char) == "Cc":
                yield make(
                    "text-control-character",
                    doc.location(path),
                    f"control character U+{ord(char):04X} at offset {offset}; remove it",
                )
                break


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def check_pack(pack: Pack, doc: Document, templates: Sequence[Template]) -> Iterator[Diagnostic]:
    """The semantic rules of one pack (``templates``: its expansion)."""
    data = doc.data
    if pack.id is None:
        derived = derive_slug(pack.title)
        if pack.slug != derived:
            yield make(
                "slug-title-mismatch",
                doc.location(("slug",)),
                f'slug "{pack.slug}" is not the slug the server derives from the title "{pack.title}", '
                f'which is "{derived}": use slug "{derived}", or pin the existing pack with id',
            )
    characteristics = {c.name for c in pack.characteristics}
    if SUBJECT in characteristics:
        yield make(
            "characteristic-reserved",
            doc.location(("characteristics", SUBJECT), key=True),
            "`subject` is packsync's own placeholder (the class's tune tag) and cannot be declared",
        )
    class_names = [c.name for c in pack.classes]
    if not pack.prompts:
        yield make("prompts-empty", doc.location(("prompts",)), "the pack has no prompts")
    yield from check_experiments(pack, doc)

    used: set[str] = set()
    first_key: dict[str, int] = {}
    reported: set[tuple[str, Location]] = set()
    refused: set[str] = set()  # keys of prompts whose text is an error
    for index, prompt in enumerate(pack.prompts):
        base = ("prompts", index)
        if prompt.key in first_key:
            yield make(
                "prompt-key-duplicate",
                doc.location((*base, "key")),
                f'prompt key "{prompt.key}" is already used by the prompt at line '
                f"{doc.location(('prompts', first_key[prompt.key])).line}; keys must be unique in a pack",
            )
        else:
            first_key[prompt.key] = index
        for i, name in enumerate(prompt.classes or ()):
            if name not in class_names:
                close = difflib.get_close_matches(name, class_names, n=1)
                hint = (
                    f'; did you mean "{close[0]}"?' if close else f"; the pack's classes are: {', '.join(class_names)}"
                )
                yield make(
                    "prompt-class-unknown",
                    doc.location((*base, "classes", i)),
                    f'class "{name}" is not a class of this pack{hint}',
                )
        for found in _check_text(prompt.text, doc.location((*base, "text")), characteristics, used):
            if found.is_error:
                refused.add(prompt.key)
            yield found
        yield from _check_params(doc, data, index, reported)

    for name in sorted(characteristics - used - {SUBJECT}):
        yield make(
            "characteristic-unused",
            doc.location(("characteristics", name), key=True),
            f'characteristic "{name}" is declared but no prompt uses {{{{{name}}}}}',
        )
    yield from _check_duplicates(templates)
    # a prompt whose text is refused here is never sent: it collides with nothing, however many
    # classes repeat it on one POST tune
    yield from check_dedup([t for t in templates if t.key not in refused])
    yield from check_model(pack, doc)


def _check_text(text: str, text_at: Location, characteristics: set[str], used: set[str]) -> Iterator[Diagnostic]:
    """A prompt's placeholders and its subject; adds the characteristics it uses to ``used``."""
    has_subject = False
    for inside, _offset in placeholders(text):
        if inside == SUBJECT:
            has_subject = True
            continue
        if not NAME_RE.match(inside):
            stripped = inside.strip()
            if NAME_RE.match(stripped):
                message = f"write {{{{{stripped}}}}} without spaces inside the braces"
                if stripped == SUBJECT:
                    has_subject = True
            else:
                message = f"{{{{{inside}}}}} is not a valid placeholder; names are letters, digits and _"
            yield make("placeholder-malformed", text_at, message)
            continue
        used.add(inside)
        if inside not in characteristics:
            hint = _did_you_mean(inside, sorted(characteristics | {SUBJECT}))
            yield make(
                "placeholder-undeclared",
                text_at,
                f"placeholder {{{{{inside}}}}} is not declared under characteristics{hint}",
            )
    if not has_subject and not TUNE_TAG_RE.search(text):
        yield make(
            "prompt-no-subject",
            text_at,
            "the text references no fine-tuned model: add {{subject}} (or a literal <lora:ID:1> or <faceid:ID> tag); "
            "Astria rejects such a template",
        )


def _check_params(
    doc: Document, data: dict[str, Any], index: int, reported: set[tuple[str, Location]]
) -> Iterator[Diagnostic]:
    """Combinations of parameters, after the prompt overrides the defaults."""
    defaults = data.get("defaults") or {}
    own = data["prompts"][index]

    def where(name: str) -> Location:
        if name in own:
            return doc.location(("prompts", index, name))
        return doc.location(("defaults", name))

    def effective(name: str) -> Any:
        return own[name] if name in own else defaults.get(name)

    for flag in ("inpaint_faces", "hires_fix"):
        if effective(flag) is True and effective("super_resolution") is not True:
            culprit = flag if flag in own or "super_resolution" not in own else "super_resolution"
            loc = where(culprit)
            if ("param-needs-super-resolution", loc) not in reported:
                reported.add(("param-needs-super-resolution", loc))
                if culprit in own:
                    whose = f'prompt "{own["key"]}" would be rejected'
                else:
                    whose = "every prompt that does not set super_resolution: true itself would be rejected"
                yield make("param-needs-super-resolution", loc, f"{flag} needs super_resolution: true ({whose})")
    has_w, has_h = effective("w") is not None, effective("h") is not None
    if has_w != has_h:
        name = "w" if has_w else "h"
        loc = where(name)
        if ("param-size-pair", loc) not in reported:
            reported.add(("param-size-pair", loc))
            other = "h" if has_w else "w"
            yield make("param-size-pair", loc, f"{name} is set without {other}; set both, or use aspect_ratio")


def _check_duplicates(templates: Sequence[Template]) -> Iterator[Diagnostic]:
    seen: dict[tuple[Any, ...], Template] = {}
    clashes: dict[tuple[Location, Location], list[str]] = {}
    pairs: dict[tuple[Location, Location], tuple[Template, Template]] = {}
    for template in templates:
        first = seen.setdefault(template.duplicate_key(), template)
        if first is template:  # (a prompt gives one template per class: never two alike)
            continue
        pair = (template.location, first.location)
        clashes.setdefault(pair, []).append(template.class_name)
        pairs[pair] = (template, first)
    for pair, classes in clashes.items():
        template, first = pairs[pair]
        noun = "class" if len(classes) == 1 else "classes"
        yield make(
            "prompt-duplicate",
            template.location,
            f'prompt "{template.key}" expands to the same template as prompt "{first.key}" '
            f"(line {first.location.line}) for {noun} {', '.join(classes)}: same text and parameters",
        )


@dataclass(frozen=True)
class Claim:
    """The slug and pinned id a file declares, read even when the rest of the file is invalid."""

    path: str
    slug: str
    location: Location
    id: int | None = None
    id_location: Location | None = None


def claim_of(doc: Document) -> Iterator[Claim]:
    """A file's claim on a slug and an id, when both values have the right type.

    Read straight from the document, so that a clash between two files is
    reported even while either file has other errors (fixing those first would
    only hide the clash until the next run).
    """
    slug, pinned = doc.data.get("slug"), doc.data.get("id")
    if not isinstance(slug, str) or not slug:
        return
    has_id = isinstance(pinned, int) and not isinstance(pinned, bool)
    yield Claim(
        doc.path,
        slug,
        doc.location(("slug",)),
        pinned if has_id else None,
        doc.location(("id",)) if has_id else None,
    )


def check_across(claims: Iterable[Claim]) -> Iterator[Diagnostic]:
    """Rules that span files: slugs and pinned ids are unique."""
    by_slug: dict[str, Claim] = {}
    by_id: dict[int, Claim] = {}
    for claim in sorted(claims, key=lambda c: c.path):
        first = by_slug.setdefault(claim.slug, claim)
        if first is not claim:
            yield make(
                "slug-duplicate",
                claim.location,
                f'slug "{claim.slug}" is already declared by {first.path}; each pack needs its own slug',
            )
        if claim.id is not None:
            pinned = by_id.setdefault(claim.id, claim)
            if pinned is not claim:
                yield make(
                    "id-duplicate",
                    claim.id_location or claim.location,
                    f"pack id {claim.id} is already pinned by {pinned.path}",
                )
