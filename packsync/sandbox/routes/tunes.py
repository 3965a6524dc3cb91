"""Tunes: the reference tunes of a pack's classes, and customers' tunes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from packsync.facts import (
    OFFSET_MAX_TUNES,
)
from packsync.sandbox.context import ApiError, Context
from packsync.sandbox.httpserver import Response
from packsync.sandbox.params import bool_param, clean_prompt_params, int_param, list_param, page_params
from packsync.sandbox.records import insert_prompt, insert_tune, tune_or_404

if TYPE_CHECKING:
    from packsync.sandbox.app import SandboxApp


def list_tunes(app: SandboxApp, ctx: Context) -> Response:
    before_id, limit, offset = page_params(ctx, OFFSET_MAX_TUNES)
    request = ctx.request
    filters: dict[str, Any] = {}
    for column in ("title", "model_type", "branch"):
        if request.arg(column) is not None:
            filters[column] = request.arg(column)
    names = request.args("name[]") + request.args("name")
    if names:
        filters["names"] = names
    rows = app.store.tunes(ctx.scope, filters, before_id, limit, offset)
    return Response.json(200, [app.tune_json(r) for r in rows])


def create_tune(app: SandboxApp, ctx: Context) -> Response:
    spec = ctx.root("tune")
    title = spec.get("title")
    name = spec.get("name")
    if not title:
        raise ApiError(422, "title is required")
    if not name:
        raise ApiError(422, "name (the class) is required")
    if app.idempotency != "off":
        existing = app.store.tune_by_title(ctx.workspace, str(title))
        if existing is not None:
            return Response.json(201, app.tune_json(existing))
    images = spec.get("image_urls") or spec.get("images")
    if not images:
        raise ApiError(422, "images or image_urls are required")
    base_tune_id = int_param(spec.get("base_tune_id"), "base_tune_id", optional=True)
    base = app.store.tune(None, base_tune_id) if base_tune_id is not None else None
    # as documented: the base tune's branch, else sd15
    branch = spec.get("branch") or (base["branch"] if base is not None else "sd15")
    if branch not in ("flux1", "sd15", "sdxl1", "fast", "gemini", "gemini-2"):
        raise ApiError(422, "branch must be one of flux1, sd15, sdxl1, fast")
    model_type = spec.get("model_type")
    if model_type not in (None, "", "lora", "faceid", "pti"):
        raise ApiError(422, "model_type must be one of lora, faceid, pti")
    fields = {
        "title": title,
        "name": name,
        "branch": branch,
        "model_type": model_type or None,
        "base_tune_id": base_tune_id,
        "token": spec.get("token") or "ohwx",
        "callback": spec.get("callback"),
        "image_urls": list_param(images, "image_urls"),
        "auto_extend": bool_param(spec.get("auto_extend", False), "auto_extend"),
        "characteristics": spec.get("characteristics") or {},
        "preset": spec.get("preset"),
        "steps": int_param(spec.get("steps"), "steps", optional=True),
    }
    tune_id = insert_tune(app, ctx.workspace, fields)
    for spec_prompt in spec.get("prompts_attributes") or []:
        if isinstance(spec_prompt, dict) and spec_prompt.get("text"):
            tune = app.store.tune(None, tune_id)
            assert tune is not None
            params = clean_prompt_params(spec_prompt)
            insert_prompt(app, ctx.workspace, tune, str(spec_prompt["text"]), params)
    row = app.store.tune(None, tune_id)
    assert row is not None
    return Response.json(201, app.tune_json(row))


def get_tune(app: SandboxApp, ctx: Context) -> Response:
    return Response.json(200, app.tune_json(tune_or_404(app, ctx)))


def update_tune(app: SandboxApp, ctx: Context) -> Response:
    tune = tune_or_404(app, ctx)
    spec = ctx.root("tune")
    allowed = {"title", "name", "characteristics", "auto_extend"}
    changes = {k: v for k, v in spec.items() if k in allowed}
    if "auto_extend" in changes:
        changes["auto_extend"] = bool_param(changes["auto_extend"], "auto_extend")
    app.store.update_tune(tune["id"], changes)
    row = app.store.tune(None, tune["id"])
    assert row is not None
    return Response.json(200, app.tune_json(row))


def delete_tune(app: SandboxApp, ctx: Context) -> Response:
    tune = tune_or_404(app, ctx)
    app.store.delete_tune(tune["id"])
    return Response.json(200, {"message": "Tune successfully deleted"})
