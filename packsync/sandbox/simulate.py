"""``POST /_sandbox/simulate``: seeded customers run a pack and like some of its prompts.

The runs and likes are drawn by :mod:`packsync.sandbox.customers`; each run then leaves on the
account what a customer's run leaves: a trained customer tune of the run's class, the run's
prompts cloned from the pack's templates exactly as a ``tune_ids`` pack run clones them
(``PackRun.clone_fields``: ``orig_prompt_id``, ``base_pack_id``, ``{{name}}`` filled), rendered,
created at the run's moment, and a like on each prompt the customer liked. It is an admin
shortcut, not a client: in the realistic mode too the clones exist at once. Rows are written
in batches of 20,000 prompts, in one transaction.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from packsync.sandbox.context import PLACEHOLDER, ApiError, Context
from packsync.sandbox.customers import DAY, CustomerRun, draw_truth, simulate_runs, split_runs
from packsync.sandbox.httpserver import Request
from packsync.sandbox.routes.packs import PackRun
from packsync.sandbox.store import OWN_USER, now_iso, prompt_row

if TYPE_CHECKING:
    import sqlite3

    from packsync.sandbox.app import SandboxApp

MAX_RUNS = 100_000
MAX_DAYS = 3650  # ten years back is as far as a period goes
CUSTOMER_TITLE = "customer"
_BATCH = 20_000  # prompts held in memory before they are inserted (100,000 runs of 60 templates: 3,000,000)
_RENDER_SECONDS = 60.0  # a simulated prompt's images are finished this long after its run (or now)


def simulate(app: SandboxApp, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Draw and write the runs of ``data`` (the endpoint's body); the answer tells the truth used."""
    pack = _own_pack(app, data.get("pack"))
    runs = _number(data, "runs", None, int, 0, MAX_RUNS)
    seed = _number(data, "seed", 0, int, None, None)
    days = _number(data, "days", 30.0, float, 0, MAX_DAYS)
    until = _until(data.get("until"))
    correlation = _number(data, "run_correlation", 0.3, float, 0, None)
    if correlation >= 1:
        raise ApiError(422, "run_correlation must be at least 0 and below 1")
    templates = app.store.pack_templates(pack["id"])
    if not templates:
        raise ApiError(422, f"pack {pack['id']} has no templates to run")
    classes: dict[str, list[int]] = {}
    for template in templates:
        classes.setdefault(app.class_of(template), []).append(int(template["id"]))
    truth = _truth(data.get("truth"), [int(t["id"]) for t in templates], seed)
    shares = _shares(data.get("class_shares"), classes)
    arms = _arms(data.get("arms"), truth)
    try:
        drawn = simulate_runs(classes, truth, runs, seed, days, correlation, shares)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc
    if arms:
        drawn = split_runs(drawn, arms, seed)
    ctx = Context(request, {}, str(pack["workspace"]), None)
    run = PackRun(app, ctx, pack, {}, list(templates), set(), {}, {})
    app.store.begin()
    try:
        prompts, likes = _write(app, run, drawn, until - days * DAY)
        app.store.commit()
    except Exception:
        app.store.rollback()
        raise
    return {
        "pack": pack["id"],
        "runs": len(drawn),
        "prompts": prompts,
        "likes": likes,
        "truth": {str(t): p for t, p in truth.items()},
        "seed": seed,
    }


def _write(app: SandboxApp, run: PackRun, drawn: list[CustomerRun], start: float) -> tuple[int, int]:
    """The tunes, runs, prompts and likes of ``drawn``, in batches; (prompts, likes) written."""
    store = app.store
    now = time.time()
    first = store.count_titled(f"{CUSTOMER_TITLE} %")
    tune_id, run_id, prompt_id = store.next_id("tunes"), store.next_id("runs"), store.next_id("prompts")
    tunes: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    prompts: list[dict[str, Any]] = []
    written = 0
    template_likes: Counter[int] = Counter()
    for customer in drawn:
        at = start + customer.at
        stamp, done = now_iso(at), now_iso(min(now, at + _RENDER_SECONDS))
        title = f"{CUSTOMER_TITLE} {first + customer.index + 1}"
        tune = _customer_tune(run, tune_id, title, customer.class_name, stamp)
        tunes.append(tune)
        runs.append({"id": run_id, "pack_id": run.pack["id"], "prompts_callback": None, "done": 1, "created_at": stamp})
        for fields in run.clone_fields(_as_row(tune), run_id):
            if fields["orig_prompt_id"] not in customer.templates:
                continue  # a split run: another arm's template
            row = prompt_row(run.ctx.workspace, fields, stamp)
            liked = fields["orig_prompt_id"] in customer.liked
            failed = row["user_error"] is not None
            images = [] if failed else [f"/images/{prompt_id}/{n}.png" for n in range(row["num_images"])]
            row.update(id=prompt_id, images=json.dumps(images), trained_at=done, updated_at=done, ready_at=at)
            row.update(liked=int(liked), likes=int(liked), callback_sent=1)
            if liked:
                template_likes[fields["orig_prompt_id"]] += 1
            prompts.append(row)
            prompt_id += 1
        tune_id, run_id = tune_id + 1, run_id + 1
        if len(prompts) >= _BATCH:
            written += _flush(app, tunes, runs, prompts)
    written += _flush(app, tunes, runs, prompts)
    store.add_template_likes(dict(template_likes))
    return written, sum(template_likes.values())


def _flush(app: SandboxApp, *batches: list[dict[str, Any]]) -> int:
    """Insert the tunes, runs and prompts gathered so far (and empty the lists); the prompts written."""
    count = len(batches[-1])
    for table, rows in zip(("tunes", "runs", "prompts"), batches, strict=True):
        app.store.insert_many(table, rows)
        rows.clear()
    return count


def _customer_tune(run: PackRun, tune_id: int, title: str, class_name: str, stamp: str) -> dict[str, Any]:
    """A customer's trained tune, as a pack run that trains one makes it (the pack's model and token),
    with a value for each ``{{name}}`` of the pack's templates among its characteristics."""
    names = sorted({m.group(1) for t in run.templates for m in PLACEHOLDER.finditer(t["text"])})
    characteristics = {name: f"{title}'s {name.replace('_', ' ')}" for name in names}
    data = {"characteristics": characteristics, "image_urls": [], "auto_extend": True, "simulated": True}
    return {
        "id": tune_id,
        "workspace": run.ctx.workspace,
        "title": title,
        "name": class_name,
        "branch": "flux1",
        "model_type": run.pack["model_type"],
        "base_tune_id": run.pack["base_tune_id"],
        "token": run.pack["token"] or "ohwx",
        "data": json.dumps(data),
        "ready_at": 0.0,
        "trained_at": stamp,
        "callback": None,
        "callback_sent": 1,
        "created_at": stamp,
        "updated_at": stamp,
    }


class _TuneRow(dict[str, Any]):
    """A tune not yet inserted, read as the ``sqlite3.Row`` the pack run's code reads."""


def _as_row(tune: dict[str, Any]) -> sqlite3.Row:
    return _TuneRow(tune)  # type: ignore[return-value]


def _own_pack(app: SandboxApp, ref: Any) -> sqlite3.Row:
    if not isinstance(ref, (int, str)) or isinstance(ref, bool) or str(ref) == "":
        raise ApiError(422, "pack (an id or a slug of one of the account's packs) is required")
    for pack in app.store.packs(None, None, 0):  # the caller's own packs only: a gallery pack's runs are not listable
        if pack["user_id"] == OWN_USER and str(ref) in (str(pack["id"]), pack["slug"]):
            return pack
    raise ApiError(404, f"Pack {ref} not found")


def _arms(spec: Any, truth: Mapping[int, float]) -> list[list[int]]:
    """``arms``: lists of template ids of the pack; each run gets one list and none of the others
    (a split experiment's app). None: every run gets every template."""
    if spec is None:
        return []
    if not isinstance(spec, list) or len(spec) < 2 or not all(isinstance(a, list) and a for a in spec):
        raise ApiError(422, "arms must be a list of at least two non-empty lists of template ids")
    seen: set[int] = set()
    for arm in spec:
        for t in arm:
            if type(t) is not int or t not in truth:
                raise ApiError(422, f"arms names {t!r}, which is not a template of this pack")
            if t in seen:
                raise ApiError(422, f"template {t} is in two arms")
            seen.add(t)
    return [list(a) for a in spec]


def _until(value: Any) -> float:
    """The end of the period: ``until`` (an ISO 8601 moment, not after now), or now."""
    now = time.time()
    if value is None:
        return now
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, f"until must be an ISO 8601 moment, not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment.timestamp() > now + 1:
        raise ApiError(422, "until must not be in the future")
    if moment.timestamp() < now - MAX_DAYS * DAY:
        raise ApiError(422, f"until must be within {MAX_DAYS} days of now")
    return moment.timestamp()


def _number(data: Mapping[str, Any], key: str, default: Any, kind: type, low: float | None, high: float | None) -> Any:
    value = data.get(key, default)
    if value is None:
        raise ApiError(422, f"{key} is required")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and kind is int:
        ok = float(value).is_integer()
    if not ok or not math.isfinite(float(value)):
        raise ApiError(422, f"{key} must be {'an integer' if kind is int else 'a number'}, not {value!r}")
    number = kind(value)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {low:g} and {high:,}" if high is not None else f"at least {low:g}"
        raise ApiError(422, f"{key} must be {bounds}, not {value!r}")
    return number


def _truth(spec: Any, template_ids: list[int], seed: int) -> dict[int, float]:
    """``{"<template id>": p}`` for every template, or ``{"mean": m, "concentration": c}`` to draw
    them from (default: mean 0.2)."""
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        raise ApiError(422, "truth must be an object: {template id: probability} or {mean, concentration}")
    if not spec or set(spec) <= {"mean", "concentration"}:
        mean = _number(spec, "mean", 0.2, float, 0, 1)
        concentration = _number(spec, "concentration", 20.0, float, 0, None)
        try:
            return draw_truth(template_ids, seed, mean, concentration)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from exc
    truth: dict[int, float] = {}
    for key in spec:
        if not str(key).isdigit() or int(key) not in template_ids:
            raise ApiError(422, f"truth names {key!r}, which is not a template of this pack")
        truth[int(key)] = _number(spec, key, None, float, 0, 1)
    missing = [t for t in template_ids if t not in truth]
    if missing:
        raise ApiError(422, f"truth has no probability for template(s) {missing[:5]}")
    return truth


def _shares(spec: Any, classes: Mapping[str, list[int]]) -> dict[str, float] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or not spec:
        raise ApiError(422, "class_shares must be an object of class: weight")
    unknown = sorted(set(spec) - set(classes))
    if unknown:
        raise ApiError(422, f"class_shares names {unknown}, not a class of this pack ({', '.join(sorted(classes))})")
    shares = {name: float(_number(spec, name, None, float, 0, None)) for name in spec}
    if all(shares.get(name, 1.0) == 0 for name in classes):  # a class left out weighs 1
        raise ApiError(422, "class_shares must give some class a positive weight")
    return shares
