"""What the realistic behaviours answer: sparse prompt objects, error bodies, the foreign gallery,
model rules. The switches themselves and the realistic clock are in ``realism.py``."""

from __future__ import annotations

import hashlib
import html
import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from packsync.sandbox.httpserver import Response
from packsync.sandbox.store import GALLERY_MODELS, Store

# The prompt fields Astria documents, and the ones its own clients read (A5).
SPARSE_FIELDS = (
    "id",
    "callback",
    "text",
    "negative_prompt",
    "cfg_scale",
    "steps",
    "seed",
    "trained_at",
    "started_training_at",
    "created_at",
    "updated_at",
    "tune_id",
    "url",
    "images",
    "user_error",
    "num_images",
    "aspect_ratio",
    "resolution",
    "cost_mc",
    "pack_id",
    "base_pack_id",
    "orig_prompt_id",
    "order_id",
)

FOREIGN_USER = 2
# Other users' public gallery packs (A3): their slugs are taken for everyone.
GALLERY_PACKS = (
    (260, "corporate-headshots", "Corporate Headshots"),
    (261, "men-s-leather-shoes", "Men's leather shoes"),
    (262, "sport-shirt", "Sport shirt"),
    (263, "sport-shirt-2", "Sport shirt"),
    (264, "test-rv5-1-pack", "test rv5.1 pack"),
)
GALLERY_BASES = frozenset(GALLERY_MODELS)  # Flux1.dev, SDXL 1.0: models of Astria's gallery
FLUX_BASE = 1504944

_FIELD_MESSAGE = re.compile(r"^([a-z_]+) ((?:must|can't|is|are|requires|not) .*)$")
_TAG = re.compile(r"<(?:lora|faceid):(\d+)(?::[0-9.]+)?>\s*")


@dataclass
class PendingRun:
    """A pack run answered but whose prompts are not there yet (async-runs)."""

    pack_id: int
    tune_ids: frozenset[int]
    polls: int = 0


def sparse_prompt(full: dict[str, Any], sent: dict[str, Any], scheduler: str, backend_version: int) -> dict[str, Any]:
    """A prompt as the sparse reading returns it: the known fields, and the account's scheduler and
    backend version where the create left them out."""
    out = {name: full.get(name) for name in SPARSE_FIELDS}
    out["scheduler"] = sent.get("scheduler", scheduler)
    out["backend_version"] = sent.get("backend_version", backend_version)
    return out


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error as Rails and its proxies send them: field errors on a 422, an HTML page on 502/504."""
    if status in (502, 504):
        title = "502 Bad Gateway" if status == 502 else "504 Gateway Time-out"
        page = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        page += f"<!-- {html.escape(message)} --></body></html>\n"
        return Response(status, page.encode(), content_type="text/html", headers=headers or {})
    if status == 422:
        match = _FIELD_MESSAGE.match(message)
        if match is not None:
            return Response.json(status, {match.group(1): [match.group(2)]}, headers)
    return Response.error(status, message, headers)


def seed_gallery(store: Store) -> None:
    """Other users' public packs, unless they are there already."""
    store.begin()
    try:
        for pack_id, slug, title in GALLERY_PACKS:
            if store.pack(None, str(pack_id)) is not None or store.slug_taken(slug):
                continue
            fields = {
                "slug": slug,
                "title": title,
                "base_tune_id": FLUX_BASE,
                "model_type": "lora",
                "public_at": "2024-01-01T00:00:00.000Z",
            }
            store.insert_pack("", fields, pack_id=pack_id, user_id=FOREIGN_USER)
        store.commit()
    except Exception:
        store.rollback()
        raise


def tailed_slug(store: Store, base: str) -> str:
    """A free slug for a taken one: a random-looking tail, derived from the base and the pack count."""
    n = 0
    while True:
        digest = hashlib.sha256(f"{base}:{store.counts()['packs']}:{n}".encode()).hexdigest()
        slug = f"{base}-{digest[:8]}"
        if not store.slug_taken(slug):
            return slug
        n += 1


def class_after_tag(store: Store, text: str) -> str | None:
    """The word right after the first fine-tune tag, past the referenced tune's token if it is there."""
    match = _TAG.search(text)
    if match is None:
        return None
    words = text[match.end() :].split()
    referenced = store.tune(None, int(match.group(1)))
    if words and referenced is not None and words[0] == referenced["token"]:
        words = words[1:]
    return re.sub(r"[^\w-]", "", words[0]) if words else None


def is_gallery_tune(tune: sqlite3.Row) -> bool:
    return tune["id"] in GALLERY_BASES or bool(json.loads(tune["data"]).get("gallery"))


def model_rule_error(tune: sqlite3.Row, text: str) -> str | None:
    """A9: <pti:...> is no tag the API knows; a faceid template renders only on a gallery model."""
    if "<pti:" in text:
        return "text must not use <pti:...>; SDXL references are <lora:ID:W>"
    if "<faceid:" in text and not is_gallery_tune(tune):
        return "tune_id is not a gallery model: inference needs to take place on a model from the gallery"
    return None


def is_flux(tune: sqlite3.Row) -> bool:
    return FLUX_BASE in (tune["id"], tune["base_tune_id"])


def flux_rule_error(tune: sqlite3.Row, params: dict[str, Any]) -> str | None:
    """A9: Flux takes no negative prompt, no cfg_scale of 5 or more, no resolution tier."""
    if not is_flux(tune):
        return None
    if params.get("negative_prompt"):
        return "negative_prompt is not supported on flux"
    if params.get("cfg_scale") is not None and params["cfg_scale"] >= 5:
        return "cfg_scale must be less than 5"
    if params.get("resolution") is not None:
        return "resolution is not supported on flux"
    return None
