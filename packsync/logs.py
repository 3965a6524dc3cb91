"""``PACKSYNC_LOG``: packsync's own request log on stderr, and library internals only when asked.

``info`` shows one line per request (method, path, status, time) and every
retry; ``debug`` adds packsync's own details; ``trace`` adds the HTTP
libraries' own debug lines too. Nothing logged carries a header: the client
logs paths, never headers, and library lines pass a filter that blanks any
``Authorization`` value or bearer token first, and every secret the process
holds (:func:`keep_secret`: the API key, in each form a server might echo it),
wherever it appears — a server may echo the key in a header of its own.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

LEVELS = {"info": logging.INFO, "debug": logging.DEBUG, "trace": logging.DEBUG}
LIBRARIES = ("httpx", "httpcore")
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s'\"),]+")
_AUTHORIZATION = re.compile(r"(?i)(authorization['\"]?\s*[:=,]\s*)(?!(?:b?['\"])?bearer\b)((?:b?['\"])?)[^'\"\s),]+")


_kept: set[str] = set()
_secrets: re.Pattern[str] | None = None


def keep_secret(forms: Iterable[str]) -> None:
    """Blank each of ``forms`` (a secret as is and encoded) in every text :func:`redact` sees from now on."""
    global _secrets
    _kept.update(form for form in forms if form)
    if _kept:
        longest_first = sorted(_kept, key=len, reverse=True)
        _secrets = re.compile("|".join(re.escape(form) for form in longest_first), re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the secrets this process keeps, bearer tokens and ``Authorization`` values blanked."""
    if _secrets is not None:
        text = _secrets.sub("[redacted]", text)
    return _AUTHORIZATION.sub(r"\1\2[redacted]", _BEARER.sub("Bearer [redacted]", text))


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def configure(value: str) -> None:
    """Set up logging for ``PACKSYNC_LOG=value``; an unknown value is said once and read as ``info``."""
    name = value.strip().lower()
    if name not in LEVELS:
        sys.stderr.write(f"packsync: warning: PACKSYNC_LOG={value!r} is not one of info, debug, trace; using info\n")
        name = "info"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("packsync %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact())
    own = logging.getLogger("packsync")
    own.setLevel(LEVELS[name])
    own.addHandler(handler)
    own.propagate = False
    if name == "trace":
        for library in LIBRARIES:
            logger = logging.getLogger(library)
            logger.setLevel(logging.DEBUG)
            logger.addHandler(handler)
            logger.propagate = False
