"""Packs: list, create, read, and pack runs."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from packsync.facts import (
    SERVER_TAG_RE,
)
from packsync.sandbox.context import PLACEHOLDER, ApiError, Context
from packsync.sandbox.httpserver import Response
from packsync.sandbox.params import clean_prompt_params, int_param, list_param
from packsync.sandbox.realism import (
    ACCOUNT_PACKS,
    ASYNC_RUNS,
    GALLERY,
    MINIMAL_PACK_CREATE,
    PACKS_LIMIT_CAP,
    PACKS_PAGE_CAP,
    RUN_DELAY,
)
from packsync.sandbox.realistic import PendingRun, tailed_slug
from packsync.sandbox.records import expired, insert_tune, prompt_fields
from packsync.slug import derive_slug

if TYPE_CHECKING:
    from packsync.sandbox.app import SandboxApp


def list_packs(app: SandboxApp, ctx: Context) -> Response:
    request = ctx.request
    limit = int_param(request.arg("limit"), "limit", optional=True)
    offset = int_param(request.arg("offset"), "offset", optional=True) or 0
    if offset < 0 or (limit is not None and limit < 0):
        raise ApiError(400, "limit and offset must not be negative")
    if limit is not None and app.real(PACKS_PAGE_CAP):
        limit = min(limit, PACKS_LIMIT_CAP)
    rows = app.store.packs(None if app.real(ACCOUNT_PACKS) else ctx.scope, None, 0)
    if request.arg("public") == "true":
        rows = [r for r in rows if r["public_at"] is not None]
    if request.arg("listed") == "true":
        rows = [r for r in rows if r["unlisted_at"] is None]
    # filter first, then page: a filtered page must be full while more matching packs exist
    rows = rows[offset:] if limit is None else rows[offset : offset + limit]
    costs = app.store.pack_costs([r["id"] for r in rows])
    return Response.json(200, [app.pack_summary(r, costs[r["id"]]) for r in rows])


def create_pack(app: SandboxApp, ctx: Context) -> Response:
    fields = ctx.root("pack")
    title = fields.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ApiError(422, "title can't be blank")
    base_tune_id = int_param(fields.get("base_tune_id"), "base_tune_id")
    model_type = fields.get("model_type")
    if model_type not in ("lora", "faceid", "pti", None, ""):
        raise ApiError(422, "model_type must be one of lora, faceid, pti")
    base = derive_slug(title) or "pack"
    slug, n = base, 1
    if app.real(GALLERY) and app.store.slug_taken(slug):
        slug = tailed_slug(app.store, base)
    while app.store.slug_taken(slug):
        n += 1
        slug = f"{base}-{n}"
    minimal = app.real(MINIMAL_PACK_CREATE)  # only title, base_tune_id, model_type and subtitle stick
    pack_id = app.store.insert_pack(
        ctx.workspace,
        {
            "slug": slug,
            "title": title,
            "subtitle": fields.get("subtitle"),
            "base_tune_id": base_tune_id,
            "model_type": model_type or None,
            "token": None if minimal else fields.get("token") or "ohwx",
            "preset": None if minimal else fields.get("preset"),
        },
    )
    row = app.store.pack(None, str(pack_id))
    assert row is not None
    return Response.json(200 if minimal else 201, app.pack_detail(row))


def pack_not_writable(app: SandboxApp, ctx: Context) -> Response:
    raise ApiError(404, "Packs cannot be changed or deleted through the API; use the Astria web UI")


def get_pack(app: SandboxApp, ctx: Context) -> Response:
    row = app.store.pack(ctx.scope, ctx.params["ref"])
    if row is None:
        raise ApiError(404, f"Pack {ctx.params['ref']} not found")
    return Response.json(200, app.pack_detail(row))


@dataclass
class PackRun:
    """One ``POST /p/:id/tunes``: the pack, what the request asks for, and the runs it starts."""

    app: SandboxApp
    ctx: Context
    pack: sqlite3.Row
    spec: dict[str, Any]
    templates: list[sqlite3.Row]
    wanted_ids: set[int]
    overrides: dict[str, Any]
    characteristics: dict[str, Any]
    run_ids: list[int] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return {self.app.class_of(t) for t in self.templates}

    def start(self) -> int:
        self.run_ids.append(self.app.store.insert_run(self.pack["id"], self.spec.get("prompts_callback")))
        return self.run_ids[-1]

    def finish(self, created: list[int]) -> None:
        if not created:
            # Nothing to wait for: the run is complete now, its callback (an empty list) too.
            self.app.store.close_run(self.run_ids[-1])
            if self.spec.get("prompts_callback"):
                self.app.post_callback_later(str(self.spec["prompts_callback"]), [])

    def values_for(self, tune: sqlite3.Row) -> dict[str, Any]:
        """What fills a template's ``{{name}}`` on a tune: the tune's own characteristics, which a
        ``tune_ids`` run "will use instead" (A6); the request's only for a name the tune has no value for."""
        own = json.loads(tune["data"] or "{}").get("characteristics")
        return {**self.characteristics, **(own if isinstance(own, dict) else {})}

    def clone_onto(self, tune: sqlite3.Row, run_id: int) -> list[int]:
        """The pack's templates of the tune's class, as the tune's own prompts (characteristics filled)."""
        store, workspace = self.app.store, self.ctx.workspace
        return [store.insert_prompt(workspace, fields) for fields in self.clone_fields(tune, run_id)]

    def clone_fields(self, tune: sqlite3.Row, run_id: int) -> list[dict[str, Any]]:
        """The fields of the prompts ``clone_onto`` creates (the simulator stores them in batches)."""
        created = []
        values = self.values_for(tune)
        for template in self.templates:
            if self.app.class_of(template) != tune["name"]:
                continue
            if self.wanted_ids and template["id"] not in self.wanted_ids:
                continue
            text = SERVER_TAG_RE.sub(
                lambda m: f"<{m.group(1)}:{tune['id']}" + (f":{m.group(3)}>" if m.group(3) else ">"),
                template["text"],
                count=1,
            )
            text = PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)
            params = json.loads(template["params"])
            params.update(clean_prompt_params(self.overrides))
            created.append(
                prompt_fields(
                    self.app,
                    tune,
                    text,
                    params,
                    pack_id=None,
                    base_pack_id=self.pack["id"],
                    orig_prompt_id=template["id"],
                    run_id=run_id,
                )
            )
        return created


def run_pack(app: SandboxApp, ctx: Context) -> Response:
    pack = app.store.pack(ctx.scope, ctx.params["ref"])
    if pack is None:
        raise ApiError(404, f"Pack {ctx.params['ref']} not found")
    spec = ctx.root("tune")
    templates = app.store.pack_templates(pack["id"])
    wanted_ids = {int(i) for i in list_param(spec.get("prompt_ids"), "prompt_ids")}
    if wanted_ids - {t["id"] for t in templates}:
        raise ApiError(422, f"prompt_ids not in this pack: {sorted(wanted_ids - {t['id'] for t in templates})}")
    overrides = spec.get("prompt_attributes") or {}
    if not isinstance(overrides, dict):
        raise ApiError(422, "prompt_attributes must be an object")
    characteristics = spec.get("characteristics") or {}
    if not isinstance(characteristics, dict):
        raise ApiError(422, "characteristics must be an object")
    run = PackRun(app, ctx, pack, spec, list(templates), wanted_ids, overrides, characteristics)
    tune_ids = [int(i) for i in list_param(spec.get("tune_ids"), "tune_ids")]
    return _run_on_tunes(run, tune_ids) if tune_ids else _run_training(run)


def _run_on_tunes(run: PackRun, tune_ids: list[int]) -> Response:
    """The pack's prompts on existing tunes (``tune_ids``)."""
    app = run.app
    classes = run.classes
    tunes = []
    for tune_id in tune_ids:
        tune = app.store.tune(run.ctx.scope, tune_id)
        if tune is None or expired(app, tune):
            raise ApiError(404, f"Tune {tune_id} not found")
        if tune["name"] not in classes:
            raise ApiError(422, f"Class {tune['name']} is not supported by this pack")
        tunes.append(tune)
    if app.real(ASYNC_RUNS):
        _clone_later(run, tunes)
        return Response.json(201, {"status": 201, "message": "Prompts created"})
    prompt_ids: list[int] = []
    run_id = run.start()
    for tune in tunes:
        prompt_ids += run.clone_onto(tune, run_id)
    run.finish(prompt_ids)
    return Response.json(201, {"status": 201, "message": "Prompts created", "prompt_ids": prompt_ids})


def _clone_later(run: PackRun, tunes: list[sqlite3.Row]) -> None:
    """async-runs: the clones appear 10-180 s (realistic clock) after the answer."""
    app = run.app
    pending = PendingRun(run.pack["id"], frozenset(t["id"] for t in tunes))
    app.pending_runs.append(pending)

    def land() -> None:
        app.pending_runs.remove(pending)
        app.store.begin()
        try:
            run_id = run.start()
            created: list[int] = []
            for tune in tunes:
                created += run.clone_onto(tune, run_id)
            run.finish(created)
            app.store.commit()
        except Exception:
            app.store.rollback()
            raise
        app.wakeup.set()

    clock = app.realism_clock
    clock.later(clock.draw(RUN_DELAY), land)


def _run_training(run: PackRun) -> Response:
    """A new tune trained from the customer's images, then the pack's prompts of its class on it."""
    app, ctx, spec, pack = run.app, run.ctx, run.spec, run.pack
    classes = run.classes
    name = spec.get("name")
    if not name:
        raise ApiError(422, "name (the class) is required")
    if name not in classes:
        raise ApiError(422, f"Class {name} is not supported by this pack (classes: {', '.join(sorted(classes))})")
    title = spec.get("title")
    if not title:
        raise ApiError(422, "title is required")
    if app.idempotency != "off":
        existing = app.store.tune_by_title(ctx.workspace, str(title))
        if existing is not None:
            return Response.json(201, app.tune_json(existing))
    if not (spec.get("image_urls") or spec.get("images")):
        raise ApiError(422, "images or image_urls are required")
    fields = {
        "title": title,
        "name": name,
        "branch": spec.get("branch") or "flux1",
        "model_type": pack["model_type"],
        "base_tune_id": pack["base_tune_id"],
        "token": pack["token"],
        "callback": spec.get("callback"),
        "characteristics": run.characteristics,
        "image_urls": list_param(spec.get("image_urls") or spec.get("images"), "image_urls"),
        "preset": spec.get("preset"),
    }
    tune_id = insert_tune(app, ctx.workspace, fields)
    tune = app.store.tune(None, tune_id)
    assert tune is not None
    run.finish(run.clone_onto(tune, run.start()))
    return Response.json(201, app.tune_json(tune))
