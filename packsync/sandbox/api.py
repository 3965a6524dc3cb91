"""The Astria API of ``astria-api.md`` Part A, served from the sandbox's store.

Routes are plain functions of (request context) -> response. Writes run in a
transaction that is committed before the answer is sent, so a fault injected
after the write (504, reset) leaves the write in place, exactly as the real
service may.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packsync.astria.facts import (
    IDEMPOTENCY_ATTRIBUTES,
    NOT_FINE_TUNED,
    OFFSET_MAX_PROMPTS,
    OFFSET_MAX_TUNES,
    PAGE_DEFAULT,
    PAGE_MAX,
    PROMPT_PARAM_DEFAULTS,
    PROMPT_PATCHABLE,
    TUNE_TAG_RE,
)
from packsync.astria.slug import derive_slug
from packsync.sandbox.faults import AFTER, FaultConfigError, FaultPlan
from packsync.sandbox.forms import BodyError, decode_body
from packsync.sandbox.httpserver import DropConnection, Request, Response
from packsync.sandbox.images import placeholder_png
from packsync.sandbox.store import Store, now_iso

log = logging.getLogger("packsync.sandbox")

PRICE_PER_IMAGE_MC = 2_500  # what a generated image costs on a tune that is not a free "fast" one
PRICE_PER_TUNE_MC = 150_000
IDEMPOTENCY_MODES = ("off", "on", "text-seed")
_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
_FAIL_MARK = "[sandbox:fail]"
_BROKEN_IMAGES_MARK = "[sandbox:broken-images]"  # its images answer an HTML error page, as a CDN might
_FREE_BRANCHES = frozenset({"fast", "gemini", "gemini-2"})  # free mock tunes, trained at once


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class SandboxConfig:
    key: str | None = None  # None: any non-empty bearer key is accepted
    idempotency: str | None = None  # None: keep the stored setting (default off)
    render_delay: float = 0.2  # seconds until a prompt's images are ready
    train_delay: float = 1.0  # seconds until a tune that is not "fast" is trained
    faults: FaultPlan = field(default_factory=FaultPlan)
    base_url: str = "http://127.0.0.1"


@dataclass
class Context:
    request: Request
    params: dict[str, str]
    workspace: str  # where writes go; '' is the personal scope
    scope: str | None  # what reads see; None for X-Workspace-Id: all
    _body: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        if self._body is None:
            self._body = decode_body(self.request.headers.get("content-type", ""), self.request.body)
        return self._body

    def root(self, key: str) -> dict[str, Any]:
        data = self.body()
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ApiError(422, f"{key} must be an object")
        return value


Route = Callable[["SandboxApp", Context], Response]


def _int(value: Any, name: str, *, optional: bool = False) -> int | None:
    if value is None or value == "":
        if optional:
            return None
        raise ApiError(422, f"{name} is required")
    if isinstance(value, bool):
        raise ApiError(422, f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, f"{name} must be an integer") from exc


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0", ""):
        return value.lower() in ("true", "1")
    raise ApiError(422, f"{name} must be true or false")


def _number(value: Any, name: str) -> float | int:
    if isinstance(value, bool):
        raise ApiError(422, f"{name} must be a number")
    if isinstance(value, (int, float)):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, f"{name} must be a number") from exc
    return int(number) if number.is_integer() else number


_ENUMS: dict[str, tuple[Any, ...]] = {
    "aspect_ratio": ("1:1", "16:9", "9:16", "21:9", "9:21", "3:2", "2:3", "5:4", "4:5", "4:3", "3:4"),
    "ar": ("1:1", "portrait", "16:9", "landscape"),
    "resolution": ("1K", "2K", "4K"),
    "scheduler": ("euler", "euler_a", "dpm++2m_karras", "dpm++sde_karras", "dpm++2m", "dpm++sde", "lcm", "tcd"),
    "style": (
        "Cinematic",
        "Animated",
        "Digital Art",
        "Photographic",
        "Fantasy art",
        "Neonpunk",
        "Enhance",
        "Comic book",
        "Lowpoly",
        "Line art",
    ),
    "color_grading": ("Film Velvia", "Film Portra", "Ektar"),
    "controlnet": (
        "composition",
        "reference",
        "segroom",
        "ipadapter",
        "lineart",
        "canny",
        "depth",
        "mlsd",
        "hed",
        "pose",
        "tile",
        "qr",
    ),
}
_RANGES: dict[str, tuple[float, float]] = {
    "num_images": (1, 8),
    "seed": (0, 2**32),
    "cfg_scale": (0, 15),
    "steps": (0, 50),
    "denoising_strength": (0, 1),
    "controlnet_conditioning_scale": (0, 1),
}
_INTS = ("num_images", "seed", "steps", "w", "h", "backend_version")
_FLOATS = ("cfg_scale", "denoising_strength", "controlnet_conditioning_scale")
_BOOLS = (
    "super_resolution",
    "inpaint_faces",
    "hires_fix",
    "face_correct",
    "face_swap",
    "film_grain",
    "use_lpw",
    "prompt_expansion",
    "controlnet_txt2img",
)
_STRINGS = ("negative_prompt", "callback", "theme", "input_image_url", "mask_image_url")
PROMPT_FIELDS = frozenset((*_INTS, *_FLOATS, *_BOOLS, *_STRINGS, *_ENUMS))


def clean_prompt_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate and type the generation parameters of a prompt create (422 on a bad value)."""
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in PROMPT_FIELDS or value is None or (value == "" and name not in _STRINGS):
            continue  # unknown fields are ignored, as Rails does
        if name in _INTS:
            params[name] = _int(value, name)
        elif name in _FLOATS:
            params[name] = _number(value, name)
        elif name in _BOOLS:
            params[name] = _bool(value, name)
        elif name in _STRINGS:
            params[name] = str(value)
        else:
            params[name] = value
    for name, (low, high) in _RANGES.items():
        if name in params and not low <= params[name] <= high:
            raise ApiError(422, f"{name} must be between {low:g} and {high:g}")
    for name in ("w", "h"):
        if name in params and (params[name] <= 0 or params[name] % 8):
            raise ApiError(422, f"{name} must be a positive multiple of 8")
    for name, allowed in _ENUMS.items():
        if name in params and params[name] not in allowed:
            raise ApiError(422, f"{name} must be one of: {', '.join(map(str, allowed))}")
    if "backend_version" in params and params["backend_version"] != 1:
        raise ApiError(422, "backend_version must be null or 1")
    for name in ("inpaint_faces", "hires_fix"):
        if params.get(name) and not params.get("super_resolution"):
            raise ApiError(422, f"{name} requires super_resolution")
    return params


class SandboxApp:
    """The request handler: auth, faults, routing and error mapping."""

    def __init__(self, store: Store, config: SandboxConfig) -> None:
        self.store = store
        self.config = config
        if config.idempotency is not None:
            self.set_idempotency(config.idempotency)
        self.faults = config.faults
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.request_count: Counter[str] = Counter()
        self.request_log: deque[dict[str, Any]] = deque(maxlen=5000)
        self.callbacks: deque[dict[str, Any]] = deque(maxlen=1000)
        self.pending_tune_callbacks: list[int] = []
        self.deferred_callbacks: list[tuple[str, Any]] = []
        self.access_log: Any = None  # a text stream: one line per API request (never a header)
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._http: Any = None
        self.wakeup = asyncio.Event()
        _register(self)

    # -- settings -----------------------------------------------------------

    @property
    def idempotency(self) -> str:
        return self.store.setting("idempotency", "off")

    def set_idempotency(self, mode: str) -> None:
        if mode not in IDEMPOTENCY_MODES:
            raise ValueError(f"idempotency must be one of {', '.join(IDEMPOTENCY_MODES)}")
        self.store.set_setting("idempotency", mode)

    # -- entry point --------------------------------------------------------

    async def __call__(self, request: Request) -> Response:
        path = request.path
        if path.endswith(".json"):
            path = path[: -len(".json")]
        if path.startswith("/images/"):
            return self._image(path)
        if path == "/_sandbox/health":
            return Response.json(200, {"ok": True})
        denied = self._authorize(request)
        if denied is not None:
            return denied
        if path.startswith("/_sandbox/"):
            return self._admin(request, path)
        fault = self.faults.draw(request.method)
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        route_name, response = self._dispatch(request, path, fault)
        if self.access_log is not None:
            shown = f"{response.status}" + (f" fault={fault}" if fault else "")
            self.access_log.write(f"{now_iso()} {request.method} {request.path} {shown}\n")
            self.access_log.flush()
        self.request_count[route_name] += 1
        self.request_log.append(
            {
                "method": request.method,
                "path": request.path,
                "route": route_name,
                "status": response.status,
                "fault": fault,
            }
        )
        if fault in AFTER:
            if fault == "504":
                return Response.error(504, "Gateway timeout (sandbox fault after commit)")
            if fault == "reset":
                raise DropConnection
            await asyncio.sleep(self.faults.slow_ms / 1000)
        return response

    def _authorize(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return Response.error(401, "Missing API key: send Authorization: Bearer <key>")
        if self.config.key is not None and key.strip() != self.config.key:
            return Response.error(401, "Invalid API key")
        return None

    def _dispatch(self, request: Request, path: str, fault: str | None) -> tuple[str, Response]:
        if fault == "429":
            return "fault", Response.error(429, "Too many requests", {"Retry-After": f"{self.faults.retry_after:g}"})
        if fault == "429-bare":
            return "fault", Response.error(429, "Too many requests")
        if fault in ("500", "502", "503"):
            return "fault", Response.error(int(fault), "Server error (sandbox fault)")
        matched_path = False
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            matched_path = True
            if method != request.method:
                continue
            workspace = request.headers.get("x-workspace-id", "").strip()
            scope = None if workspace == "all" else workspace
            ctx = Context(request, match.groupdict(), "" if workspace == "all" else workspace, scope)
            return f"{method} {pattern.pattern}", self._run(handler, ctx)
        if matched_path:
            return "unmatched", Response.error(404, f"No route for {request.method} {request.path}")
        return "unmatched", Response.error(404, f"Not found: {request.path}")

    def _run(self, handler: Route, ctx: Context) -> Response:
        write = ctx.request.method != "GET"
        try:
            self.settle()
            if write:
                self.store.begin()
            response = handler(self, ctx)
            if write:
                self.store.commit()
            if write:
                self.wakeup.set()
            return response
        except ApiError as exc:
            self.store.rollback()
            return Response.error(exc.status, str(exc))
        except BodyError as exc:
            self.store.rollback()
            return Response.error(400, str(exc))
        except sqlite3.Error as exc:
            self.store.rollback()
            log.exception("database error")
            return Response.error(500, f"database error: {exc}")

    # -- admin --------------------------------------------------------------

    def _admin(self, request: Request, path: str) -> Response:
        name = path[len("/_sandbox/") :]
        try:
            data = decode_body(request.headers.get("content-type", ""), request.body) if request.body else {}
        except BodyError as exc:
            return Response.error(400, str(exc))
        if name == "faults":
            if request.method == "POST":
                try:
                    self.faults = FaultPlan.from_json(data)
                except FaultConfigError as exc:
                    return Response.error(422, str(exc))
            return Response.json(200, self.faults.describe())
        if name == "settings":
            if request.method == "POST":
                if "idempotency" in data:
                    try:
                        self.set_idempotency(str(data["idempotency"]))
                    except ValueError as exc:
                        return Response.error(422, str(exc))
                if "render_delay" in data:
                    self.config.render_delay = float(data["render_delay"])
                if "train_delay" in data:
                    self.config.train_delay = float(data["train_delay"])
            return Response.json(
                200,
                {
                    "idempotency": self.idempotency,
                    "render_delay": self.config.render_delay,
                    "train_delay": self.config.train_delay,
                },
            )
        if name == "reset" and request.method == "POST":
            self.store.reset()
            self.request_count.clear()
            self.request_log.clear()
            self.callbacks.clear()
            return Response.json(200, {"ok": True})
        if name == "requests":
            if request.method == "DELETE":
                self.request_count.clear()
                self.request_log.clear()
            total = sum(self.request_count.values())
            return Response.json(
                200, {"total": total, "by_route": dict(self.request_count), "log": list(self.request_log)}
            )
        if name == "callbacks":
            return Response.json(200, list(self.callbacks))
        if name == "seed" and request.method == "POST":
            try:
                created = self.seed(data)
            except ApiError as exc:
                return Response.error(exc.status, str(exc))
            return Response.json(201, created)
        if name == "state":
            return Response.json(200, self.store.counts())
        return Response.error(404, f"unknown sandbox endpoint {path}")

    def seed(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create reference tunes (with chosen ids) from ``{"tunes": [...]}``; existing ids are kept."""
        tunes = data.get("tunes") or []
        if not isinstance(tunes, list):
            raise ApiError(422, "tunes must be a list")
        created, kept = [], []
        self.store.begin()
        try:
            for spec in tunes:
                if not isinstance(spec, dict) or "name" not in spec:
                    raise ApiError(422, "each seeded tune needs at least a name (its class)")
                tune_id = _int(spec.get("id"), "id", optional=True)
                workspace = str(spec.get("workspace", ""))
                if tune_id is not None and self.store.tune(None, tune_id) is not None:
                    kept.append(tune_id)
                    continue
                fields = {
                    "title": spec.get("title") or f"reference {spec['name']} {tune_id or ''}".strip(),
                    "name": spec["name"],
                    "branch": spec.get("branch", "flux1"),
                    "model_type": spec.get("model_type", "lora"),
                    "base_tune_id": spec.get("base_tune_id", 1504944),
                    "token": spec.get("token", "ohwx"),
                    "auto_extend": True,
                }
                new_id = self.store.insert_tune(workspace, fields, ready_at=0.0, tune_id=tune_id)
                self.store.finish_tune(new_id, now_iso())
                created.append(new_id)
            self.store.commit()
        except Exception:
            self.store.rollback()
            raise
        return {"created": created, "kept": kept}

    # -- images -------------------------------------------------------------

    def _image(self, path: str) -> Response:
        match = re.fullmatch(r"/images/(\d+)/(\d+)\.png", path)
        if match is None:
            return Response.error(404, "no such image")
        row = self.store.prompt(None, int(match.group(1)))
        index = int(match.group(2))
        if row is None or index >= len(json.loads(row["images"])):
            return Response.error(404, "no such image")
        if _BROKEN_IMAGES_MARK in row["text"]:
            page = b"<!doctype html><title>Service unavailable</title><h1>Please try again later</h1>\n"
            return Response(200, page, content_type="text/html; charset=utf-8")
        return Response(200, placeholder_png(row["id"], index), content_type="image/png")

    # -- time passes --------------------------------------------------------

    def settle(self) -> None:
        """Finish the tunes and prompts whose time has come, and queue their callbacks."""
        while self.deferred_callbacks:
            self._post_callback(*self.deferred_callbacks.pop(0))
        while self.pending_tune_callbacks:
            fresh = self.store.tune(None, self.pending_tune_callbacks.pop(0))
            if fresh is not None and fresh["callback"]:
                self._post_callback(fresh["callback"], {"tune": self.tune_json(fresh)})
        moment = time.time()
        tunes = self.store.due_tunes(moment)
        prompts = self.store.due_prompts(moment)
        if not tunes and not prompts:
            return
        stamp = now_iso()
        self.store.begin()
        try:
            for row in tunes:
                self.store.finish_tune(row["id"], stamp)
            for row in prompts:
                if row["user_error"] is None:
                    # stored as paths: the URLs follow the port the sandbox serves on when they are read
                    images = [f"/images/{row['id']}/{n}.png" for n in range(row["num_images"])]
                    self.store.finish_prompt(row["id"], stamp, images)
                else:
                    self.store.finish_prompt(row["id"], stamp, [])
            self.store.commit()
        except Exception:
            self.store.rollback()
            raise
        for row in tunes:
            if row["callback"]:
                fresh = self.store.tune(None, row["id"])
                if fresh is not None:
                    self._post_callback(fresh["callback"], {"tune": self.tune_json(fresh)})
        for row in prompts:
            if row["callback"]:
                fresh = self.store.prompt(None, row["id"])
                if fresh is not None:
                    self._post_callback(fresh["callback"], {"prompt": self.prompt_json(fresh)})
        if any(row["run_id"] is not None for row in prompts):
            self._close_runs()

    def _close_runs(self) -> None:
        for run in self.store.open_runs():
            rows = self.store.run_prompts(run["id"])
            if any(r["trained_at"] is None for r in rows):
                continue
            self.store.close_run(run["id"])
            if run["prompts_callback"]:
                self._post_callback(run["prompts_callback"], [self.prompt_json(r) for r in rows])

    def post_callback_later(self, url: str, payload: Any) -> None:
        """A callback sent after the current request is answered (and its write committed)."""
        self.deferred_callbacks.append((url, payload))

    def _post_callback(self, url: str, payload: Any) -> None:
        """POST once, in the background; not retried, as Astria does not retry."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._deliver(url, payload))
        self._callback_tasks.add(task)
        task.add_done_callback(self._callback_tasks.discard)

    async def _deliver(self, url: str, payload: Any) -> None:
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        record: dict[str, Any] = {"url": url, "at": now_iso()}
        try:
            response = await self._http.post(url, json=payload)
            record["status"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        self.callbacks.append(record)

    async def aclose(self) -> None:
        for task in list(self._callback_tasks):
            task.cancel()
        if self._http is not None:
            await self._http.aclose()

    # -- representations ----------------------------------------------------

    def prompt_json(self, row: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {"id": row["id"], "tune_id": row["tune_id"], "text": row["text"]}
        out.update(PROMPT_PARAM_DEFAULTS)
        stored = row["params"]
        if stored != "{}":
            params = json.loads(stored)
            out.update((k, v) for k, v in params.items() if k in PROMPT_PARAM_DEFAULTS)
        out["num_images"] = row["num_images"]
        images = row["images"]
        out.update(
            {
                "callback": row["callback"],
                "pack_id": row["pack_id"],
                "base_pack_id": row["base_pack_id"],
                "orig_prompt_id": row["orig_prompt_id"],
                "order_id": None,
                "images": [] if images == "[]" else self.image_urls(images),
                "trained_at": row["trained_at"],
                "started_training_at": row["started_training_at"],
                "user_error": row["user_error"],
                "cost_mc": row["cost_mc"],
                "created_at": row["created_at"],
                "updated_at": row["updated_at"],
                "url": f"{self.config.base_url}/tunes/{row['tune_id']}/prompts/{row['id']}.json",
            }
        )
        return out

    def image_urls(self, stored: str) -> list[str]:
        """A prompt's image URLs from its stored paths, on this sandbox's current base URL."""
        return [self.config.base_url + url if url.startswith("/") else url for url in json.loads(stored)]

    def tune_json(self, row: sqlite3.Row) -> dict[str, Any]:
        data = json.loads(row["data"])
        trained = row["trained_at"]
        created = row["created_at"]
        mock = "https://sdbooth2-production.s3.amazonaws.com/mock"
        return {
            "id": row["id"],
            "title": row["title"],
            "name": row["name"],
            "token": row["token"],
            "base_tune_id": row["base_tune_id"],
            "args": None,
            "steps": data.get("steps"),
            "face_crop": data.get("face_crop"),
            "training_face_correct": bool(data.get("training_face_correct", False)),
            "ckpt_url": mock if trained else None,
            "ckpt_urls": [mock] if trained else [],
            "eta": now_iso(row["ready_at"]) if row["ready_at"] else created,
            "trained_at": trained,
            "started_training_at": created,
            "expires_at": now_iso(_parse_time(created) + 30 * 86400),
            "created_at": created,
            "updated_at": row["updated_at"],
            "branch": row["branch"],
            "model_type": row["model_type"],
            "characteristics": data.get("characteristics") or {},
            "auto_extend": bool(data.get("auto_extend", False)),
            "callback": row["callback"],
            "is_api": True,
            "orig_images": data.get("image_urls") or data.get("images") or [],
            "url": f"{self.config.base_url}/tunes/{row['id']}.json",
        }

    def class_for(self, tune: sqlite3.Row, text: str) -> str:
        """A prompt's class: the name of the tune its text references, else of the tune it is created on."""
        match = TUNE_TAG_RE.search(text)
        if match is not None:
            referenced = self.store.tune(None, int(match.group(2)))
            if referenced is not None:
                return str(referenced["name"])
        return str(tune["name"])

    def class_of(self, row: sqlite3.Row) -> str:
        return str(row["class_name"])

    def pack_summary(self, row: sqlite3.Row, costs: dict[str, tuple[int, int]] | None = None) -> dict[str, Any]:
        if costs is None:
            costs = self.store.pack_costs([row["id"]])[row["id"]]
        cost_hash = {cls: cost for cls, (cost, _) in sorted(costs.items())}
        return {
            "id": row["id"],
            "base_tune_id": row["base_tune_id"],
            "user_id": 1,
            "slug": row["slug"],
            "title": row["title"],
            "token": row["token"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "multiplier": row["multiplier"],
            "model_type": row["model_type"],
            "public_at": row["public_at"],
            "unlisted_at": row["unlisted_at"],
            "cost_mc_hash": cost_hash,
        }

    def pack_detail(self, row: sqlite3.Row) -> dict[str, Any]:
        templates = self.store.pack_templates(row["id"])
        out = self.pack_summary(row)
        costs: dict[str, dict[str, int]] = {}
        per_class: dict[str, list[dict[str, Any]]] = {}
        listed = []
        for t in templates:
            cls = self.class_of(t)
            entry = costs.setdefault(cls, {"cost_mc": 0, "num_images": 0})
            entry["cost_mc"] += t["cost_mc"]
            entry["num_images"] += t["num_images"]
            images = self.image_urls(t["images"])
            per_class.setdefault(cls, []).append({"id": t["id"], "images": images})
            listed.append({**self.prompt_json(t), "class_name": cls})
        cover = next((self.image_urls(t["images"])[0] for t in reversed(templates) if json.loads(t["images"])), None)
        out.update(
            {
                "subtitle": row["subtitle"],
                "preset": row["preset"],
                "cover_url": cover,
                "logo": None,
                "costs": costs,
                "prompts_per_class": per_class,
                "template_prompts": sorted(listed, key=lambda p: -p["id"]),
            }
        )
        return out


def _parse_time(stamp: str) -> float:
    return time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


# -- pagination ---------------------------------------------------------------


def _query_int(ctx: Context, name: str) -> int | None:
    value = ctx.request.arg(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None


def _page(ctx: Context, offset_max: int) -> tuple[int | None, int, int]:
    limit = _query_int(ctx, "limit")
    limit = PAGE_DEFAULT if limit is None else max(1, min(limit, PAGE_MAX))
    offset = _query_int(ctx, "offset") or 0
    if offset < 0:
        raise ApiError(400, "offset must not be negative")
    if offset > offset_max:
        raise ApiError(400, f"offset is limited to {offset_max}; page with before_id instead")
    return _query_int(ctx, "before_id"), limit, offset


# -- packs --------------------------------------------------------------------


def list_packs(app: SandboxApp, ctx: Context) -> Response:
    request = ctx.request
    limit = _int(request.arg("limit"), "limit", optional=True)
    offset = _int(request.arg("offset"), "offset", optional=True) or 0
    if offset < 0 or (limit is not None and limit < 0):
        raise ApiError(400, "limit and offset must not be negative")
    rows = app.store.packs(ctx.scope, None, 0)
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
    base_tune_id = _int(fields.get("base_tune_id"), "base_tune_id")
    model_type = fields.get("model_type")
    if model_type not in ("lora", "faceid", "pti", None, ""):
        raise ApiError(422, "model_type must be one of lora, faceid, pti")
    base = derive_slug(title) or "pack"
    slug, n = base, 1
    while app.store.slug_taken(slug):
        n += 1
        slug = f"{base}-{n}"
    pack_id = app.store.insert_pack(
        ctx.workspace,
        {
            "slug": slug,
            "title": title,
            "subtitle": fields.get("subtitle"),
            "base_tune_id": base_tune_id,
            "model_type": model_type or None,
            "token": fields.get("token") or "ohwx",
            "preset": fields.get("preset"),
        },
    )
    row = app.store.pack(None, str(pack_id))
    assert row is not None
    return Response.json(201, app.pack_detail(row))


def pack_not_writable(app: SandboxApp, ctx: Context) -> Response:
    raise ApiError(404, "Packs cannot be changed or deleted through the API; use the Astria web UI")


def get_pack(app: SandboxApp, ctx: Context) -> Response:
    row = app.store.pack(ctx.scope, ctx.params["ref"])
    if row is None:
        raise ApiError(404, f"Pack {ctx.params['ref']} not found")
    return Response.json(200, app.pack_detail(row))


def run_pack(app: SandboxApp, ctx: Context) -> Response:
    pack = app.store.pack(ctx.scope, ctx.params["ref"])
    if pack is None:
        raise ApiError(404, f"Pack {ctx.params['ref']} not found")
    spec = ctx.root("tune")
    templates = app.store.pack_templates(pack["id"])
    classes = {app.class_of(t) for t in templates}
    wanted_ids = {int(i) for i in _list(spec.get("prompt_ids"), "prompt_ids")}
    if wanted_ids - {t["id"] for t in templates}:
        raise ApiError(422, f"prompt_ids not in this pack: {sorted(wanted_ids - {t['id'] for t in templates})}")
    overrides = spec.get("prompt_attributes") or {}
    if not isinstance(overrides, dict):
        raise ApiError(422, "prompt_attributes must be an object")
    characteristics = spec.get("characteristics") or {}
    if not isinstance(characteristics, dict):
        raise ApiError(422, "characteristics must be an object")
    run_ids: list[int] = []

    def start_run() -> int:
        run_ids.append(app.store.insert_run(pack["id"], spec.get("prompts_callback")))
        return run_ids[-1]

    def finish_run(created: list[int]) -> None:
        if not created:
            # Nothing to wait for: the run is complete now, its callback (an empty list) too.
            app.store.close_run(run_ids[-1])
            if spec.get("prompts_callback"):
                app.post_callback_later(str(spec["prompts_callback"]), [])

    def clone_onto(tune: sqlite3.Row, run_id: int) -> list[int]:
        created = []
        for template in templates:
            if app.class_of(template) != tune["name"]:
                continue
            if wanted_ids and template["id"] not in wanted_ids:
                continue
            text = TUNE_TAG_RE.sub(lambda m: f"<{m.group(1)}:{tune['id']}:{m.group(3)}>", template["text"], count=1)
            text = _PLACEHOLDER.sub(lambda m: str(characteristics.get(m.group(1), m.group(0))), text)
            params = json.loads(template["params"])
            params.update(clean_prompt_params(overrides))
            created.append(
                _insert_prompt(
                    app,
                    ctx.workspace,
                    tune,
                    text,
                    params,
                    pack_id=None,
                    base_pack_id=pack["id"],
                    orig_prompt_id=template["id"],
                    run_id=run_id,
                )
            )
        return created

    tune_ids = [int(i) for i in _list(spec.get("tune_ids"), "tune_ids")]
    if tune_ids:
        prompt_ids: list[int] = []
        run_id = start_run()
        for tune_id in tune_ids:
            tune = app.store.tune(ctx.scope, tune_id)
            if tune is None:
                raise ApiError(404, f"Tune {tune_id} not found")
            if tune["name"] not in classes:
                raise ApiError(422, f"Class {tune['name']} is not supported by this pack")
            prompt_ids += clone_onto(tune, run_id)
        finish_run(prompt_ids)
        return Response.json(201, {"status": 201, "message": "Prompts created", "prompt_ids": prompt_ids})

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
        "characteristics": characteristics,
        "image_urls": _list(spec.get("image_urls") or spec.get("images"), "image_urls"),
        "preset": spec.get("preset"),
    }
    tune_id = _insert_tune(app, ctx.workspace, fields)
    tune = app.store.tune(None, tune_id)
    assert tune is not None
    finish_run(clone_onto(tune, start_run()))
    return Response.json(201, app.tune_json(tune))


def _list(value: Any, name: str) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, (str, int)):
        return [v for v in str(value).split(",") if v] if isinstance(value, str) else [value]
    raise ApiError(422, f"{name} must be a list")


# -- tunes --------------------------------------------------------------------


def list_tunes(app: SandboxApp, ctx: Context) -> Response:
    before_id, limit, offset = _page(ctx, OFFSET_MAX_TUNES)
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
    base_tune_id = _int(spec.get("base_tune_id"), "base_tune_id", optional=True)
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
        "image_urls": _list(images, "image_urls"),
        "auto_extend": _bool(spec.get("auto_extend", False), "auto_extend"),
        "characteristics": spec.get("characteristics") or {},
        "preset": spec.get("preset"),
        "steps": _int(spec.get("steps"), "steps", optional=True),
    }
    tune_id = _insert_tune(app, ctx.workspace, fields)
    for spec_prompt in spec.get("prompts_attributes") or []:
        if isinstance(spec_prompt, dict) and spec_prompt.get("text"):
            tune = app.store.tune(None, tune_id)
            assert tune is not None
            params = clean_prompt_params(spec_prompt)
            _insert_prompt(app, ctx.workspace, tune, str(spec_prompt["text"]), params)
    row = app.store.tune(None, tune_id)
    assert row is not None
    return Response.json(201, app.tune_json(row))


def _insert_tune(app: SandboxApp, workspace: str, fields: dict[str, Any]) -> int:
    """A new tune: "fast" (and instant gemini) tunes are trained at once, others after train_delay."""
    instant = fields.get("branch") in _FREE_BRANCHES
    tune_id = app.store.insert_tune(
        workspace, fields, ready_at=time.time() + (0 if instant else app.config.train_delay)
    )
    if instant:
        app.store.finish_tune(tune_id, now_iso())
        if fields.get("callback"):
            app.pending_tune_callbacks.append(tune_id)
    return tune_id


def _tune_or_404(app: SandboxApp, ctx: Context, key: str = "tune_id") -> sqlite3.Row:
    tune = app.store.tune(ctx.scope, int(ctx.params[key]))
    if tune is None:
        raise ApiError(404, f"Tune {ctx.params[key]} not found")
    return tune


def get_tune(app: SandboxApp, ctx: Context) -> Response:
    return Response.json(200, app.tune_json(_tune_or_404(app, ctx)))


def update_tune(app: SandboxApp, ctx: Context) -> Response:
    tune = _tune_or_404(app, ctx)
    spec = ctx.root("tune")
    allowed = {"title", "name", "characteristics", "auto_extend"}
    changes = {k: v for k, v in spec.items() if k in allowed}
    if "auto_extend" in changes:
        changes["auto_extend"] = _bool(changes["auto_extend"], "auto_extend")
    app.store.update_tune(tune["id"], changes)
    row = app.store.tune(None, tune["id"])
    assert row is not None
    return Response.json(200, app.tune_json(row))


def delete_tune(app: SandboxApp, ctx: Context) -> Response:
    tune = _tune_or_404(app, ctx)
    app.store.delete_tune(tune["id"])
    return Response.json(200, {"message": "Tune successfully deleted"})


# -- prompts ------------------------------------------------------------------


def _insert_prompt(
    app: SandboxApp,
    workspace: str,
    tune: sqlite3.Row,
    text: str,
    params: dict[str, Any],
    *,
    pack_id: int | None = None,
    base_pack_id: int | None = None,
    orig_prompt_id: int | None = None,
    run_id: int | None = None,
) -> int:
    num_images = int(params.get("num_images", 1))
    free = tune["branch"] in _FREE_BRANCHES
    fields = {
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
        "user_error": "Image generation failed (sandbox)" if _FAIL_MARK in text else None,
        "run_id": run_id,
    }
    return app.store.insert_prompt(workspace, fields)


def _same_prompt(
    app: SandboxApp, workspace: str, tune_id: int, text: str, params: dict[str, Any]
) -> sqlite3.Row | None:
    """With idempotency on, the existing prompt this create would duplicate."""
    mode = app.idempotency
    if mode == "off":
        return None
    for row in app.store.same_text_prompts(workspace, tune_id, text):
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


def create_prompt(app: SandboxApp, ctx: Context) -> Response:
    tune = _tune_or_404(app, ctx)
    spec = ctx.root("prompt")
    text = spec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(422, "text can't be blank")
    params = clean_prompt_params(spec)
    pack_id = _int(spec.get("pack_id"), "pack_id", optional=True)
    base_pack_id = _int(spec.get("base_pack_id"), "base_pack_id", optional=True)
    if pack_id is not None:
        if app.store.pack(ctx.scope, str(pack_id)) is None:
            raise ApiError(404, f"Pack {pack_id} not found")
        if not TUNE_TAG_RE.search(text):
            raise ApiError(422, NOT_FINE_TUNED)
    existing = _same_prompt(app, ctx.workspace, tune["id"], text, params)
    if existing is not None:
        # The documented idempotent replay: the existing prompt comes back,
        # whatever pack it belongs to.
        return Response.json(200, app.prompt_json(existing))
    prompt_id = _insert_prompt(app, ctx.workspace, tune, text, params, pack_id=pack_id, base_pack_id=base_pack_id)
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
    before_id, limit, offset = _page(ctx, OFFSET_MAX_PROMPTS)
    request = ctx.request
    filters: dict[str, Any] = {}
    for column in ("pack_id", "base_pack_id", "tune_id", "orig_prompt_id"):
        value = request.arg(column)
        if value is not None:
            filters[column] = _int(value, column)
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
            changes[name] = _int(spec[name], name, optional=True)
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
    pack_id = _int(spec.get("pack_id"), "pack_id", optional=True) if "pack_id" in spec else None
    if pack_id is not None and app.store.pack(ctx.scope, str(pack_id)) is None:
        raise ApiError(404, f"Pack {pack_id} not found")  # as on create and PATCH
    if pack_id is not None and not TUNE_TAG_RE.search(text):
        raise ApiError(422, NOT_FINE_TUNED)
    prompt_id = _insert_prompt(app, ctx.workspace, tune, str(text), params, pack_id=pack_id)
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


def current_user(app: SandboxApp, ctx: Context) -> Response:
    return Response.json(
        200,
        {
            "id": 1,
            "email": "sandbox@localhost",
            "name": "packsync sandbox",
            "usd_balance_mc": 10_000_000,
            "auto_extend_tunes": True,
        },
    )


_ROUTES: list[tuple[str, str, Route]] = [
    ("GET", r"/packs", list_packs),
    ("POST", r"/packs", create_pack),
    ("PATCH", r"/packs/(?P<ref>[^/]+)", pack_not_writable),
    ("PUT", r"/packs/(?P<ref>[^/]+)", pack_not_writable),
    ("DELETE", r"/packs/(?P<ref>[^/]+)", pack_not_writable),
    ("GET", r"/p/(?P<ref>[^/]+)", get_pack),
    ("PATCH", r"/p/(?P<ref>[^/]+)", pack_not_writable),
    ("DELETE", r"/p/(?P<ref>[^/]+)", pack_not_writable),
    ("POST", r"/p/(?P<ref>[^/]+)/tunes", run_pack),
    ("GET", r"/tunes", list_tunes),
    ("POST", r"/tunes", create_tune),
    ("GET", r"/tunes/(?P<tune_id>\d+)", get_tune),
    ("PATCH", r"/tunes/(?P<tune_id>\d+)", update_tune),
    ("DELETE", r"/tunes/(?P<tune_id>\d+)", delete_tune),
    ("GET", r"/tunes/(?P<tune_id>\d+)/prompts", list_prompts),
    ("POST", r"/tunes/(?P<tune_id>\d+)/prompts", create_prompt),
    ("GET", r"/tunes/(?P<tune_id>\d+)/prompts/(?P<prompt_id>\d+)", get_prompt),
    ("PATCH", r"/tunes/(?P<tune_id>\d+)/prompts/(?P<prompt_id>\d+)", update_prompt),
    ("DELETE", r"/tunes/(?P<tune_id>\d+)/prompts/(?P<prompt_id>\d+)", delete_prompt),
    ("GET", r"/prompts", list_prompts),
    ("GET", r"/prompts/(?P<prompt_id>\d+)", get_prompt),
    ("PATCH", r"/prompts/(?P<prompt_id>\d+)", update_prompt),
    ("DELETE", r"/prompts/(?P<prompt_id>\d+)", delete_prompt),
    ("POST", r"/prompts/(?P<prompt_id>\d+)/duplicate", duplicate_prompt),
    ("POST", r"/prompts/(?P<prompt_id>\d+)/likes?", like_prompt),
    ("DELETE", r"/prompts/(?P<prompt_id>\d+)/likes?", unlike_prompt),
    ("GET", r"/users", current_user),
]


def _register(app: SandboxApp) -> None:
    app.routes = [(method, re.compile(pattern), handler) for method, pattern, handler in _ROUTES]
