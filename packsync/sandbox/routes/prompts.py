"""Prompts: template prompts, the prompts of runs, likes."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from packsync.facts import (
    NOT_FINE_TUNED,
    OFFSET_MAX_PROMPTS,
    PROMPT_PATCHABLE,
    SERVER_TAG_RE,
)
from packsync.sandbox.context import ApiError, Context
from packsync.sandbox.httpserver import Response
from packsync.sandbox.params import clean_prompt_params, int_param, page_params
from packsync.sandbox.realism import DEDUP, FLUX_RULES, LIKE_ONCE, MODEL_RULES, NO_TUNE_FILTER, PATCH_IGNORES
from packsync.sandbox.realistic import flux_rule_error, model_rule_error
from packsync.sandbox.records import insert_prompt, same_prompt, tune_or_404
from packsync.sandbox.store import OWN_USER

if TYPE_CHECKING:
    from packsync.sandbox.app import SandboxApp


def create_prompt(app: SandboxApp, ctx: Context) -> Response:
    tune = tune_or_404(app, ctx, post=True)  # a pack's templates go on its base model (A9)
    spec = ctx.root("prompt")
    text = spec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(422, "text can't be blank")
    params = clean_prompt_params(spec)
    pack_id = int_param(spec.get("pack_id"), "pack_id", optional=True)
    base_pack_id = int_param(spec.get("base_pack_id"), "base_pack_id", optional=True)
    if pack_id is not None:
        _own_pack_or_404(app, ctx, pack_id)
        if not SERVER_TAG_RE.search(text):
            raise ApiError(422, NOT_FINE_TUNED)
    _realistic_rules(app, tune, text, params)
    for old, new in app.config.text_rewrites:
        text = text.replace(old, new)
    existing = same_prompt(app, ctx.workspace, tune["id"], text, params)
    if existing is not None:
        # The documented idempotent replay: the existing prompt comes back,
        # whatever pack it belongs to.
        return Response.json(201 if app.real(DEDUP) else 200, app.prompt_json(existing))
    prompt_id = insert_prompt(app, ctx.workspace, tune, text, params, pack_id=pack_id, base_pack_id=base_pack_id)
    row = app.store.prompt(None, prompt_id)
    assert row is not None
    return Response.json(201, app.prompt_json(row))


def _own_pack_or_404(app: SandboxApp, ctx: Context, pack_id: int) -> None:
    """Templates go only into the caller's own packs; other users' gallery packs are not found."""
    pack = app.store.pack(ctx.scope, str(pack_id))
    if pack is None or pack["user_id"] != OWN_USER:
        raise ApiError(404, f"Pack {pack_id} not found")


def _realistic_rules(app: SandboxApp, tune: sqlite3.Row, text: str, params: dict[str, Any]) -> None:
    """model-rules and flux-rules (A9): the 422s of the realistic mode."""
    problem = model_rule_error(tune, text) if app.real(MODEL_RULES) else None
    if problem is None and app.real(FLUX_RULES):
        problem = flux_rule_error(tune, params)
    if problem is not None:
        raise ApiError(422, problem)


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
    ignored = {"tune_id"} if app.real(NO_TUNE_FILTER) else set()
    for column in ("pack_id", "base_pack_id", "tune_id", "orig_prompt_id"):
        value = request.arg(column)
        if value is not None and column not in ignored:
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
    if other and not app.real(PATCH_IGNORES):  # with patch-ignores, as Rails' permitted params do
        raise ApiError(422, f"Only {', '.join(PROMPT_PATCHABLE)} can be changed; not {', '.join(other)}")
    changes: dict[str, Any] = {}
    for name in ("pack_id", "base_pack_id", "orig_prompt_id"):
        if name in spec:
            changes[name] = int_param(spec[name], name, optional=True)
    if changes.get("pack_id") is not None:
        _own_pack_or_404(app, ctx, changes["pack_id"])
        if not SERVER_TAG_RE.search(row["text"]):
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
    tune = app.store.post_target(None, row["tune_id"])
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
    if pack_id is not None:
        _own_pack_or_404(app, ctx, pack_id)  # as on create and PATCH
    if pack_id is not None and not SERVER_TAG_RE.search(text):
        raise ApiError(422, NOT_FINE_TUNED)
    prompt_id = insert_prompt(app, ctx.workspace, tune, str(text), params, pack_id=pack_id)
    fresh = app.store.prompt(None, prompt_id)
    assert fresh is not None
    return Response.json(201, app.prompt_json(fresh))


def like_prompt(app: SandboxApp, ctx: Context) -> Response:
    row = _prompt_or_404(app, ctx)
    if row["liked"] and app.real(LIKE_ONCE):
        raise ApiError(422, "Prompt has already been liked")
    app.store.like(row["id"], +1)
    return Response(201, b"", content_type="text/plain")


def unlike_prompt(app: SandboxApp, ctx: Context) -> Response:
    row = _prompt_or_404(app, ctx)
    app.store.like(row["id"], -1)
    return Response(200, b"", content_type="text/plain")
