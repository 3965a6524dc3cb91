"""Facts about the Astria API that every stage relies on: the pack file rules, the client, the sandbox.

Each fact is written once, here; ``astria-api.md`` Part A is the contract
they come from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_URL = "https://api.astria.ai"

# Pagination (A2).
PAGE_DEFAULT = 20
PAGE_MAX = 120
OFFSET_MAX_PROMPTS = 10_000
OFFSET_MAX_TUNES = 200


@dataclass(frozen=True)
class ModelType:
    """What a pack's ``model_type`` implies for its templates (A9).

    ``wire`` is the value the API holds (a checkpoint pack's is null); ``tag``
    the kind of fine-tune tag ``{{subject}}`` writes (None: no tag); ``weighted``
    whether the class weight goes into the tag (else the tag's ``:1`` is fixed);
    ``uses_token`` whether the token stands before the class; ``posts_on`` the
    tune a template is created on: ``reference`` (the class's tune) or ``base``
    (the pack's ``base_tune_id``).
    """

    name: str
    wire: str | None
    tag: str | None
    weighted: bool
    uses_token: bool
    posts_on: str


# Where a type's templates are created (A9): lora, pti and faceid templates on the pack's base
# model (a faceid one must render on a gallery model), a checkpoint's on the class's reference
# tune (the checkpoint itself). A pack file may override it (``model.post_tune``).
MODEL_TYPES: dict[str, ModelType] = {
    "lora": ModelType("lora", "lora", "lora", weighted=True, uses_token=True, posts_on="base"),
    # SDXL packs: the API forces pti for SDXL tunes, and their prompts still use <lora:...>.
    "pti": ModelType("pti", "pti", "lora", weighted=True, uses_token=True, posts_on="base"),
    "faceid": ModelType("faceid", "faceid", "faceid", weighted=False, uses_token=False, posts_on="base"),
    "checkpoint": ModelType("checkpoint", None, None, weighted=False, uses_token=True, posts_on="reference"),
}
POST_TUNES = ("base", "reference")  # the values of a pack file's model.post_tune


def model_type_of_wire(value: str | None) -> ModelType | None:
    """The pack file's model type for a value the API holds; None for one no pack file can name."""
    for kind in MODEL_TYPES.values():
        if kind.wire == value:
            return kind
    return None


# The kinds of fine-tune tag that reference a tune, and a literal tag, as every
# template prompt of a tagged model type contains (A5, A9): the weight is
# optional (``<faceid:123>``); ``<pti:...>`` is not a tag.
TAG_KINDS: tuple[str, ...] = tuple(sorted({k.tag for k in MODEL_TYPES.values() if k.tag is not None}))
TUNE_TAG_RE = re.compile(r"<(" + "|".join(TAG_KINDS) + r"):(\d+)(?::([0-9.]+))?>")
# The tags a server may take as a fine-tune reference: the sandbox's default mode also takes the
# legacy <pti:ID:W> form (the optimistic reading); packsync itself never writes it.
SERVER_TAG_RE = re.compile(r"<(" + "|".join((*TAG_KINDS, "pti")) + r"):(\d+)(?::([0-9.]+))?>")

# Flux base models (A9): no negative prompt, cfg_scale below FLUX_CFG_LIMIT, no
# weighted words, no resolution tier.
FLUX_BASE_TUNE_IDS = frozenset({1504944})
FLUX_CFG_LIMIT = 5
NOT_FINE_TUNED = "Prompt is not using a fine-tuned model"

# Generation parameters a template prompt carries, with the value the server
# reports when a create left them out.
PROMPT_PARAM_DEFAULTS: dict[str, Any] = {
    "num_images": 1,
    "negative_prompt": None,
    "seed": None,
    "cfg_scale": None,
    "steps": None,
    "super_resolution": False,
    "inpaint_faces": False,
    "hires_fix": False,
    "face_correct": False,
    "face_swap": False,
    "w": None,
    "h": None,
    "aspect_ratio": None,
    "resolution": None,
    "scheduler": None,
    "style": None,
    "color_grading": None,
    "film_grain": False,
    "backend_version": None,
    "denoising_strength": None,
    "use_lpw": False,
    "prompt_expansion": False,
}

# Documented to take the account's settings when a create leaves them out (Part A, A5): a value
# read back may be the account's, not the template's.
ACCOUNT_FILLED = frozenset({"scheduler", "backend_version"})

# The generation parameters a pack file may set, in the format's order.
GENERATION_PARAMS: tuple[str, ...] = tuple(PROMPT_PARAM_DEFAULTS)

# With the account's idempotency setting on, a prompt create whose values of
# these attributes all equal an existing prompt's returns that prompt (A5).
IDEMPOTENCY_ATTRIBUTES = (
    "text",
    "tune_id",
    "cfg_scale",
    "steps",
    "seed",
    "callback",
    "negative_prompt",
    "super_resolution",
    "face_correct",
    "ar",
    "num_images",
    "controlnet",
    "denoising_strength",
    "use_lpw",
    "controlnet_conditioning_scale",
    "w",
    "h",
    "hires_fix",
    "scheduler",
    "controlnet_txt2img",
    "inpaint_faces",
)

# What PATCH /prompts/:id may change (A5); anything else is a 422.
PROMPT_PATCHABLE = ("pack_id", "base_pack_id", "orig_prompt_id", "workspace_id")

# Money: *_mc fields are millicents, 100,000 mc = US$1.
MC_PER_DOLLAR = 100_000


def format_mc(millicents: int) -> str:
    """Millicents as dollars: 250000 -> '$2.50'."""
    return f"${millicents / MC_PER_DOLLAR:,.2f}"
