"""Facts about the Astria API that every stage relies on: the pack file rules, the client, the sandbox.

Each fact is written once, here; ``astria-api.md`` Part A is the contract
they come from.
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_URL = "https://api.astria.ai"

# Pagination (A2).
PAGE_DEFAULT = 20
PAGE_MAX = 120
OFFSET_MAX_PROMPTS = 10_000
OFFSET_MAX_TUNES = 200

# A literal fine-tune tag, as every template prompt must contain (A5).
TUNE_TAG_RE = re.compile(r"<(lora|faceid|pti):(\d+):([0-9.]+)>")
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
