"""Prompts: template prompts, the prompts of runs, likes."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from packsync.facts import (
    NOT_FINE_TUNED,
    OFFSET_MAX_PROMPTS,
    PROMPT_PATCHABLE,
    TUNE_TAG_RE,
)
from packsync.sandbox.context import ApiError, Context
from packsync.sandbox.httpserver import Response
from packsync.sandbox.params import clean_prompt_params, int_param, page_params
from packsync.sandbox.records import insert_prompt, same_prompt, tune_or_404

if TYPE_CHECKING:
    from packsync.sandbox.app import SandboxApp


def create_prompt(app: SandboxApp, ctx: Context) -> Response:
    tune = tune_or_404(app, ctx)
    spec = ctx.root("prompt")
    text = spec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(422, "text can't be blank")
    params = clean_prompt_params(spec)
    pack_id = int_param(spec.get("pack_id"), "pack_id", optional=True)
    base_pack_id = int_param(spec.get("base_pack_id"), "base_pack_id", optional=True)
    if pack_id is not None:
        if app.store.pack(ctx.scope, str(pack_id)) is None:
            raise ApiError(404, f"Pack {pack_id} not found")
        if not TUNE_TAG_RE.search(text):
            raise ApiError(422, NOT_FINE_TUNED)
    existing = same_prompt(app, ctx.workspace, tune["id"], text, params)
    if existing is not None:
        # The documented idempotent replay: the existing prompt comes back,
        # whatever pack it belongs to.
        return Response.json(200, app.prompt_json(existing))
    prompt_id = insert_prompt(app, ctx.workspace, tune, text, params, pack_id=pack_id, base_pack_id=base_pack_id)
    row = app.store.prompt(None, prompt_id)
    assert row is not None
    return Response.json(201, app.prompt_json(row))


def _prompt_or_404(app: SandboxApp, ctx: Context) -> sqlite3.Row:
    row = app.store.prompt(ctx.scope, int(ctx.params["prompt_id"]))
    if row is None or ("tune_id" in ctx.params and row["tune_id"] != int(ctx.params["tune_id"])):
        raise ApiError(404, f"Prompt {ctx.params['prompt_id']} not found")
    return row


def get_prompt(app: SandboxApp, ctx: Context) -> Response:
    return Response.json(200, app.prompt_json(_prompt_or_404(app, ctx)))


def list_prompts(app: SandboxApp, ctx: Context) -> Response:
    before_id, limit, offset = page_params(ctx, OFFSET_MAX_PROMPTS)
    request = ctx.request
    filters: dict[str, Any] = {}
    for column in ("pack_id", "base_pack_id", "tune_id", "orig_prompt_id"):
        value = request.arg(column)
        if value is not None:
            filters[column] = int_param(value, column)
    if "tune_id" in ctx.params:
        filters["tune_id"] = int(ctx.params["tune_id"])
    if request.arg("liked") == "true":
        filters["liked"] = True
    if request.arg("text"):
        filters["text"] = request.arg("text")
    rows = app.store.prompts(ctx.scope, filters, before_id, limit, offset)
    return Response.json(200, [app.prompt_json(r) for r in rows])


def update_prompt(app: SandboxApp, ctx: Context) -> Response:
    row = _prompt_or_404(app, ctx)
    spec = ctx.root("prompt")
    other = sorted(k for k in spec if k not in PROMPT_PATCHABLE)
    if other:
        raise ApiError(422, f"Only {', '.join(PROMPT_PATCHABLE)} can be changed; not {', '.join(other)}")
    changes: dict[str, Any] = {}
    for name in ("pack_id", "base_pack_id", "orig_prompt_id"):
        if name in spec:
            changes[name] = int_param(spec[name], name, optional=True)
    if changes.get("pack_id") is not None:
        if app.store.pack(ctx.scope, str(changes["pack_id"])) is None:
            raise ApiError(404, f"Pack {changes['pack_id']} not found")
        if not TUNE_TAG_RE.search(row["text"]):
            raise ApiError(422, NOT_FINE_TUNED)
    if "workspace_id" in spec:
        changes["workspace"] = str(spec["workspace_id"] or "")
    if changes:
        app.store.update_prompt(row["id"], changes)
    fresh = app.store.prompt(None, row["id"])
    assert fresh is not None
    return Response.json(200, app.prompt_json(fresh))


def delete_prompt(app: SandboxApp, ctx: Context) -> Response:
    row = _prompt_or_404(app, ctx)
    app.store.delete_prompt(row["id"])
    return Response.json(200, {"message": "Prompt successfully deleted"})


def duplicate_prompt(app: SandboxApp, ctx: Context) -> Response:
    row = _prompt_or_404(app, ctx)
    tune = app.store.tune(None, row["tune_id"])
    if tune is None:
        raise ApiError(422, "the prompt's tune no longer exists")
    spec = ctx.root("prompt") if "prompt" in ctx.body() else {}
    params = json.loads(row["params"])
    params["num_images"] = row["num_images"]
    if row["callback"]:
        params["callback"] = row["callback"]
    params.update(clean_prompt_params(spec))
    text = spec.get("text") or row["text"]
    pack_id = int_param(spec.get("pack_id"), "pack_id", optional=True) if "pack_id" in spec else None
    if pack_id is not None and app.store.pack(ctx.scope, str(pack_id)) is None:
        raise ApiError(404, f"Pack {pack_id} not found")  # as on create and PATCH
    if pack_id is not None and not TUNE_TAG_RE.search(text):
        raise ApiError(422, NOT_FINE_TUNED)
    prompt_id = insert_prompt(app, ctx.workspace, tune, str(text), params, pack_id=pack_id)
    fresh = app.store.prompt(None, prompt_id)
    assert fresh is not None
    return Response.json(201, app.prompt_json(fresh))


def like_prompt(app: SandboxApp, ctx: Context) -> Response:
    row = _prompt_or_404(app, ctx)
    app.store.like(row["id"], +1)
    return Response(201, b"", content_type="text/plain")


def unlike_prompt(app: SandboxApp, ctx: Context) -> Response:
    row = _prompt_or_404(app, ctx)
    app.store.like(row["id"], -1)
    return Response(200, b"", content_type="text/plain")
