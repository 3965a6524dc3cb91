"""What every route works with: its context, the error it raises, the sandbox's settings, and its
house rules (prices; marks in a text that make it misbehave on purpose)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from packsync.sandbox.faults import FaultPlan
from packsync.sandbox.forms import decode_body
from packsync.sandbox.httpserver import Request, Response
from packsync.sandbox.realism import ACCOUNT_BACKEND_VERSION, ACCOUNT_SCHEDULER, RealismClock
from packsync.sandbox.realistic import PendingRun
from packsync.sandbox.store import Store

if TYPE_CHECKING:
    from packsync.sandbox.app import SandboxApp


PRICE_PER_IMAGE_MC = 2_500  # what a generated image costs on a tune that is not a free "fast" one
PRICE_PER_TUNE_MC = 150_000
IDEMPOTENCY_MODES = ("off", "on", "text-seed")
PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
FAIL_MARK = "[sandbox:fail]"
BROKEN_IMAGES_MARK = "[sandbox:broken-images]"  # its images answer an HTML error page, as a CDN might
TUNE_LIFETIME = 30 * 86400  # seconds from creation to expires_at (A4)
FREE_BRANCHES = frozenset({"fast", "gemini", "gemini-2"})  # free mock tunes, trained at once


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
    realism: frozenset[str] = frozenset()  # the realistic behaviours turned on (realism.BEHAVIOURS)
    time_scale: float = 1.0  # sandbox seconds per real second in the realistic mode's waits
    account_scheduler: str = ACCOUNT_SCHEDULER  # what an omitted scheduler reads back as (sparse echo)
    account_backend_version: int = ACCOUNT_BACKEND_VERSION
    # (old, new): what the server rewrites in a text it stores (Astria moves legacy flags out of texts)
    text_rewrites: tuple[tuple[str, str], ...] = ()


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


class AppState:
    """What the app holds, declared once for the parts it is made of (views, clock, admin)."""

    store: Store
    config: SandboxConfig
    faults: FaultPlan
    routes: list[tuple[str, re.Pattern[str], Route]]
    request_count: Counter[str]
    request_log: deque[dict[str, Any]]
    callbacks: deque[dict[str, Any]]
    pending_tune_callbacks: list[int]
    deferred_callbacks: list[tuple[str, Any]]
    access_log: Any
    wakeup: asyncio.Event
    _callback_tasks: set[asyncio.Task[None]]
    _http: Any
    realism_clock: RealismClock
    gallery_ready: bool
    pending_runs: list[PendingRun]

    def real(self, behaviour: str) -> bool:
        """Whether the realistic behaviour ``behaviour`` is on."""
        return behaviour in self.config.realism
