"""The request handler: auth, faults, routing and error mapping; control endpoints, time and
views are mixed in from their own modules."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections import Counter, deque
from typing import Any

from packsync.sandbox.admin import Admin
from packsync.sandbox.context import BROKEN_IMAGES_MARK, ApiError, Context, Route, SandboxConfig
from packsync.sandbox.faults import AFTER
from packsync.sandbox.forms import BodyError
from packsync.sandbox.httpserver import DropConnection, Request, Response
from packsync.sandbox.images import placeholder_png
from packsync.sandbox.realism import (
    ASYNC_RUNS,
    COMMIT_DELAY,
    ERROR_BODIES,
    LATE_COMMIT,
    LOST_WRITES,
    POLL_GAP,
    POLL_LIMIT,
    RealismClock,
)
from packsync.sandbox.realistic import error_response
from packsync.sandbox.routes import register
from packsync.sandbox.store import Store, now_iso

log = logging.getLogger("packsync.sandbox")


class SandboxApp(Admin):
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
        self.realism_clock = RealismClock(scale=config.time_scale)
        self.gallery_ready = False
        self.pending_runs = []
        register(self)

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
        late = self.real(LATE_COMMIT) or self.real(LOST_WRITES)
        if late and fault in ("500", "504") and request.method != "GET":
            route_name, response = "fault", self._answer_before_commit(request, path, str(fault))
            fault = f"{fault}-before-commit"
        else:
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
                return self.error(504, "Gateway timeout (sandbox fault after commit)")
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

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        """An error answer: ``{"error": ...}``, or as Rails and its proxies write them (error-bodies)."""
        if self.real(ERROR_BODIES):
            return error_response(status, message, headers)
        return Response.error(status, message, headers)

    def _dispatch(self, request: Request, path: str, fault: str | None) -> tuple[str, Response]:
        if fault == "429":
            return "fault", self.error(429, "Too many requests", {"Retry-After": f"{self.faults.retry_after:g}"})
        if fault == "429-bare":
            return "fault", self.error(429, "Too many requests")
        if fault in ("500", "502", "503"):
            return "fault", self.error(int(fault), "Server error (sandbox fault)")
        polled = self._poll_answer(request, path)
        if polled is not None:
            return "poll", polled
        found = self._match(request, path)
        if isinstance(found, Response):
            return "unmatched", found
        name, handler, ctx = found
        return name, self._run(handler, ctx)

    def _match(self, request: Request, path: str) -> tuple[str, Route, Context] | Response:
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
            return f"{method} {pattern.pattern}", handler, ctx
        if matched_path:
            return Response.error(404, f"No route for {request.method} {request.path}")
        return Response.error(404, f"Not found: {request.path}")

    def _answer_before_commit(self, request: Request, path: str, fault: str) -> Response:
        """A7, realistic: the write is answered 500/504 first and carried out later (late-commit), or never."""
        if not self.real(LOST_WRITES):
            clock = self.realism_clock
            clock.later(clock.draw(COMMIT_DELAY), lambda: self._replay(request, path))
        kind = "Gateway timeout" if fault == "504" else "Server error"
        return self.error(int(fault), f"{kind} (sandbox fault before the write commits)")

    def _replay(self, request: Request, path: str) -> None:
        """Carry out a write whose answer was a fault; what it answers now goes nowhere."""
        found = self._match(request, path)
        if not isinstance(found, Response):
            response = self._run(found[1], found[2], settle=False)
            log.info("late commit of %s %s: %s", request.method, request.path, response.status)

    def _poll_answer(self, request: Request, path: str) -> Response | None:
        """A6, realistic: the listings that watch a pack run answer 429 when polled again within 5 s
        (poll-limit), and 404 or 503 while the run's prompts are not there yet (async-runs)."""
        if request.method != "GET" or not (self.real(POLL_LIMIT) or self.real(ASYNC_RUNS)):
            return None
        nested = re.fullmatch(r"/tunes/(\d+)/prompts", path)
        base_pack = request.arg("base_pack_id") if path == "/prompts" else None
        if nested is None and base_pack is None:
            return None
        clock = self.realism_clock
        if self.real(POLL_LIMIT):
            key = f"{path}?{sorted(request.query)}"
            last = clock.polls.get(key)
            if last is not None and clock.now() - last < POLL_GAP:
                return self.error(429, "Too many requests: poll at most every 5 seconds")
            clock.polls[key] = clock.now()
        for run in self.pending_runs if self.real(ASYNC_RUNS) else ():
            if (nested is not None and int(nested.group(1)) in run.tune_ids) or base_pack == str(run.pack_id):
                run.polls += 1
                if run.polls % 2:
                    return self.error(404, "Prompts not found")
                return self.error(503, "Service unavailable")
        return None

    def _run(self, handler: Route, ctx: Context, *, settle: bool = True) -> Response:
        write = ctx.request.method != "GET"
        try:
            if settle:
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
            return self.error(exc.status, str(exc))
        except BodyError as exc:
            self.store.rollback()
            return self.error(400, str(exc))
        except sqlite3.Error as exc:
            self.store.rollback()
            log.exception("database error")
            return Response.error(500, f"database error: {exc}")

    # -- admin --------------------------------------------------------------
    # -- images -------------------------------------------------------------

    def _image(self, path: str) -> Response:
        match = re.fullmatch(r"/images/(\d+)/(\d+)\.png", path)
        if match is None:
            return Response.error(404, "no such image")
        row = self.store.prompt(None, int(match.group(1)))
        index = int(match.group(2))
        if row is None or index >= len(json.loads(row["images"])):
            return Response.error(404, "no such image")
        if BROKEN_IMAGES_MARK in row["text"]:
            page = b"<!doctype html><title>Service unavailable</title><h1>Please try again later</h1>\n"
            return Response(200, page, content_type="text/html; charset=utf-8")
        return Response(200, placeholder_png(row["id"], index), content_type="image/png")
