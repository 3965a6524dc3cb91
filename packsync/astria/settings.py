"""How the client talks to an account: the key (kept secret, and blanked wherever an answer
echoes it), the URL rule, retries and timeouts."""

from __future__ import annotations

import html
import ipaddress
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from packsync import logs
from packsync.astria.errors import ConfigError
from packsync.term import printable

# The most items one list may hold before it counts as a list that never ends. The API
# documents no limit on what an account holds; this is ten times the depth to which it
# offers offset paging of prompts (OFFSET_MAX_PROMPTS), far more templates than any pack
# has, read in seconds and a few tens of MB. Packs: a tenth of it. PACKSYNC_MAX_LIST_ITEMS
# changes it.
MAX_LIST_ITEMS = 100_000

MIN_SECRET = 8  # a shorter value cannot be told from ordinary text, so it is not searched for
BLANK = "[redacted]"  # what a secret in a server's answer is shown as


class Secret:
    """A value that is never shown: its str and repr are masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def forms(self) -> tuple[str, ...]:
        """The ways a server may write the value back in a text: as is, URL-encoded, HTML-
        and JSON-escaped; none for a value shorter than :data:`MIN_SECRET`."""
        value = self._value
        if len(value) < MIN_SECRET:
            return ()
        found = {
            value,
            quote(value, safe=""),
            quote(value),
            quote_plus(value),
            html.escape(value),
            json.dumps(value)[1:-1],
            json.dumps(value)[1:-1].replace("/", "\\/"),
        }
        return tuple(sorted(found, key=len, reverse=True))

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between tries of a request that may be retried."""

    attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    after_server_error: float = 30.0  # the first wait after a 500 (Astria's docs)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


# When to read again after a write whose answer was lost, in seconds after it (Part A, A7: a 504 is
# "probably processed", wait about 60 s; a 500 may follow a commit). PACKSYNC_LOST_ANSWER_WAITS.
LOST_ANSWER_WAITS = (5.0, 15.0, 30.0, 60.0, 90.0)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: for a connection, for each read and write, and for the whole request.

    ``total`` bounds a request from the moment it is sent to the last byte of its
    answer, so an answer that trickles in (one byte now and then, each within
    ``read``) is still given up on; hitting it counts as a lost answer.
    """

    connect: float = 10.0
    read: float = 45.0  # the real API answers or gives up (504) within 30 s
    write: float = 30.0
    pool: float = 60.0
    total: float = 120.0  # Astria's own CLI gives a request 120 s (curl --max-time)


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    key: Secret
    workspace_id: str | None = None
    concurrency: int = 8
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)
    seed: int | None = None  # for the jitter; None: unpredictable
    max_list_items: int = MAX_LIST_ITEMS


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """The URL without a trailing slash; refuses plain http:// anywhere but loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"API URL must be http(s)://host[:port], not {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: the API key would travel unencrypted; "
            "use https://, or http:// only to 127.0.0.1 / localhost"
        )
    return url.rstrip("/")


@dataclass(frozen=True)
class Scrubber:
    """Blanks a secret in what a server sends: in texts (every form of it), and in decoded JSON."""

    text: re.Pattern[str] | None = None
    raw: re.Pattern[bytes] | None = None

    @classmethod
    def of(cls, secret: Secret) -> Scrubber:
        forms = secret.forms()
        if not forms:
            return cls()
        pattern = "|".join(re.escape(form) for form in forms)
        return cls(re.compile(pattern, re.IGNORECASE), re.compile(pattern.encode(), re.IGNORECASE))

    def message(self, text: str) -> str:
        """A server's text as an error may show it: the secret, bearer tokens and
        ``Authorization`` values blanked, control characters escaped (a terminal shows it)."""
        if self.text is not None:
            text = self.text.sub(BLANK, text)
        return printable(logs.redact(text))

    def data(self, data: Any, content: bytes) -> Any:
        """Decoded JSON with the secret blanked in every string (keys too).

        Without a backslash in ``content`` its strings are its bytes, so a
        search of the bytes decides; an escape may hide a character, so then
        every string is searched."""
        if self.raw is None or (b"\\" not in content and not self.raw.search(content)):
            return data
        return self._walk(data)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text.sub(BLANK, value) if self.text is not None else value
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, dict):
            return {self._walk(key): self._walk(item) for key, item in value.items()}
        return value


def header_safe(value: str) -> bool:
    """Whether ``value`` can be sent as an HTTP header value: printable ASCII, no line break."""
    return value.isascii() and value.isprintable()
