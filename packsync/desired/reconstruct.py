"""``packsync import``: pack files written from what an account holds, so that ``plan`` is empty.

Reconstruction, per pack: each template's class is the one the pack detail's
``prompts_per_class`` lists it under, its reference tune the one its tag names
(``import_classes``); the ``<type:tune:weight> token class``
prefix becomes ``{{subject}}`` wherever it matches exactly; templates that are
identical but for their class fold into one prompt with ``classes``;
parameters every prompt shares become ``defaults``; keys come from the words
of the text.

Contract: ``reconstruct`` gives either the data of a pack file that the format
accepts and that describes the account exactly — every value ``plan``
compares (title, model, token, each template's text and parameters) is written
as the account has it — or ``blockers``, the reasons no pack file can (a title
or token the format cannot hold, a template text with a control character, a
parameter outside the format's range, ...). It never gives a file that
``validate`` rejects. What ``plan`` does not compare is made to fit and noted:
a slug the format cannot hold is replaced (the id is pinned, and a pinned pack
is matched by id; see ``file_slug``), a subtitle or preset that does not fit is
left out, tune names become valid class names. The checks come from the pack
schema itself, so the two cannot disagree.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from packsync.desired.expand import NAME_RE, PLACEHOLDER_RE, SUBJECT, expand_text, format_weight, subject_for
from packsync.desired.identity import canonical_params
from packsync.desired.import_classes import ClassKey, ImportedClass, build_classes, class_keys, reference_of
from packsync.facts import ACCOUNT_FILLED, GENERATION_PARAMS, MODEL_TYPES, TUNE_TAG_RE, ModelType, model_type_of_wire
from packsync.packfiles.fastschema import Check, Compiler
from packsync.packfiles.pack import DEFAULT_TOKEN
from packsync.packfiles.schema import PACK_SCHEMA, load_schema
from packsync.slug import derive_slug

_WORD = re.compile(r"[a-z0-9]+")
# Words that make a poor key: articles, prepositions, tokens and "photo"-like filler.
_STOP_WORDS = """
a an the of in on at by for to with and or from into onto over under as is are be
ohwx sks photo photograph image picture portrait shot
"""
_STOP = frozenset(_STOP_WORDS.split())
KEY_WORDS = 4
# Limits of the pack format (schemas/pack.schema.json) that an account's values may exceed.
MAX_SLUG = 200
MAX_PROMPTS = 2000
_SLUG_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
EXTRA_FIELDS = ("ar", "controlnet", "controlnet_conditioning_scale", "controlnet_txt2img", "input_image_url")
# Where each value a pack file holds is defined in the pack schema.
_ID = ("properties", "id")
_TITLE = ("properties", "title")
_SUBTITLE = ("properties", "subtitle")
_MODEL = ("properties", "model", "properties")
_TUNE_ID = ("$defs", "classRef", "properties", "tune_id")
_TEXT = ("$defs", "prompt", "properties", "text")
_CHARACTERISTIC_NAME = ("properties", "characteristics", "propertyNames")
_PARAM = ("$defs", "generationParams", "properties")
WEB_UI = "change it in the Astria web UI, then import the pack again"


@dataclass(frozen=True)
class ImportedPack:
    """One pack of the account as a pack file: ``data`` to write, unless ``blockers`` say why no file can hold it."""

    id: int
    account_slug: str  # as the account has it; ``data["slug"]`` is what the file says
    data: dict[str, Any]
    templates: int
    notes: tuple[str, ...] = ()
    blockers: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        return str(self.data["slug"])

    @property
    def label(self) -> str:
        """The pack as messages name it: its slug on the account (escaped) and its id."""
        return f"{shown(self.account_slug)} (#{self.id})"

    @property
    def empty(self) -> bool:
        """No template, so no class: nothing a file could declare."""
        return not self.data["classes"]

    def with_slug(self, slug: str) -> ImportedPack:
        """The same pack with the slug its file declares, noted when it is not the account's."""
        if slug == self.account_slug:
            return self
        why = "is not one a pack file can hold" if not holdable_slug(self.account_slug) else "is another file's slug"
        note = (
            f"the pack's slug {shown(self.account_slug)} {why}; written as {slug!r} "
            "(the id is pinned, and plan matches a pinned pack by its id)"
        )
        return dataclasses.replace(self, data={**self.data, "slug": slug}, notes=(note, *self.notes))


def shown(value: Any, limit: int = 60) -> str:
    """A value from the account, safe to print: escaped (control and bidi characters), long strings cut."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[: limit - 3] + '...'!r} ({len(value):,} characters)"
    return repr(value)


@cache
def _check(path: tuple[str, ...]) -> Check:
    schema = load_schema(PACK_SCHEMA)
    node: Any = schema
    for part in path:
        node = node[part]
    return Compiler(schema).compile(node)


def _fits(value: Any, path: tuple[str, ...]) -> bool:
    """Whether the pack schema accepts ``value`` where ``path`` points."""
    return _check(path)(value)


def _allowed(path: tuple[str, ...]) -> str:
    """What the pack schema accepts where ``path`` points, in words."""
    node: Any = load_schema(PACK_SCHEMA)
    for part in path:
        node = node[part]
    if "enum" in node:
        return "one of " + ", ".join("null" if v is None else str(v) for v in node["enum"])
    kind = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false"}
    words = kind.get(str(node.get("type")), "a value")
    if "minimum" in node and "maximum" in node:
        words += f" from {node['minimum']:,} to {node['maximum']:,}"
    elif "minimum" in node:
        words += f" of at least {node['minimum']:,}"
    if "maxLength" in node:
        least = node.get("minLength", 0)
        words += (
            f" of {least} to {node['maxLength']:,} characters"
            if least
            else f" of at most {node['maxLength']:,} characters"
        )
    extras = [words]
    if "multipleOf" in node:
        extras.append(f"a multiple of {node['multipleOf']}")
    if "pattern" in node:
        extras.append(f"matching {node['pattern']}")
    return ", ".join(extras)


def _unwritable(text: str) -> str | None:
    """The first character of a text that a pack file cannot hold: control characters but newline and tab
    (validate's text-control-character), and lone surrogates (no file can be written with one)."""
    for char in text:
        if char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cs"):
            return f"U+{ord(char):04X}"
    return None


def _value_problem(what: str, value: Any, path: tuple[str, ...]) -> str | None:
    """Why a pack file cannot hold ``value`` as ``what``; None when it can."""
    if not _fits(value, path):
        return f"its {what} {shown(value)} is not one a pack file can hold ({_allowed(path)})"
    if isinstance(value, str):
        bad = _unwritable(value)
        if bad is not None:
            return f"its {what} contains the control character {bad}, which a pack file cannot hold"
    return None


def is_tune_id(value: Any) -> bool:
    """Whether a template's ``tune_id`` is a tune id a class can name (an integer, as the API gives it)."""
    return type(value) is int and _fits(value, _TUNE_ID)


def reference_tunes(summary: Mapping[str, Any], templates: Sequence[Mapping[str, Any]]) -> list[int]:
    """The tunes the classes of a live pack's templates reference (A9), read as ``reconstruct`` reads
    the pack's model type: those whose names name a class the pack detail does not."""
    wire = summary.get("model_type", "lora")
    kind = (model_type_of_wire(wire) if isinstance(wire, str | None) else None) or MODEL_TYPES["lora"]
    return sorted({reference_of(t, kind, is_tune_id) for t in templates if is_tune_id(t.get("tune_id"))})


def holdable_slug(value: Any) -> bool:
    """Whether a pack file can declare ``value`` as its slug."""
    return isinstance(value, str) and len(value) <= MAX_SLUG and _SLUG_RE.fullmatch(value) is not None


def file_slug(pack: ImportedPack, taken: Collection[str]) -> str:
    """The slug a pack's file declares: the account's when a file can hold it and ``taken`` does not have it.

    Otherwise one made from it (``../../etc/evil`` -> ``etc-evil``), or from the title,
    or ``pack-<id>``, with ``-<id>`` added when that is taken too. A pinned pack is
    matched by id, never by slug (validate's slug-title-mismatch rule applies to
    unpinned packs only), so the slug of an imported file is free to differ.
    """
    if holdable_slug(pack.account_slug) and pack.account_slug not in taken:
        return pack.account_slug
    base = ""
    for source in (pack.account_slug, pack.data.get("title")):
        if isinstance(source, str):
            base = derive_slug(source)[:MAX_SLUG].strip("-")
        if base:
            break
    base = base or f"pack-{pack.id}"
    if base not in taken:
        return base
    for n in itertools.count(1):
        suffix = f"-{pack.id}" if n == 1 else f"-{pack.id}-{n}"
        slug = base[: MAX_SLUG - len(suffix)].rstrip("-") + suffix
        if slug not in taken:
            return slug
    raise AssertionError("unreachable")


def _key_from(text: str, used: set[str]) -> str:
    cleaned = TUNE_TAG_RE.sub(" ", PLACEHOLDER_RE.sub(" ", text.lower()))
    words = [w for w in _WORD.findall(cleaned) if w not in _STOP]
    base = "-".join(words[:KEY_WORDS])[:48].strip("-") or "prompt"
    key, n = base, 1
    while key in used:
        n += 1
        key = f"{base}-{n}"
    used.add(key)
    return key


def _weight(text: str) -> float | int | None:
    """The class weight a tag's weight text stands for; None when no weight a pack file allows writes it back."""
    try:
        value = float(text)
    except ValueError:
        return None
    weight = int(value) if value.is_integer() else value
    if not 0 <= weight <= 2 or format_weight(weight) != text:
        return None
    return weight


@dataclass
class _PackFields:
    title: Any
    model_type: Any
    token: Any
    base_tune_id: Any
    subtitle: Any
    preset: Any


def _pack_fields(
    summary: Mapping[str, Any],
    detail: Mapping[str, Any],
    pack_id: Any,
    account_slug: str,
    notes: list[str],
    blockers: list[str],
) -> _PackFields:
    """The pack's own fields. What plan compares with the account is written as the account has
    it, or the pack is blocked; what plan compares only when the file sets it is left out."""
    if "title" in summary:
        title = summary["title"]
        problem = _value_problem("title", title, _TITLE)
        if problem is not None:
            blockers.append(problem)
    else:
        title = account_slug if holdable_slug(account_slug) else f"pack {pack_id}"
        notes.append(f"the account does not report the pack's title; written as {title!r}")
    model_type: Any = "lora"
    if "model_type" not in summary:
        notes.append("the account does not report the pack's model_type; written as 'lora'")
    else:
        # the file's name for the account's value (a checkpoint's null); one no file can name stays, to block
        known = model_type_of_wire(summary["model_type"]) if isinstance(summary["model_type"], str | None) else None
        model_type = summary["model_type"] if known is None else known.name
    problem = _value_problem("model_type", model_type, (*_MODEL, "model_type"))
    if problem is not None:
        blockers.append(problem)
    token: Any = summary.get("token", DEFAULT_TOKEN)
    problem = _value_problem("token", token, (*_MODEL, "token"))
    if problem is not None and _kind(model_type).uses_token:
        blockers.append(problem)
    base_tune_id = summary.get("base_tune_id")
    if "base_tune_id" not in summary:
        blockers.append("the account does not report the pack's base model (base_tune_id)")
    elif not _fits(base_tune_id, (*_MODEL, "base_tune_id")):
        blockers.append(f"its base_tune_id {shown(base_tune_id)} is not one a pack file can hold (a tune id)")
    subtitle = detail.get("subtitle")
    if subtitle not in (None, "") and (problem := _value_problem("subtitle", subtitle, _SUBTITLE)) is not None:
        notes.append(f"{problem}; left out (plan compares a subtitle only when the file sets one)")
        subtitle = None
    preset = detail.get("preset")
    if preset is not None and not _fits(preset, (*_MODEL, "preset")):
        notes.append(f"its preset {shown(preset)} is not one a pack file can hold; left out")
        preset = None

    return _PackFields(title, model_type, token, base_tune_id, subtitle, preset)


def _kind(model_type: Any) -> ModelType:
    """The model type a pack is read back as (one no file can name is blocked already: read it as lora)."""
    return MODEL_TYPES.get(model_type, MODEL_TYPES["lora"]) if isinstance(model_type, str) else MODEL_TYPES["lora"]


def _prompts(
    usable: Sequence[Mapping[str, Any]],
    classes: dict[ClassKey, ImportedClass],
    keys: Mapping[Any, ClassKey],
    model_type: str,
    token: str,
    notes: list[str],
    blockers: list[str],
) -> tuple[list[dict[str, Any]], set[str]]:
    """The prompts (templates that differ only in their class folded into one) and the
    placeholders they use."""
    entries: dict[tuple[str, tuple[tuple[str, Any], ...]], list[str]] = {}
    placeholders: set[str] = set()
    # (POST tune, text, seed) -> the first template and its parameters: Astria takes two alike for one
    # (validate's prompt-dedup), so a file cannot hold both. The POST tune is the one the file's
    # model type creates templates on (A9), whatever tune the account's templates sit on.
    on_base = _kind(model_type).posts_on == "base"
    dedup: dict[tuple[int, str, Any], tuple[Any, tuple[tuple[str, Any], ...]]] = {}
    for t in usable:
        cls = classes[keys[t["id"]]]
        found = _template(t, cls, str(model_type), str(token))
        notes.extend(found.notes)
        blockers.extend(found.blockers)
        if found.blockers:
            continue
        key = (0 if on_base else cls.tune_id, found.text, dict(found.params).get("seed"))
        first_id, first_params = dedup.setdefault(key, (t["id"], found.params))
        if first_params != found.params:
            blockers.append(
                f"templates #{first_id} and #{t['id']}: the same tune, text and seed with other parameters, "
                "which Astria takes for one template; a pack file cannot hold both (give one another seed)"
            )
            continue
        placeholders.update(found.placeholders)
        entries.setdefault((found.text, found.params), []).append(cls.name)

    class_order = [c.name for c in classes.values()]
    prompts: list[dict[str, Any]] = []
    used_keys: set[str] = set()
    for (text, params), names in entries.items():
        prompt: dict[str, Any] = {"key": _key_from(text, used_keys)}
        unique = sorted(set(names), key=class_order.index)
        if len(names) != len(unique):
            notes.append(f"prompt {prompt['key']}: the account holds {len(names) - len(unique)} extra identical copies")
        if unique != class_order:
            prompt["classes"] = unique
        prompt["text"] = text
        prompt.update(params)
        prompts.append(prompt)
    if len(prompts) > MAX_PROMPTS:
        blockers.append(f"it has {len(prompts):,} different templates; a pack file holds at most {MAX_PROMPTS:,}")

    return prompts, placeholders


def _factor_defaults(prompts: list[dict[str, Any]]) -> dict[str, Any]:
    """Parameters that every prompt shares become the pack's defaults (taken off the prompts)."""
    defaults: dict[str, Any] = {}
    if len(prompts) >= 2:
        for name in GENERATION_PARAMS:
            values = [p.get(name, _MISSING) for p in prompts]
            if values[0] is not _MISSING and all(v == values[0] and type(v) is type(values[0]) for v in values):
                defaults[name] = values[0]
        for prompt in prompts:
            for name in defaults:
                del prompt[name]

    return defaults


def reconstruct(
    summary: Mapping[str, Any],
    detail: Mapping[str, Any] | None,
    templates: Sequence[Mapping[str, Any]],
    tune_names: Mapping[int, str | None],
) -> ImportedPack:
    """Pack file data from a live pack, its templates and the names of the tunes their tags reference.

    ``summary`` is the pack as the pack list shows it (its ``id`` an integer), ``detail``
    what ``GET /p/:id`` adds (``prompts_per_class`` names each template's class); ``tune_names``
    names the reference tunes (None: gone), for templates the detail does not place. The slug in
    the data is the file's slug when nothing else claims it; ``import`` makes it unique across
    files (``file_slug``, ``with_slug``).
    """
    notes: list[str] = []
    blockers: list[str] = []
    detail = detail or {}
    pack_id = summary["id"]
    if not _fits(pack_id, _ID):
        blockers.append(f"its id {pack_id!r} is not one a pack file can pin ({_allowed(_ID)})")
    account_slug = "" if summary.get("slug") is None else str(summary["slug"])

    fields = _pack_fields(summary, detail, pack_id, account_slug, notes, blockers)
    title, model_type, token, base_tune_id = fields.title, fields.model_type, fields.token, fields.base_tune_id
    subtitle, preset = fields.subtitle, fields.preset
    # Classes: as the account groups the templates (prompts_per_class), each with the tune its tag
    # references (A9); never the tune a template sits on, which may be the pack's base model.
    ordered = sorted(templates, key=lambda t: int(t["id"]))
    usable = []
    for t in ordered:
        if is_tune_id(t.get("tune_id")):
            usable.append(t)
        else:
            blockers.append(f"template #{t['id']}: its tune_id {shown(t.get('tune_id'))} is not a tune id")
    kind = _kind(model_type)
    keys = class_keys(usable, detail, tune_names, kind, is_tune_id, notes)
    classes = build_classes(usable, keys, tune_names, kind, notes, shown, _weight)
    prompts, placeholders = _prompts(usable, classes, keys, str(model_type), str(token), notes, blockers)
    defaults = _factor_defaults(prompts)

    data: dict[str, Any] = {"slug": account_slug, "title": title}
    if subtitle not in (None, ""):
        data["subtitle"] = subtitle
    data["id"] = pack_id
    model: dict[str, Any] = {"base_tune_id": base_tune_id, "model_type": model_type}
    if _kind(model_type).uses_token:
        model["token"] = token  # a faceid pack's templates never write it: plan does not compare it
    if preset is not None:
        model["preset"] = preset
    data["model"] = model
    data["classes"] = {
        c.name: ({"tune_id": c.tune_id} if c.weight == 1 else {"tune_id": c.tune_id, "weight": c.weight})
        for c in classes.values()
    }
    if not classes:
        notes.append("the pack has no templates, so no class could be recovered: no file is written for it")
    if placeholders:
        data["characteristics"] = {
            name: {"description": "run-time value (imported from the account)"} for name in sorted(placeholders)
        }
    if defaults:
        data["defaults"] = defaults
    data["prompts"] = prompts
    imported = ImportedPack(pack_id, account_slug, data, len(templates), tuple(notes), tuple(blockers))
    if holdable_slug(account_slug):
        return imported
    # a slug the format accepts (without the note: import notes the slug it finally gives, see with_slug)
    return dataclasses.replace(imported, data={**data, "slug": file_slug(imported, ())})


@dataclass(frozen=True)
class _Found:
    """One live template as a prompt: its text and parameters in the file, or why it cannot be one."""

    text: str
    params: tuple[tuple[str, Any], ...]
    placeholders: frozenset[str]
    notes: tuple[str, ...]
    blockers: tuple[str, ...]


def _template(t: Mapping[str, Any], cls: ImportedClass, model_type: str, token: str) -> _Found:
    notes: list[str] = []
    blockers: list[str] = []
    where = f"template #{t['id']}"
    text = str(t.get("text") or "").strip()  # as plan reads it: surrounding whitespace is not part of identity
    if "{{" + SUBJECT + "}}" in text:
        blockers.append(f"{where}: its text contains {{{{subject}}}} literally, which a pack file would expand")
    kind = _kind(model_type)
    prefix = subject_for(kind, token, cls.name, cls.tune_id, cls.weight)
    with_subject = text.replace(prefix, "{{" + SUBJECT + "}}")
    if prefix in text and expand_text(with_subject, prefix) == text:
        text = with_subject
    elif prefix in text:
        notes.append(f"{where}: kept its tune tag literally ({{{{subject}}}} would not read back as it)")
    elif TUNE_TAG_RE.search(text):
        notes.append(f"{where}: kept its tune tag literally (it does not match {shown(prefix)})")
    elif text:
        needs = "a <lora:ID:W> or <faceid:ID> tag" if kind.tag else f"a tag or {shown(prefix)}"
        blockers.append(f"{where}: its text has neither {{{{subject}}}} nor {needs}, which a pack file's prompt needs")
    if not text:
        blockers.append(f"{where}: its text is empty")
    else:
        problem = _value_problem("text", text, _TEXT)
        if problem is not None:
            blockers.append(f"{where}: {problem}")
    names: set[str] = set()
    for inside in PLACEHOLDER_RE.findall(text):
        if inside == SUBJECT:
            continue
        if NAME_RE.match(inside) and _fits(inside, _CHARACTERISTIC_NAME):
            names.add(inside)
        else:
            blockers.append(
                f"{where}: its placeholder {shown('{{' + inside + '}}')} is not one a pack file can declare "
                "(a name of letters, digits and _, at most 50 characters)"
            )
    params = canonical_params(t)
    kept = []
    for name, value in params:
        problem = _value_problem(name, value, (*_PARAM, name))
        if problem is not None and name in ACCOUNT_FILLED:
            # the account's own setting, filled in where a create left it out (A5): not the template's
            notes.append(
                f"{where}: its {name} {shown(value)} is the account's setting, not one a file can set; left out"
            )
            continue
        if problem is not None:
            blockers.append(f"{where}: {problem}")
        kept.append((name, value))
    params = tuple(kept)
    given = dict(params)
    for flag in ("inpaint_faces", "hires_fix"):
        if given.get(flag) is True and given.get("super_resolution") is not True:
            blockers.append(f"{where}: it sets {flag} without super_resolution, which a pack file cannot hold")
    extra = sorted(k for k in EXTRA_FIELDS if t.get(k) not in (None, False, ""))
    if extra:
        notes.append(f"{where}: {', '.join(extra)} cannot be expressed in a pack file and is left out")
    return _Found(text, params, frozenset(names), tuple(notes), tuple(blockers))


_MISSING = object()
