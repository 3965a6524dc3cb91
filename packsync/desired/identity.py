"""What makes two templates the same: their text and their generation parameters, normalized.

A parameter left out and a parameter set to the server's default are the
same; so are 7 and 7.0. The text includes the ``<type:tune:weight>`` tag, so
the class (the name of the tagged tune) is part of the identity too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from packsync.facts import GENERATION_PARAMS, PROMPT_PARAM_DEFAULTS, TUNE_TAG_RE
from packsync.packfiles.pack import Params

Identity = tuple[str, Params]


NUMERIC_PARAMS = frozenset({"num_images", "seed", "cfg_scale", "steps", "w", "h", "denoising_strength"})
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def canonical_value(name: str, value: Any) -> Any:
    """One parameter's value by meaning: an empty string is no value (the server stores it as
    null), a numeric string is its number (as Rails serializes decimals), 7.0 is 7."""
    if isinstance(value, str):
        if not value.strip():
            return None
        if name in NUMERIC_PARAMS and _NUMBER.fullmatch(value.strip()):
            value = float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)
    return value


def canonical_params(values: Mapping[str, Any]) -> Params:
    """The parameters that differ from the server's defaults, in the format's order."""
    out = []
    for name in GENERATION_PARAMS:
        value = canonical_value(name, values.get(name))
        if value is None:
            continue
        default = PROMPT_PARAM_DEFAULTS.get(name)
        if value == default and type(value) is type(default):
            continue
        out.append((name, value))
    return tuple(out)


def canonical_text(text: str) -> str:
    return text.strip()


def identity(text: str, params: Mapping[str, Any]) -> Identity:
    return (canonical_text(text), canonical_params(params))


class PromptContent:
    """What a template's text and parameters give: its identity, its images, its request body.

    Shared by the templates the files want (``expand.Template``) and those a plan saves
    (``plan.TemplateSpec``).
    """

    text: str
    params: Params

    @property
    def identity(self) -> Identity:
        return identity(self.text, dict(self.params))

    @property
    def images(self) -> int:
        return int(dict(self.params).get("num_images", 1))

    def body(self, pack_id: int | None = None) -> dict[str, Any]:
        """The ``prompt`` object of ``POST /tunes/<tune_id>/prompts``."""
        prompt: dict[str, Any] = {"text": self.text, **dict(self.params)}
        if pack_id is not None:
            prompt["pack_id"] = pack_id
        return prompt


def tagged_tune(text: str) -> int | None:
    """The tune id in a text's first fine-tune tag."""
    match = TUNE_TAG_RE.search(text)
    return int(match.group(2)) if match else None


def fingerprint(data: Any) -> str:
    """A short, stable hash of JSON-like data."""
    import hashlib  # here, not at the top: validate imports this module and never hashes

    encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]
