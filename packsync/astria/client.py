"""The Astria API client: one pooled connection set, bounded concurrency, careful retries.

Retry rules (``astria-api.md`` A7):

* 422 is never retried: the request is wrong, and sending it again cannot help.
* 429, 500, 502, 503 and a connection that could not be opened mean the
  request was not carried out: retried with exponential backoff, full jitter
  and a cap, honouring ``Retry-After`` when the server sends it.
* A write whose outcome is unknown — a 504, a timeout or a connection lost
  after the request was sent — is never sent again blindly: it raises
  :class:`OutcomeUnknown`, and the caller reconciles by reading. Reads, and
  writes that are idempotent by nature (PATCH of ``pack_id``, DELETE), are
  simply retried.

The API key lives in a :class:`Secret` and only ever in the Authorization
header: no log line, exception or repr contains it. A server may echo it back
(a proxy's error page quoting the request, a 401 that says ``Bearer sk_...``):
every string an answer brings — error bodies, the data itself, headers in log
lines — has the key blanked, as is and in each form it may be encoded in, and
every error message also has any ``Bearer`` token and ``Authorization`` value
blanked, before anything is shown, logged or written.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from packsync import __version__, logs
from packsync.astria.errors import (
    ApiError,
    AuthError,
    ConfigError,
    NotFound,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from packsync.astria.objects import LiveTemplate, parse_templates
from packsync.astria.settings import ClientConfig, Scrubber, check_base_url, header_safe
from packsync.facts import PAGE_DEFAULT, PAGE_MAX

log = logging.getLogger("packsync.client")

PACKS_PAGE = 100
# Filters of a listing that name a field of each item: the client applies them again.
_ID_FILTERS = frozenset({"pack_id", "base_pack_id", "orig_prompt_id", "tune_id"})


_OUTCOME_UNKNOWN = frozenset({500, 502, 503, 504})  # answers after which a write may or may not have happened
_WRITE_SAFE = frozenset({"GET", "HEAD", "PATCH", "DELETE", "PUT"})  # repeating them changes nothing more


class AstriaClient:
    """Async client of the Astria API; use as ``async with AstriaClient(config) as client``."""

    def __init__(self, config: ClientConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not config.key:
            raise ConfigError("no API key")
        if not header_safe(config.key.reveal()):
            raise ConfigError("the API key has characters other than printable ASCII; it cannot be sent as a header")
        if config.workspace_id and not header_safe(str(config.workspace_id)):
            raise ConfigError("the workspace id must be printable ASCII: it is sent as the X-Workspace-Id header")
        self.config = config
        self.base_url = check_base_url(config.base_url)
        self._scrub = Scrubber.of(config.key)
        logs.keep_secret(config.key.forms())  # for the HTTP libraries' own lines (PACKSYNC_LOG=trace)
        self._rng = random.Random(config.seed)
        self._sem = asyncio.Semaphore(max(1, config.concurrency))
        headers = {
            "Authorization": f"Bearer {config.key.reveal()}",
            "Accept": "application/json",
            "User-Agent": f"packsync/{__version__}",
        }
        if config.workspace_id:
            headers["X-Workspace-Id"] = str(config.workspace_id)
        t = config.timeouts
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
            limits=httpx.Limits(
                max_connections=max(1, config.concurrency),
                max_keepalive_connections=max(1, config.concurrency),
            ),
            transport=transport,
            verify=True,
            follow_redirects=False,
            trust_env=False,
        )
        self.requests_sent = 0

    async def __aenter__(self) -> AstriaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the one place requests are sent ------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        retry_unknown: bool | None = None,
        attempts: int | None = None,
    ) -> Any:
        """Send one API request with the retry rules; return the decoded JSON (None for an empty body).

        ``retry_unknown``: whether a lost answer may simply be retried; by
        default true for GET, PATCH and DELETE and false for POST. ``attempts``:
        at most this many tries instead of the retry policy's (1: a poll, which
        its caller repeats at its own pace).
        """
        method = method.upper()
        safe = method in _WRITE_SAFE if retry_unknown is None else retry_unknown
        policy = self.config.retry
        tries = policy.attempts if attempts is None else max(1, attempts)
        deadline = self.config.timeouts.total
        shown = path
        for attempt in range(tries):
            last = attempt == tries - 1
            started = time.monotonic()
            lost: str | None = None
            try:
                async with self._sem:
                    self.requests_sent += 1
                    # The whole request, answer body included, within the deadline.
                    response = await asyncio.wait_for(
                        self._http.request(method, path, params=params, json=body), timeout=deadline
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Never sent: always safe to try again.
                why = _describe(exc, self._scrub)
                if last:
                    raise TransportError(method, shown, None, f"cannot connect: {why}") from None
                await self._wait(attempt, None, method, shown, f"cannot connect ({why})")
                continue
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                lost = _describe(exc, self._scrub)
            except asyncio.TimeoutError:
                lost = f"no complete answer within {deadline:g} s"
            if lost is not None:
                # Sent, answer lost.
                if not safe:
                    raise OutcomeUnknown(
                        method, shown, None, f"no answer ({lost}); the request may have been carried out"
                    )
                if last:
                    raise TransportError(method, shown, None, f"no answer: {lost}")
                await self._wait(attempt, None, method, shown, f"no answer ({lost})")
                continue
            elapsed = (time.monotonic() - started) * 1000
            status = response.status_code
            log.info("%s %s -> %s (%.0f ms)", method, shown, status, elapsed)
            if 200 <= status < 300:
                return self._decode(method, shown, response)
            message = _error_message(response, self._scrub)
            if status == 422:
                raise Rejected(method, shown, status, message)
            if status in (401, 403):
                raise AuthError(method, shown, status, message)
            if status == 404:
                raise NotFound(method, shown, status, message)
            if status in _OUTCOME_UNKNOWN and not safe:
                # Never sent again at once (A7): a 504 was "probably processed", a 500 may follow a
                # commit. The caller reads back what the write would change before it decides.
                likely = "has probably been" if status == 504 else "may have been"
                raise OutcomeUnknown(method, shown, status, f"{message} (the request {likely} carried out)")
            if status in (429, 500, 502, 503, 504):
                if last:
                    cls = RateLimited if status == 429 else ServerError
                    raise cls(method, shown, status, f"{message} (after {tries} attempts)")
                await self._wait(attempt, _retry_after(response), method, shown, f"{status}")
                continue
            raise ApiError(method, shown, status, message)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait(self, attempt: int, retry_after: float | None, method: str, path: str, why: str) -> None:
        policy = self.config.retry
        if retry_after is not None:
            delay = min(retry_after, policy.max_retry_after)
        elif why == "500" and attempt == 0:
            delay = min(policy.after_server_error, policy.max_delay)  # Astria's docs: wait 30 s after a 500
        else:
            delay = policy.backoff(attempt, self._rng)
        log.info(
            "%s %s: %s; retrying in %.2f s (attempt %d of %d)", method, path, why, delay, attempt + 2, policy.attempts
        )
        await asyncio.sleep(delay)

    def _decode(self, method: str, path: str, response: httpx.Response) -> Any:
        content = response.content
        if not content.strip():
            return None
        try:
            data = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "unknown type")
            raise ProtocolError(
                method, path, response.status_code, f"expected JSON, got {kind}: {_snippet(content, self._scrub)}"
            ) from None
        return self._scrub.data(data, content)

    # -- typed helpers --------------------------------------------------------

    async def get_object(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data = _expect_object("GET", path, await self.request("GET", path, params=params))
        if "id" in data and type(data["id"]) is not int:
            raise ProtocolError("GET", path, 200, "the object's id is not an integer")
        return data

    async def _list(
        self, path: str, params: Mapping[str, Any], shown: str, attempts: int | None = None
    ) -> list[dict[str, Any]]:
        data = await self.request("GET", path, params=params, attempts=attempts)
        if not isinstance(data, list) or not all(isinstance(item, dict) and "id" in item for item in data):
            raise ProtocolError("GET", shown, 200, f"expected a list of objects with ids, got {_shape(data)}")
        if not all(type(item["id"]) is int for item in data):
            raise ProtocolError("GET", shown, 200, "an object in the list has an id that is not an integer")
        return data

    def _bounds(self, packs: bool = False) -> tuple[int, int]:
        """The most items, and pages, one list may have before it counts as one that never ends.

        Packs: a tenth of the items, since each pack listed may cost a read of its
        templates. The pages are enough for the item bound at the API's default page
        size, so a server that sends fewer items than asked per page still reaches the
        same items.
        """
        items = max(1, self.config.max_list_items // (10 if packs else 1))
        return items, -(-items // PAGE_DEFAULT) + 1

    async def paginate(self, path: str, filters: Mapping[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every item of a ``before_id``-paged list (A2), each once, checked before it is believed.

        Pages of up to 120 until the first empty page. An item listed again with
        the same content is left out; with other content, the list cannot be
        believed (:class:`ProtocolError`). An item that carries a filtered field
        (``pack_id``, ...) with another value than the one asked for is left out:
        the filter is applied here too, whether or not the server applied it; an
        item without that field is taken as the server's filter says. A new id at
        or above the cursor (the order is not newest first, so the cursor may skip
        items) is a ProtocolError. A page that brings no new id ends the list when
        it repeats only the cursor's own item (a server that reads the cursor as
        ``id <= before_id``); one that repeats anything newer is a ProtocolError
        (the server ignores the cursor: the rest cannot be read, and a list cut
        short would make a plan create again what exists). More than
        ``max_list_items`` items, or the pages that could hold them, is a list
        that never ends: ProtocolError naming the path and the bound.
        """
        filters = dict(filters or {})
        shown = _with_query(path, filters)
        checked = {name: _id_text(value) for name, value in filters.items() if name in _ID_FILTERS}
        max_items, max_pages = self._bounds()
        seen: dict[int, dict[str, Any]] = {}
        left_out = 0
        before: int | None = None
        for _ in range(max_pages):
            params = {**filters, "limit": PAGE_MAX}
            if before is not None:
                params["before_id"] = before
            page = await self._list(path, params, shown)
            if not page:
                break
            fresh = 0
            for item in page:
                tid = int(item["id"])
                if tid in seen:
                    if seen[tid] != item:
                        raise ProtocolError(
                            "GET", shown, None, f"the list holds #{tid} twice, with different content; try again later"
                        )
                    continue
                if before is not None and tid >= before:
                    raise ProtocolError(
                        "GET", shown, None, f"pagination did not advance: #{tid} came after before_id={before}"
                    )
                if len(seen) >= max_items:
                    raise ProtocolError("GET", shown, None, _endless(max_items, "items", path))
                seen[tid] = item
                fresh += 1
                if any(name in item and _id_text(item[name]) != value for name, value in checked.items()):
                    left_out += 1
                    continue
                yield item
            newest = max(int(item["id"]) for item in page)
            if not fresh and before is not None and newest <= before:
                log.info("GET %s: a page repeated only #%d; taking it as the end of the list", shown, before)
                break
            if not fresh:
                # before_id ignored: what lies past this page cannot be read
                raise ProtocolError(
                    "GET", shown, None, f"pagination did not advance: after before_id={before} came #{newest} again"
                )
            before = min(int(item["id"]) for item in page)
        else:
            raise ProtocolError("GET", shown, None, _endless(max_pages, "pages", path))
        if left_out:
            log.info("GET %s: left out %d item(s) that do not match the filter", shown, left_out)

    async def list_prompts(self, **filters: Any) -> list[dict[str, Any]]:
        return [item async for item in self.paginate("/prompts", filters)]

    async def newest_prompt_id(self) -> int:
        """The highest prompt id of the account's first page of ``GET /prompts`` (newest first, A1); 0 for none."""
        page = await self._list("/prompts", {"limit": PAGE_MAX}, "/prompts")
        return max((int(p["id"]) for p in page), default=0)

    async def prompts_above(self, path: str, mark: int, **filters: Any) -> list[dict[str, Any]]:
        """The prompts above ``mark`` of a ``before_id``-paged listing (``/prompts``, ``/tunes/:id/prompts``).

        For a watcher that polls: each page is tried once (any error goes to the
        caller, who polls again later), and paging stops at the first page that
        reaches the mark, is empty or brings no new id. An item whose filtered
        field (``base_pack_id``, ...) holds another value is left out, as in
        :meth:`paginate`.
        """
        shown = _with_query(path, filters)
        checked = {name: _id_text(value) for name, value in filters.items() if name in _ID_FILTERS}
        found: dict[int, dict[str, Any]] = {}
        before: int | None = None
        for _ in range(self._bounds()[1]):
            params = {**filters, "limit": PAGE_MAX, **({"before_id": before} if before is not None else {})}
            page = await self._list(path, params, shown, attempts=1)
            ids = [int(item["id"]) for item in page]
            fresh = [i for i in ids if i > mark and i not in found]
            for item in page:
                if int(item["id"]) > mark and all(_id_text(item.get(n, v)) == v for n, v in checked.items()):
                    found[int(item["id"])] = item
            if not fresh or min(ids) <= mark:
                break
            before = min(ids)
        return sorted(found.values(), key=lambda p: int(p["id"]))

    async def list_tunes(self, **filters: Any) -> list[dict[str, Any]]:
        return [item async for item in self.paginate("/tunes", filters)]

    async def iter_packs(self) -> AsyncIterator[dict[str, Any]]:
        """Every pack, once, whether or not the server pages ``/packs`` (undocumented).

        Sent with limit/offset; the offset advances by the items received, so a server that
        caps pages lower than asked is still read to the end. Only an empty page ends it, never
        a short one (a page longer than asked is the whole list). A page that brings no new id
        means the offset was ignored: one more call
        without limit/offset is merged in. A pack listed again with the same content is left
        out, with other content it is a ProtocolError; bounded as :meth:`paginate` is, at a
        tenth of the items.
        """
        max_items, max_pages = self._bounds(packs=True)
        seen: dict[int, dict[str, Any]] = {}

        def fresh(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
            new = []
            for pack in page:
                pid = int(pack["id"])
                if pid in seen:
                    if seen[pid] != pack:
                        raise ProtocolError(
                            "GET", "/packs", None, f"the list holds pack #{pid} twice, with different content"
                        )
                    continue
                if len(seen) >= max_items:
                    raise ProtocolError("GET", "/packs", None, _endless(max_items, "items", "/packs"))
                seen[pid] = pack
                new.append(pack)
            return new

        offset = 0
        for _ in range(max_pages):
            page = await self._list("/packs", {"limit": PACKS_PAGE, "offset": offset}, "/packs")
            if not page:
                return
            new = fresh(page)
            if not new:
                for pack in fresh(await self._list("/packs", {}, "/packs")):
                    yield pack
                return
            for pack in new:
                yield pack
            if len(page) > PACKS_PAGE:
                return  # longer than asked: the server ignores limit and sent the whole list
            offset += len(page)
        raise ProtocolError("GET", "/packs", None, _endless(max_pages, "pages", "/packs"))

    async def list_packs(self) -> list[dict[str, Any]]:
        packs = [pack async for pack in self.iter_packs()]
        return sorted(packs, key=lambda p: -int(p["id"]))

    async def get_pack(self, ref: int | str) -> dict[str, Any]:
        return await self.get_object(f"/p/{ref}")

    async def pack_templates(self, pack_id: int) -> list[LiveTemplate]:
        """A pack's template prompts, every page of them, each checked and typed (:class:`LiveTemplate`)."""
        where = f"/prompts?pack_id={pack_id}"
        return parse_templates(await self.list_prompts(pack_id=pack_id), where)

    async def create_pack(self, title: str, base_tune_id: int, model_type: str | None, **extra: Any) -> dict[str, Any]:
        body = {"pack": {"title": title, "base_tune_id": base_tune_id, "model_type": model_type, **extra}}
        return _expect_object("POST", "/packs", await self.request("POST", "/packs", body=body))

    async def create_prompt(self, tune_id: int, prompt: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/tunes/{tune_id}/prompts"
        data = await self.request("POST", path, body={"prompt": dict(prompt)})
        if isinstance(data, list) and len(data) == 1:  # seen in the wild: an array of one
            data = data[0]
        return _expect_object("POST", path, data)

    async def set_prompt_pack(self, prompt_id: int, pack_id: int | None, **extra: Any) -> dict[str, Any]:
        path = f"/prompts/{prompt_id}"
        data = await self.request("PATCH", path, body={"prompt": {"pack_id": pack_id, **extra}})
        return _expect_object("PATCH", path, data)

    async def delete_prompt(self, prompt_id: int) -> None:
        try:
            await self.request("DELETE", f"/prompts/{prompt_id}")
        except NotFound:
            # Already gone — possibly by our own earlier attempt whose answer was lost.
            return

    async def get_prompt(self, prompt_id: int) -> dict[str, Any]:
        return await self.get_object(f"/prompts/{prompt_id}")

    async def get_tune(self, tune_id: int) -> dict[str, Any]:
        return await self.get_object(f"/tunes/{tune_id}")

    async def update_tune(self, tune_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``PATCH /tunes/:id`` (A4: ``title``, ``name``, ``characteristics``, ``auto_extend``); the answer as data."""
        path = f"/tunes/{tune_id}"
        return _expect_object("PATCH", path, await self.request("PATCH", path, body={"tune": dict(fields)}))

    async def create_tune(self, tune: Mapping[str, Any]) -> dict[str, Any]:
        return _expect_object("POST", "/tunes", await self.request("POST", "/tunes", body={"tune": dict(tune)}))

    async def run_pack(self, ref: int | str, tune: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/p/{ref}/tunes"
        return _expect_object("POST", path, await self.request("POST", path, body={"tune": dict(tune)}))

    async def like(self, prompt_id: int) -> None:
        await self.request("POST", f"/prompts/{prompt_id}/likes", retry_unknown=True)

    async def unlike(self, prompt_id: int) -> None:
        await self.request("DELETE", f"/prompts/{prompt_id}/likes")


def _id_text(value: Any) -> str:
    """An id as text, however the server wrote it (7, 7.0, "7")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _with_query(path: str, filters: Mapping[str, Any]) -> str:
    """``path`` with its filters, as errors and log lines show a listing."""
    return f"{path}?{urlencode(filters)}" if filters else path


def _endless(bound: int, unit: str, path: str) -> str:
    return (
        f"the list did not end after {bound:,} {unit}; refusing to read on (far more than an account's "
        f"{'packs' if path == '/packs' else 'prompts'} should hold; PACKSYNC_MAX_LIST_ITEMS raises the bound)"
    )


def _expect_object(method: str, path: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(method, path, None, f"expected a JSON object, got {_shape(data)}")
    return data


def _shape(data: Any) -> str:
    if isinstance(data, list):
        return f"a list of {len(data)}"
    if isinstance(data, dict):
        return "an object"
    return type(data).__name__ if data is not None else "nothing"


def _snippet(content: bytes, scrub: Scrubber, limit: int = 120) -> str:
    """The start of a body, for an error message: blanked before it is cut, so no part of a
    secret is left at the cut."""
    text = scrub.message(content.decode("utf-8", "replace").strip().replace("\n", " "))
    return text[:limit] + ("..." if len(text) > limit else "")


def _error_message(response: httpx.Response, scrub: Scrubber) -> str:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return _snippet(response.content, scrub) or response.reason_phrase
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                return scrub.message(str(data[key]))
        # Rails-style field errors: {"field": ["msg"]}
        parts = [f"{k} {'; '.join(map(str, v))}" for k, v in data.items() if isinstance(v, list)]
        if parts:
            return scrub.message(", ".join(parts))
    return _snippet(response.content, scrub)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(exc: Exception, scrub: Scrubber) -> str:
    text = str(exc) or type(exc).__name__
    return scrub.message(text.splitlines()[0][:200])
