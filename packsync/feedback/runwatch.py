"""Waiting for the prompts of pack runs to appear and render (astria-api.md A6).

A run with ``tune_ids`` may answer without ids (``{"status": 201, "message":
"Prompts created"}``), and its prompts may appear minutes later; until they do,
the listings that would show them may answer 404, 422, 429 or 5xx. So the
watcher never needs the answer: before the runs it notes the highest prompt id
on the account (the *mark*); then, at least ``poll`` seconds apart (polling
invites 429) and backing off while nothing changes, it reads each test tune's
``GET /tunes/:id/prompts`` and each run pack's ``GET /prompts?base_pack_id=``
down to the mark. A prompt belongs to a run only when its id is above the mark,
its ``orig_prompt_id`` is one of the run's templates, its ``base_pack_id`` (when
shown) is the run's pack, and its text references one of the run's test tunes
(a tagless checkpoint text: the prompt is that tune's). So a customer's run of
the same pack, at the same time, is never taken for the preview's. Ids in a
run's answer are read too, when there are some, and judged the same way.

Bounded: ``appear`` seconds for every prompt to appear, then ``finish`` seconds
for their images (or ``user_error``). A prompt still missing is reported by
its template; it may still appear, and be charged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from packsync.astria.client import AstriaClient
from packsync.astria.errors import NotFound, ProtocolError, RateLimited, Rejected, ServerError, TransportError
from packsync.facts import TUNE_TAG_RE

# What a listing answers while a run's prompts are not there yet: "not yet", poll again later.
NOT_YET = (NotFound, Rejected, RateLimited, ServerError, TransportError, ProtocolError)

Pair = tuple[int, int]  # (template id, test tune id)


@dataclass(frozen=True)
class WaitTiming:
    """How the watcher waits, in seconds; :meth:`scaled` shrinks it for a sandbox whose clock runs faster."""

    poll: float = 5.0  # the least time between two reads of one listing
    poll_cap: float = 30.0  # the longest, after backing off
    appear: float = 300.0  # for every prompt of the runs to appear
    finish: float = 600.0  # then, for their images or user_error

    def scaled(self, scale: float) -> WaitTiming:
        """Every wait divided by ``scale`` (a sandbox ``time_scale``: 100 makes 5 s 0.05 s)."""
        return replace(
            self,
            poll=self.poll / scale,
            poll_cap=self.poll_cap / scale,
            appear=self.appear / scale,
            finish=self.finish / scale,
        )


@dataclass
class PackRunSpec:
    """One pack run: these templates of the pack, on these test tunes."""

    pack_id: int
    tune_ids: tuple[int, ...]
    template_ids: tuple[int, ...]
    answer_ids: list[int] = field(default_factory=list)  # prompt ids the answer gave, if any
    lost: bool = False  # the answer was lost: the run may or may not have happened


@dataclass
class Outcome:
    """What became of one template run on one test tune."""

    prompt_id: int | None = None
    images: list[str] = field(default_factory=list)
    error: str = ""


def referenced_tunes(text: str) -> set[int]:
    """The tune ids a prompt's text references with a fine-tune tag."""
    return {int(m.group(2)) for m in TUNE_TAG_RE.finditer(text)}


def claim(prompt: Mapping[str, Any], mark: int, runs: Sequence[PackRunSpec], listed_on: int | None) -> Pair | None:
    """The (template, test tune) a prompt was generated for by one of ``runs``; None when it is not theirs.

    ``listed_on``: the tune whose nested listing showed it (None: another listing).
    """
    pid, orig = prompt.get("id"), prompt.get("orig_prompt_id")
    if type(pid) is not int or pid <= mark or type(orig) is not int:
        return None
    tags = referenced_tunes(str(prompt.get("text") or ""))
    for run in runs:
        if orig not in run.template_ids or prompt.get("base_pack_id") not in (None, run.pack_id):
            continue
        for tune in run.tune_ids:
            on_tune = tune in tags if tags else tune in (listed_on, prompt.get("tune_id"))
            if on_tune:
                return (orig, tune)
    return None


def finished(prompt: Mapping[str, Any]) -> bool:
    return bool(prompt.get("images")) or bool(prompt.get("user_error"))


class Watcher:
    """One watch over ``runs``, all started after ``mark`` was taken."""

    def __init__(self, client: AstriaClient, mark: int, runs: Sequence[PackRunSpec]) -> None:
        self.client = client
        self.mark = mark
        self.runs = list(runs)
        self.wanted = {(t, tune) for run in self.runs for tune in run.tune_ids for t in run.template_ids}
        self.found: dict[Pair, dict[str, Any]] = {}

    def _take(self, prompt: dict[str, Any], listed_on: int | None) -> bool:
        """Keep a prompt that is the runs'; True when it is news (new, or its state changed)."""
        pair = claim(prompt, self.mark, self.runs, listed_on)
        if pair is None or pair not in self.wanted:
            return False
        held = self.found.get(pair)
        if held is not None and int(held["id"]) < int(prompt["id"]):
            return False  # the first clone of a template on a tune is the run's
        self.found[pair] = prompt
        return held != prompt

    async def poll(self) -> bool:
        """Read every listing once; True when anything changed. Errors mean "not yet"."""
        news = False
        for tune in sorted({tune for run in self.runs for tune in run.tune_ids}):
            news |= await self._read(self.client.prompts_above(f"/tunes/{tune}/prompts", self.mark), tune)
        for pack in sorted({run.pack_id for run in self.runs}):
            news |= await self._read(self.client.prompts_above("/prompts", self.mark, base_pack_id=pack))
        known = {int(p["id"]) for p in self.found.values()}
        for pid in sorted({i for run in self.runs for i in run.answer_ids} - known):
            news |= await self._read(self._one(pid))
        return news

    async def _one(self, prompt_id: int) -> list[dict[str, Any]]:
        return [await self.client.get_prompt(prompt_id)]

    async def _read(self, read: Awaitable[list[dict[str, Any]]], listed_on: int | None = None) -> bool:
        try:
            prompts = await read
        except NOT_YET:
            return False
        news = False
        for prompt in prompts:
            news |= self._take(prompt, listed_on)
        return news

    def outcomes(self, timing: WaitTiming) -> dict[Pair, Outcome]:
        lost = {(t, tune) for run in self.runs if run.lost for tune in run.tune_ids for t in run.template_ids}
        out: dict[Pair, Outcome] = {}
        for pair in self.wanted:
            prompt = self.found.get(pair)
            if prompt is None:
                why = "the run's answer was lost, and " if pair in lost else ""
                out[pair] = Outcome(
                    error=f"{why}the run created no prompt for this template within {timing.appear:g} s "
                    "(it may still appear, and be charged)"
                )
            elif prompt.get("user_error"):
                out[pair] = Outcome(int(prompt["id"]), error=str(prompt["user_error"]))
            elif prompt.get("images"):
                out[pair] = Outcome(int(prompt["id"]), [str(u) for u in prompt["images"]])
            else:
                error = f"no images within {timing.finish:g} s (it may still finish, and be charged)"
                out[pair] = Outcome(int(prompt["id"]), error=error)
        return out


async def watch_runs(
    client: AstriaClient,
    mark: int,
    runs: Sequence[PackRunSpec],
    timing: WaitTiming,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> dict[Pair, Outcome]:
    """What became of every (template, test tune) of ``runs``: polled as the module says, within its bounds."""
    watcher = Watcher(client, mark, runs)
    appear_by = clock() + timing.appear
    finish_by: float | None = None
    delay = timing.poll
    while True:
        news = await watcher.poll()
        now = clock()
        missing = watcher.wanted - watcher.found.keys()
        rendering = [p for p in watcher.found.values() if not finished(p)]
        if not missing and not rendering:
            break
        if not missing or now >= appear_by:  # every prompt appeared, or the time to appear is over
            finish_by = now + timing.finish if finish_by is None else finish_by
            if not rendering or now >= finish_by:
                break
        deadline = appear_by if finish_by is None else finish_by
        delay = timing.poll if news else min(delay * 1.5, timing.poll_cap)
        await sleep(max(timing.poll, min(delay, deadline - now)))
    return watcher.outcomes(timing)
