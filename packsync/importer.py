"""``packsync import``: pack files written from what an account holds, so that ``plan`` is empty.

Reconstruction, per pack: each template's class is the name of the tune it
was created on (its reference tune); the ``<type:tune:weight> token class``
prefix becomes ``{{subject}}`` wherever it matches exactly; templates that are
identical but for their class fold into one prompt with ``classes``;
parameters every prompt shares become ``defaults``; keys come from the words
of the text. Anything that cannot be expressed in the format is kept
literally where possible, and always listed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packsync.aio import gather_all
from packsync.astria import TUNE_TAG_RE
from packsync.client import AstriaClient, NotFound
from packsync.expand import NAME_RE, PLACEHOLDER_RE, SUBJECT, expand_text, format_weight
from packsync.identity import canonical_params
from packsync.model import GENERATION_PARAMS

_WORD = re.compile(r"[a-z0-9]+")
# Words that make a poor key: articles, prepositions, tokens and "photo"-like filler.
_STOP_WORDS = """
a an the of in on at by for to with and or from into onto over under as is are be
ohwx sks photo photograph image picture portrait shot
"""
_STOP = frozenset(_STOP_WORDS.split())
KEY_WORDS = 4
# Limits of the pack format (schemas/pack.schema.json) that an account's values may exceed.
MAX_CLASS_NAME = 50
_SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_]+$")
_MODEL_TYPES = ("lora", "faceid", "pti")
_PRESETS = ("flux-lora-focus", "flux-lora-portrait", "flux-lora-fast")


@dataclass
class ImportedPack:
    slug: str
    data: dict[str, Any]
    templates: int
    notes: list[str] = field(default_factory=list)


@dataclass
class _Class:
    name: str
    tune_id: int
    weight: float | int = 1


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


def _unwritable(text: str) -> str | None:
    """The first character of a text that a pack file cannot hold (control characters but newline and tab)."""
    for char in text:
        if char not in "\n\t" and (unicodedata.category(char) in ("Cc", "Cs") or char in "\ufffe\uffff"):
            return f"U+{ord(char):04X}"
    return None


def reconstruct(
    summary: Mapping[str, Any],
    detail: Mapping[str, Any] | None,
    templates: Sequence[Mapping[str, Any]],
    tune_names: Mapping[int, str | None],
) -> ImportedPack:
    """Pack file data from a live pack, its templates and the names of the tunes they were created on."""
    notes: list[str] = []
    slug = str(summary.get("slug") or f"pack-{summary['id']}")
    model_type = str(summary.get("model_type") or "lora")
    if summary.get("model_type") not in _MODEL_TYPES:
        notes.append(
            f"the pack's model_type is {summary.get('model_type')!r}, which a pack file cannot hold; "
            "written as 'lora' (plan shows the difference as a manual change)"
        )
    token = str(summary.get("token") or "ohwx")
    detail = detail or {}

    # Classes: one per reference tune (the tune a template was created on).
    ordered = sorted(templates, key=lambda t: int(t["id"]))
    classes: dict[int, _Class] = {}
    names_used: set[str] = set()
    for t in ordered:
        tune_id = int(t["tune_id"])
        if tune_id in classes:
            continue
        if tune_id not in tune_names or tune_names[tune_id] is None:
            notes.append(f"tune {tune_id}: it no longer exists (or has no name); its class is named 'class-{tune_id}'")
        name = tune_names.get(tune_id) or f"class-{tune_id}"
        name = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or f"class-{tune_id}"
        if not name[0].isalpha():
            name = f"c-{name}"
        # a class name has at most MAX_CLASS_NAME characters, with room for a "-N" suffix
        name = name[:MAX_CLASS_NAME].rstrip("-")
        base, n = name[: MAX_CLASS_NAME - 4].rstrip("-"), 1
        while name in names_used:
            n += 1
            name = f"{base}-{n}"
        if tune_names.get(tune_id) and name != tune_names.get(tune_id):
            notes.append(
                f"tune {tune_id}: class named {name!r} (its name {tune_names.get(tune_id)!r} "
                "is not a usable class name, or another tune's class has it)"
            )
        names_used.add(name)
        classes[tune_id] = _Class(name, tune_id)
    # The weight each class's {{subject}} uses: the most common one in its tags.
    for cls in classes.values():
        weights = Counter(
            weight
            for t in ordered
            if int(t["tune_id"]) == cls.tune_id
            for m in TUNE_TAG_RE.finditer(str(t.get("text") or ""))
            if int(m.group(2)) == cls.tune_id and (weight := _weight(m.group(3))) is not None
        )
        if weights:
            cls.weight = weights.most_common(1)[0][0]

    # Each template as (text with {{subject}} where it matches, parameters, class).
    entries: dict[tuple[str, tuple[tuple[str, Any], ...]], list[str]] = {}
    placeholders: set[str] = set()
    for t in ordered:
        cls = classes[int(t["tune_id"])]
        text = str(t.get("text") or "").strip()
        if "{{" + SUBJECT + "}}" in text:
            notes.append(
                f"template #{t['id']}: its text contains {{{{subject}}}} literally, which packsync would expand"
            )
        prefix = f"<{model_type}:{cls.tune_id}:{format_weight(cls.weight)}> {token} {cls.name}"
        with_subject = text.replace(prefix, "{{" + SUBJECT + "}}")
        if prefix in text and expand_text(with_subject, prefix) == text:
            text = with_subject
        elif prefix in text:
            notes.append(
                f"template #{t['id']}: kept its tune tag literally ({{{{subject}}}} would not read back as it)"
            )
        elif TUNE_TAG_RE.search(text):
            notes.append(f"template #{t['id']}: kept its tune tag literally (it does not match {prefix!r})")
        else:
            notes.append(f"template #{t['id']}: its text has no tune tag; validate will report it")
        for what, value in (("text", text), ("negative_prompt", str(t.get("negative_prompt") or ""))):
            bad = _unwritable(value)
            if bad is not None:
                notes.append(
                    f"template #{t['id']}: its {what} contains the control character {bad}, "
                    "which a pack file cannot hold; validate will report it"
                )
        for inside in PLACEHOLDER_RE.findall(text):
            if inside == SUBJECT:
                continue
            if NAME_RE.match(inside):
                placeholders.add(inside)
            else:
                notes.append(f"template #{t['id']}: placeholder {{{{{inside}}}}} is not a valid name; kept as is")
        extra = sorted(
            k
            for k in ("ar", "controlnet", "controlnet_conditioning_scale", "controlnet_txt2img", "input_image_url")
            if t.get(k) not in (None, False, "")
        )
        if extra:
            notes.append(f"template #{t['id']}: {', '.join(extra)} cannot be expressed in a pack file and is left out")
        params = canonical_params(t)
        entries.setdefault((text, params), []).append(cls.name)

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

    # Parameters that every prompt shares become the pack's defaults.
    defaults: dict[str, Any] = {}
    if len(prompts) >= 2:
        for name in GENERATION_PARAMS:
            values = [p.get(name, _MISSING) for p in prompts]
            if values[0] is not _MISSING and all(v == values[0] and type(v) is type(values[0]) for v in values):
                defaults[name] = values[0]
        for prompt in prompts:
            for name in defaults:
                del prompt[name]

    data: dict[str, Any] = {"slug": slug, "title": str(summary.get("title") or slug)}
    if detail.get("subtitle"):
        data["subtitle"] = detail["subtitle"]
    data["id"] = int(summary["id"])
    model: dict[str, Any] = {"base_tune_id": summary.get("base_tune_id"), "model_type": model_type, "token": token}
    if detail.get("preset"):
        model["preset"] = detail["preset"]
    if model["base_tune_id"] is None:
        notes.append("the pack has no base_tune_id; fill it in before validating")
        model["base_tune_id"] = 0
    data["model"] = model
    checks: tuple[tuple[str, Any, bool], ...] = (
        ("slug", slug, len(slug) <= 200 and _SLUG_RE.match(slug) is not None),
        ("title", data["title"], 1 <= len(data["title"]) <= 200),
        (
            "subtitle",
            data.get("subtitle"),
            isinstance(data.get("subtitle", ""), str) and len(data.get("subtitle", "")) <= 500,
        ),
        ("model.token", token, len(token) <= 50 and _TOKEN_RE.match(token) is not None),
        ("model.preset", model.get("preset"), model.get("preset") in (None, *_PRESETS)),
        (
            "model.base_tune_id",
            model["base_tune_id"],
            summary.get("base_tune_id") is None or model["base_tune_id"] >= 1,
        ),
    )
    for what, value, fits in checks:
        if not fits:
            notes.append(f"the pack's {what} {value!r} is not one a pack file allows; validate will report it")
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
    return ImportedPack(slug, data, len(templates), notes)


_MISSING = object()


async def read_for_import(client: AstriaClient, summary: Mapping[str, Any]) -> ImportedPack:
    """Read one pack's detail, templates and tune names, and reconstruct its file."""
    pack_id = int(summary["id"])
    detail, templates = await gather_all(client.get_pack(pack_id), client.pack_templates(pack_id))

    async def name_of(tune_id: int) -> tuple[int, str | None]:
        try:
            tune = await client.get_tune(tune_id)
        except NotFound:
            return tune_id, None
        return tune_id, str(tune.get("name") or "") or None

    tune_ids = sorted({int(t["tune_id"]) for t in templates})
    names = dict(await gather_all(*(name_of(t) for t in tune_ids)))
    return reconstruct(
        {**summary, **{k: detail[k] for k in ("title", "token") if k in detail}}, detail, templates, names
    )
