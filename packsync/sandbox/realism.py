"""The realistic mode's switches and its clock.

Each name below is one point where the sandbox takes the least convenient plausible reading of
the API (astria-api.md Part A) instead of the best-supported one. ``--realistic`` turns on
:data:`REALISTIC`, every behaviour but ``lost-writes`` (which replaces ``late-commit``'s
"commits later" by "never commits"); each one is also switchable alone.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

SPARSE_ECHO = "sparse-echo"  # A5: a prompt reads back only the documented and client-read fields
ACCOUNT_PACKS = "account-packs"  # A1: GET /packs lists every pack of the user, whatever X-Workspace-Id
ERROR_BODIES = "error-bodies"  # A1: Rails field errors on validation 422s, HTML on 502/504
PACKS_PAGE_CAP = "packs-page-cap"  # A2: GET /packs caps limit at 20
MINIMAL_PACK_CREATE = "minimal-pack-create"  # A3: POST /packs keeps four fields, answers 200
GALLERY = "gallery"  # A3: other users' public packs hold slugs; a taken slug gets a random tail
TUNE_EXPIRY = "tune-expiry"  # A4: a tune past expires_at (without auto_extend) is 404
DEDUP = "dedup"  # A5: (text, seed) dedup per POST tune; the replay answers 201
PATCH_IGNORES = "patch-ignores"  # A5: PATCH of a prompt ignores fields it cannot change
NO_TUNE_FILTER = "no-tune-filter"  # A5: top-level GET /prompts?tune_id= is ignored
ASYNC_RUNS = "async-runs"  # A6: tune_ids runs answer without ids, clones appear 10-180 s later
POLL_LIMIT = "poll-limit"  # A6: polling a run's listing again within 5 s answers 429
LIKE_ONCE = "like-once"  # A6: a repeated like answers 422
LATE_COMMIT = "late-commit"  # A7: a write faulted 504/500 is answered first, committed 5-60 s later
LOST_WRITES = "lost-writes"  # A7: a write faulted 504/500 is answered and never committed
MODEL_RULES = "model-rules"  # A9: faceid only on gallery tunes, no <pti:...> tags
CLASS_AFTER_TAG = "class-after-tag"  # A9: a template's class is the word after its tag
FLUX_RULES = "flux-rules"  # A9: on Flux, no negative_prompt, cfg_scale below 5, no resolution

BEHAVIOURS = frozenset(
    {
        SPARSE_ECHO,
        ACCOUNT_PACKS,
        ERROR_BODIES,
        PACKS_PAGE_CAP,
        MINIMAL_PACK_CREATE,
        GALLERY,
        TUNE_EXPIRY,
        DEDUP,
        PATCH_IGNORES,
        NO_TUNE_FILTER,
        ASYNC_RUNS,
        POLL_LIMIT,
        LIKE_ONCE,
        LATE_COMMIT,
        LOST_WRITES,
        MODEL_RULES,
        CLASS_AFTER_TAG,
        FLUX_RULES,
    }
)
REALISTIC = BEHAVIOURS - {LOST_WRITES}  # what --realistic (or "all") turns on

# Timings of the realistic mode, in sandbox seconds (scaled by the time scale).
RUN_DELAY = (10.0, 180.0)
COMMIT_DELAY = (5.0, 60.0)
POLL_GAP = 5.0
PACKS_LIMIT_CAP = 20

# Account settings that fill an omitted scheduler / backend_version under sparse echo.
ACCOUNT_SCHEDULER = "dpm++2m_karras"
ACCOUNT_BACKEND_VERSION = 0


class RealismError(ValueError):
    pass


def parse_realism(items: Iterable[str], start: Iterable[str] = ()) -> frozenset[str]:
    """Behaviour names from options: ``all`` (or ``1``) adds every one of :data:`REALISTIC`,
    ``NAME`` adds one, ``-NAME`` takes one away; items may hold comma lists; applied in order."""
    chosen = set(start)
    for item in items:
        for word in (w.strip().lower() for w in item.split(",")):
            if not word:
                continue
            remove = word.startswith("-")
            name = word.lstrip("-")
            names = REALISTIC if name in ("all", "1", "true", "yes") else {name}
            if name in ("none", "0", "false", "no"):
                chosen.clear()
                continue
            unknown = names - BEHAVIOURS
            if unknown:
                raise RealismError(f"unknown realistic behaviour {name!r}; known: all, {', '.join(sorted(BEHAVIOURS))}")
            if remove:
                chosen -= names
            else:
                chosen |= names
    return frozenset(chosen)


@dataclass
class RealismClock:
    """The realistic mode's time: wall time times a scale, plus what tests advanced it by;
    and the actions waiting for their moment (late commits, pack runs)."""

    scale: float = 1.0  # sandbox seconds per real second: 100 makes a 180 s wait last 1.8 s
    seed: int = 0
    offset: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    _due: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    polls: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def now(self) -> float:
        """Realistic delays are measured in this clock: real seconds times the scale, plus the offset."""
        return time.time() * self.scale + self.offset

    def set_scale(self, scale: float) -> None:
        if scale <= 0:
            raise RealismError("time_scale must be greater than 0")
        before = self.now()
        self.scale = scale
        self.offset += before - self.now()  # the clock keeps its reading; only its pace changes

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise RealismError("the clock cannot go back")
        self.offset += seconds

    def draw(self, span: tuple[float, float]) -> float:
        return self.rng.uniform(*span)

    def later(self, delay: float, action: Callable[[], None]) -> float:
        at = self.now() + delay
        heapq.heappush(self._due, (at, next(self._order), action))
        return at

    def due(self) -> list[Callable[[], None]]:
        """The actions whose time has come, in order; each is taken off the queue."""
        moment = self.now()
        out = []
        while self._due and self._due[0][0] <= moment:
            out.append(heapq.heappop(self._due)[2])
        return out

    def next_due_in(self) -> float | None:
        """Real seconds until the next action, or None."""
        if not self._due:
            return None
        return max(0.0, (self._due[0][0] - self.now()) / self.scale)

    def pending(self) -> int:
        return len(self._due)

    def forget(self) -> None:
        self._due.clear()
        self.polls.clear()
