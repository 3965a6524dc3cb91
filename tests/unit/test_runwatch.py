"""Watching a pack run (A6), on a fake account and a fake clock: how often, how long, and whose prompts."""

from __future__ import annotations

import asyncio
from typing import Any

from packsync.astria.errors import NotFound, RateLimited, ServerError
from packsync.feedback.runwatch import PackRunSpec, WaitTiming, claim, watch_runs

PACK, TEMPLATE, TUNE, CUSTOMER, MARK = 10, 100, 7, 8, 500


def clone(pid: int, tune: int = TUNE, template: int = TEMPLATE, pack: int | None = PACK, **more: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "orig_prompt_id": template,
        "base_pack_id": pack,
        "tune_id": tune,
        "text": f"<lora:{tune}:1> ohwx dog in the park",
        "images": [],
        **more,
    }


class FakeAccount:
    """Answers each listing read from a script: an exception to raise, or the prompts to list."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.now = 0.0
        self.reads: list[tuple[float, str]] = []
        self.sleeps: list[float] = []

    async def prompts_above(self, path: str, mark: int, **filters: Any) -> list[dict[str, Any]]:
        assert mark == MARK
        self.reads.append((self.now, f"{path}{filters}"))
        step = self.script[min(len(self.reads) - 1, len(self.script) - 1)]
        if isinstance(step, Exception):
            raise step
        return [p for p in step if filters.get("base_pack_id", p["base_pack_id"]) == p["base_pack_id"]]

    async def get_prompt(self, prompt_id: int) -> dict[str, Any]:
        raise NotFound("GET", f"/prompts/{prompt_id}", 404, "not found")

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        assert self.now < 3600, "still waiting after an hour: the wait is not bounded"


def watch(account: FakeAccount, runs: list[PackRunSpec], timing: WaitTiming | None = None) -> Any:
    waits = timing or WaitTiming()
    return asyncio.run(watch_runs(account, MARK, runs, waits, account.clock, account.sleep))  # type: ignore[arg-type]


def test_not_yet_answers_are_waited_out_at_least_5_s_apart_with_backoff() -> None:
    done = clone(501, images=["https://x/1.png"])
    account = FakeAccount(
        [
            NotFound("GET", "/tunes/7/prompts", 404, "Prompts not found"),
            RateLimited("GET", "/prompts", 429, "Too many requests"),
            ServerError("GET", "/tunes/7/prompts", 503, "unavailable"),
            *[NotFound("GET", "/tunes/7/prompts", 404, "Prompts not found")] * 20,
            [clone(501)],
            [clone(501)],
            [done],
        ]
    )
    outcomes = watch(account, [PackRunSpec(PACK, (TUNE,), (TEMPLATE,))])
    assert outcomes[(TEMPLATE, TUNE)].images == ["https://x/1.png"] and not outcomes[(TEMPLATE, TUNE)].error
    assert all(s >= 5 for s in account.sleeps)
    assert max(account.sleeps) > 5 and max(account.sleeps) <= 30  # backed off, up to the cap
    paths = {path for _, path in account.reads}
    assert paths == {"/tunes/7/prompts{}", "/prompts{'base_pack_id': 10}"}  # the documented listings only


def test_a_template_that_never_appears_fails_by_the_deadline_and_says_it_may_cost() -> None:
    account = FakeAccount([NotFound("GET", "/tunes/7/prompts", 404, "Prompts not found")])
    outcomes = watch(account, [PackRunSpec(PACK, (TUNE,), (TEMPLATE,), lost=True)])
    error = outcomes[(TEMPLATE, TUNE)].error
    assert "created no prompt for this template within 300 s" in error and "be charged" in error
    assert "answer was lost" in error
    assert 300 <= account.now <= 300 + 30  # about 5 minutes, never open-ended
    assert all(s >= 5 for s in account.sleeps)


def test_images_are_waited_for_up_to_the_finish_bound() -> None:
    account = FakeAccount([[clone(501)]])
    outcomes = watch(account, [PackRunSpec(PACK, (TUNE,), (TEMPLATE,))], WaitTiming(finish=100))
    assert outcomes[(TEMPLATE, TUNE)].prompt_id == 501
    assert "no images within 100 s" in outcomes[(TEMPLATE, TUNE)].error
    assert 100 <= account.now <= 100 + 30


def test_only_this_runs_clones_above_the_mark_on_its_test_tunes_are_taken() -> None:
    run = PackRunSpec(PACK, (TUNE,), (TEMPLATE,))
    assert claim(clone(501), MARK, [run], None) == (TEMPLATE, TUNE)
    assert claim(clone(500), MARK, [run], None) is None  # at the mark: there before the run
    assert claim(clone(502, tune=CUSTOMER), MARK, [run], None) is None  # a customer's run of the pack
    assert claim(clone(502, tune=CUSTOMER), MARK, [run], TUNE) is None  # its text names another tune
    assert claim(clone(503, template=101), MARK, [run], None) is None  # another template
    assert claim(clone(504, pack=11), MARK, [run], None) is None  # another pack's run
    assert claim({**clone(505), "orig_prompt_id": None}, MARK, [run], None) is None  # not a clone
    tagless = {**clone(506), "text": "ohwx dog in the park"}  # a checkpoint pack: the tune is its tune
    assert claim(tagless, MARK, [run], None) == (TEMPLATE, TUNE)
    assert claim({**tagless, "tune_id": CUSTOMER}, MARK, [run], None) is None


def test_a_customers_clones_listed_first_are_not_taken() -> None:
    theirs = clone(501, tune=CUSTOMER, images=["https://x/theirs.png"])
    ours = clone(502, images=["https://x/ours.png"])
    account = FakeAccount([[theirs], [theirs, ours]])
    outcomes = watch(account, [PackRunSpec(PACK, (TUNE,), (TEMPLATE,))])
    assert outcomes[(TEMPLATE, TUNE)].images == ["https://x/ours.png"]


def test_the_scaled_timing_keeps_the_proportions() -> None:
    scaled = WaitTiming().scaled(100)
    assert (scaled.poll, scaled.poll_cap, scaled.appear, scaled.finish) == (0.05, 0.3, 3.0, 6.0)
