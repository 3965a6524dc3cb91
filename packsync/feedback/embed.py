"""Fetching generated images so that a page can carry them as ``data:`` URIs and stand alone.

Contract:

* The API key goes to the API's own origin only (the scheme, host and port of
  the target's URL). An image anywhere else — Astria's images live on a CDN —
  is fetched without it, and a redirect never carries it to another origin.
* Every image is bounded: at most ``max_bytes``, an answer within ``timeout``
  seconds (all redirects included), at most ``max_redirects`` redirects, and no
  more than ``concurrency`` fetches at once.
* Only a raster image is embedded: the body must start like a PNG, JPEG, GIF,
  WebP or AVIF file, and the declared type must not say it is something else. An
  HTML page answered with 200 (a login or error page) is never embedded.
* Nothing raises for one image: each URL gets an :class:`Embedded` value, with
  a ``problem`` when it could not be embedded, in which the key and any bearer
  token an answer echoed are blanked. URLs shown to people go through
  :func:`redact` (no user info, query or fragment: signed URLs carry their
  credentials there).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from packsync import __version__
from packsync.astria.settings import Scrubber, Secret

MAX_IMAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = MAX_IMAGE_BYTES
    timeout: float = 30.0
    concurrency: int = 4
    max_redirects: int = 5


@dataclass(frozen=True)
class Embedded:
    """One image URL: its ``data:`` URI, or why there is none."""

    url: str
    data_uri: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.data_uri)


_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (8, b"WEBP", "image/webp"),
    (4, b"ftypavif", "image/avif"),
)
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})


def sniff(content: bytes) -> str | None:
    """The image type the bytes start like, or None."""
    for offset, magic, kind in _SIGNATURES:
        if content[offset : offset + len(magic)] == magic and (kind != "image/webp" or content[:4] == b"RIFF"):
            return kind
    return None


def redact(url: str) -> str:
    """``url`` without user info, query and fragment: fit to be shown or written."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(a malformed URL)"
    if not parts.scheme or not host:
        return parts.path or "(a malformed URL)"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


class _Refused(Exception):
    """This image is not embedded; the message says why."""


class ImageFetcher:
    """``async with ImageFetcher(api_url, key) as fetcher: await fetcher.embed_all(urls)``."""

    def __init__(
        self,
        api_url: str,
        key: Secret | None,
        limits: FetchLimits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/") + "/"
        self.api_origin = _origin(self.api_url)
        self.key = key
        self._scrub = Scrubber.of(key) if key else Scrubber()  # a reason phrase may echo the key
        self.limits = limits or FetchLimits()
        self._sem = asyncio.Semaphore(max(1, self.limits.concurrency))
        self._http = httpx.AsyncClient(
            headers={"User-Agent": f"packsync/{__version__}", "Accept": "image/*"},
            timeout=httpx.Timeout(self.limits.timeout),
            limits=httpx.Limits(max_connections=max(1, self.limits.concurrency)),
            follow_redirects=False,  # followed by hand, deciding at each hop whether the key may go
            trust_env=False,
            transport=transport,
        )

    async def __aenter__(self) -> ImageFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def embed_all(self, urls: Iterable[str]) -> dict[str, Embedded]:
        """Every distinct URL of ``urls``, fetched at most ``concurrency`` at a time."""
        unique = list(dict.fromkeys(urls))
        results = await asyncio.gather(*(self.embed(url) for url in unique))
        return dict(zip(unique, results, strict=True))

    async def embed(self, url: str) -> Embedded:
        async with self._sem:
            try:
                data = await asyncio.wait_for(self._fetch(url), self.limits.timeout)
            except _Refused as exc:
                return Embedded(url, problem=self._scrub.message(str(exc)))
            except (asyncio.TimeoutError, httpx.TimeoutException):
                return Embedded(url, problem=f"no answer within {self.limits.timeout:g} s")
            except httpx.HTTPError as exc:
                return Embedded(url, problem=self._scrub.message(f"cannot fetch it: {_describe(exc)}"))
        return Embedded(url, data_uri=data)

    def _headers(self, url: str) -> dict[str, str]:
        if self.key and self.api_origin is not None and _origin(url) == self.api_origin:
            return {"Authorization": f"Bearer {self.key.reveal()}"}
        return {}

    async def _fetch(self, url: str) -> str:
        current = urljoin(self.api_url, url)
        for _ in range(self.limits.max_redirects + 1):
            if _origin(current) is None:
                raise _Refused("not an http(s) URL")
            async with self._http.stream("GET", current, headers=self._headers(current)) as response:
                status = response.status_code
                if status in (301, 302, 303, 307, 308) and response.headers.get("location"):
                    current = urljoin(current, response.headers["location"])
                    continue
                if status != 200:
                    raise _Refused(f"answered {status} {response.reason_phrase}".rstrip())
                declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if declared not in _UNTYPED and not declared.startswith("image/"):
                    raise _Refused(f"answered {declared}, not an image")
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > self.limits.max_bytes:
                    raise _Refused(f"{int(length):,} bytes, over the limit of {self.limits.max_bytes:,}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.limits.max_bytes:
                        raise _Refused(f"over the limit of {self.limits.max_bytes:,} bytes")
            kind = sniff(bytes(body))
            if kind is None:
                raise _Refused("not a PNG, JPEG, GIF, WebP or AVIF image")
            return f"data:{kind};base64,{base64.b64encode(bytes(body)).decode('ascii')}"
        raise _Refused(f"more than {self.limits.max_redirects} redirects")


def _describe(exc: Exception) -> str:
    text = (str(exc) or type(exc).__name__).splitlines()[0][:300]
    return _URL_RE.sub(lambda m: redact(m.group(0)), text)
