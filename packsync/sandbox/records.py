"""Records shared by the routes: inserting tunes and prompts as the API does (pricing,
idempotent replays), and finding a tune or answering 404."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from packsync.facts import (
    IDEMPOTENCY_ATTRIBUTES,
    PROMPT_PARAM_DEFAULTS,
)
from packsync.sandbox.context import FAIL_MARK, FREE_BRANCHES, PRICE_PER_IMAGE_MC, TUNE_LIFETIME, ApiError, Context
from packsync.sandbox.realism import DEDUP, TUNE_EXPIRY
from packsync.sandbox.store import now_iso
from packsync.sandbox.views import parse_time

if TYPE_CHECKING:
    from packsync.sandbox.app import SandboxApp


def insert_prompt(
    app: SandboxApp, workspace: str, tune: sqlite3.Row, text: str, params: dict[str, Any], **ids: int | None
) -> int:
    """Insert one prompt; ``ids`` are those of :func:`prompt_fields` (pack_id, base_pack_id, ...)."""
    return app.store.insert_prompt(workspace, prompt_fields(app, tune, text, params, **ids))


def prompt_fields(
    app: SandboxApp,
    tune: sqlite3.Row,
    text: str,
    params: dict[str, Any],
    *,
    pack_id: int | None = None,
    base_pack_id: int | None = None,
    orig_prompt_id: int | None = None,
    run_id: int | None = None,
) -> dict[str, Any]:
    """A new prompt's fields as the API makes them (class, price, render time); ``insert_prompt`` stores them."""
    num_images = int(params.get("num_images", 1))
    free = tune["branch"] in FREE_BRANCHES
    return {
        "tune_id": tune["id"],
        "pack_id": pack_id,
        "base_pack_id": base_pack_id,
        "orig_prompt_id": orig_prompt_id,
        "text": text,
        "class_name": app.class_for(tune, text),
        "params": {k: v for k, v in params.items() if k != "callback"},
        "callback": params.get("callback"),
        "num_images": num_images,
        "cost_mc": 0 if free else num_images * PRICE_PER_IMAGE_MC,
        "ready_at": time.time() + app.config.render_delay,
        "user_error": "Image generation failed (sandbox)" if FAIL_MARK in text else None,
        "run_id": run_id,
    }


def same_prompt(app: SandboxApp, workspace: str, tune_id: int, text: str, params: dict[str, Any]) -> sqlite3.Row | None:
    """With idempotency on, the existing prompt this create would duplicate; with dedup, also one of
    the same text and seed whatever the setting."""
    mode = app.idempotency
    if mode == "off" and app.real(DEDUP):
        mode = "text-seed"
    if mode == "off":
        return None
    rows = app.store.same_text_prompts(workspace, tune_id, text)
    found = _same_in(rows, mode, params)
    if found is None and mode == "on" and app.real(DEDUP):
        found = _same_in(rows, "text-seed", params)
    return found


def _same_in(rows: list[sqlite3.Row], mode: str, params: dict[str, Any]) -> sqlite3.Row | None:
    for row in rows:
        stored = json.loads(row["params"])
        stored["callback"] = row["callback"]
        stored["num_images"] = row["num_images"]
        if mode == "text-seed":
            if stored.get("seed") == params.get("seed"):
                return row
            continue
        if all(
            stored.get(a, PROMPT_PARAM_DEFAULTS.get(a)) == params.get(a, PROMPT_PARAM_DEFAULTS.get(a))
            for a in IDEMPOTENCY_ATTRIBUTES
            if a not in ("text", "tune_id")
        ):
            return row
    return None


def insert_tune(app: SandboxApp, workspace: str, fields: dict[str, Any]) -> int:
    """A new tune: "fast" (and instant gemini) tunes are trained at once, others after train_delay."""
    instant = fields.get("branch") in FREE_BRANCHES
    tune_id = app.store.insert_tune(
        workspace, fields, ready_at=time.time() + (0 if instant else app.config.train_delay)
    )
    if instant:
        app.store.finish_tune(tune_id, now_iso())
        if fields.get("callback"):
            app.pending_tune_callbacks.append(tune_id)
    return tune_id


def expired(app: SandboxApp, tune: sqlite3.Row) -> bool:
    """tune-expiry: a tune without auto_extend is gone once its expires_at has passed."""
    if not app.real(TUNE_EXPIRY) or json.loads(tune["data"]).get("auto_extend"):
        return False
    return time.time() > parse_time(tune["created_at"]) + TUNE_LIFETIME


def tune_or_404(app: SandboxApp, ctx: Context, key: str = "tune_id", *, post: bool = False) -> sqlite3.Row:
    """The caller's tune ``ctx.params[key]``; with ``post``, also a gallery base model (to create prompts on)."""
    tune_id = int(ctx.params[key])
    tune = app.store.post_target(ctx.scope, tune_id) if post else app.store.tune(ctx.scope, tune_id)
    if tune is None or expired(app, tune):
        raise ApiError(404, f"Tune {ctx.params[key]} not found")
    return tune
