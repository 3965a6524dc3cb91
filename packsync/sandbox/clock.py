"""Time passing: images rendered, tunes trained, pack runs closed, callbacks delivered."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from packsync.sandbox.realism import GALLERY
from packsync.sandbox.realistic import seed_gallery
from packsync.sandbox.store import now_iso
from packsync.sandbox.views import Views

log = logging.getLogger("packsync.sandbox")


class Clock(Views):
    def settle(self) -> None:
        """Finish the tunes and prompts whose time has come, and queue their callbacks."""
        self._settle_realism()
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

    def _settle_realism(self) -> None:
        """The realistic mode's part: the gallery seeded once, and the late writes and runs now due."""
        if self.real(GALLERY) and not self.gallery_ready:
            seed_gallery(self.store)
            self.gallery_ready = True
        for action in self.realism_clock.due():
            try:
                action()
            except Exception:  # one late action going wrong must not stop the others or the request
                log.exception("a delayed action failed")

    def next_wait(self) -> float | None:
        """Real seconds until something is due (a prompt, a tune, a delayed action), or None."""
        due = self.store.next_due()
        waits = [] if due is None else [due - time.time()]
        later = self.realism_clock.next_due_in()
        if later is not None:
            waits.append(later)
        return min(waits) if waits else None

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
