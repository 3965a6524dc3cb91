"""The server's derivation of a pack slug from its title."""

from __future__ import annotations

import re

_RUN = re.compile(r"[^a-z0-9]+")


def derive_slug(title: str) -> str:
    """Lower-case; each run of characters other than a-z and 0-9 becomes one '-'; no '-' at either end.

    >>> derive_slug("test rv5.1 pack")
    'test-rv5-1-pack'
    """
    return _RUN.sub("-", title.lower()).strip("-")
