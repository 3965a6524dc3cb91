"""Coercing request values the way the API does: numbers, booleans, enums, ranges, lists, pages."""

from __future__ import annotations

from typing import Any

from packsync.facts import (
    PAGE_DEFAULT,
    PAGE_MAX,
)
from packsync.sandbox.context import ApiError, Context


def int_param(value: Any, name: str, *, optional: bool = False) -> int | None:
    if value is None or value == "":
        if optional:
            return None
        raise ApiError(422, f"{name} is required")
    if isinstance(value, bool):
        raise ApiError(422, f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, f"{name} must be an integer") from exc


def bool_param(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0", ""):
        return value.lower() in ("true", "1")
    raise ApiError(422, f"{name} must be true or false")


def _number(value: Any, name: str) -> float | int:
    if isinstance(value, bool):
        raise ApiError(422, f"{name} must be a number")
    if isinstance(value, (int, float)):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, f"{name} must be a number") from exc
    return int(number) if number.is_integer() else number


_ENUMS: dict[str, tuple[Any, ...]] = {
    "aspect_ratio": ("1:1", "16:9", "9:16", "21:9", "9:21", "3:2", "2:3", "5:4", "4:5", "4:3", "3:4"),
    "ar": ("1:1", "portrait", "16:9", "landscape"),
    "resolution": ("1K", "2K", "4K"),
    "scheduler": ("euler", "euler_a", "dpm++2m_karras", "dpm++sde_karras", "dpm++2m", "dpm++sde", "lcm", "tcd"),
    "style": (
        "Cinematic",
        "Animated",
        "Digital Art",
        "Photographic",
        "Fantasy art",
        "Neonpunk",
        "Enhance",
        "Comic book",
        "Lowpoly",
        "Line art",
    ),
    "color_grading": ("Film Velvia", "Film Portra", "Ektar"),
    "controlnet": (
        "composition",
        "reference",
        "segroom",
        "ipadapter",
        "lineart",
        "canny",
        "depth",
        "mlsd",
        "hed",
        "pose",
        "tile",
        "qr",
    ),
}
_RANGES: dict[str, tuple[float, float]] = {
    "num_images": (1, 8),
    "seed": (0, 2**32),
    "cfg_scale": (0, 15),
    "steps": (0, 50),
    "denoising_strength": (0, 1),
    "controlnet_conditioning_scale": (0, 1),
}
_INTS = ("num_images", "seed", "steps", "w", "h", "backend_version")
_FLOATS = ("cfg_scale", "denoising_strength", "controlnet_conditioning_scale")
_BOOLS = (
    "super_resolution",
    "inpaint_faces",
    "hires_fix",
    "face_correct",
    "face_swap",
    "film_grain",
    "use_lpw",
    "prompt_expansion",
    "controlnet_txt2img",
)
_STRINGS = ("negative_prompt", "callback", "theme", "input_image_url", "mask_image_url")
PROMPT_FIELDS = frozenset((*_INTS, *_FLOATS, *_BOOLS, *_STRINGS, *_ENUMS))


def clean_prompt_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate and type the generation parameters of a prompt create (422 on a bad value)."""
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in PROMPT_FIELDS or value is None or (value == "" and name not in _STRINGS):
            continue  # unknown fields are ignored, as Rails does
        if name in _INTS:
            params[name] = int_param(value, name)
        elif name in _FLOATS:
            params[name] = _number(value, name)
        elif name in _BOOLS:
            params[name] = bool_param(value, name)
        elif name in _STRINGS:
            params[name] = str(value)
        else:
            params[name] = value
    for name, (low, high) in _RANGES.items():
        if name in params and not low <= params[name] <= high:
            raise ApiError(422, f"{name} must be between {low:g} and {high:g}")
    for name in ("w", "h"):
        if name in params and (params[name] <= 0 or params[name] % 8):
            raise ApiError(422, f"{name} must be a positive multiple of 8")
    for name, allowed in _ENUMS.items():
        if name in params and params[name] not in allowed:
            raise ApiError(422, f"{name} must be one of: {', '.join(map(str, allowed))}")
    if "backend_version" in params and params["backend_version"] != 1:
        raise ApiError(422, "backend_version must be null or 1")
    for name in ("inpaint_faces", "hires_fix"):
        if params.get(name) and not params.get("super_resolution"):
            raise ApiError(422, f"{name} requires super_resolution")
    return params


def _query_int(ctx: Context, name: str) -> int | None:
    value = ctx.request.arg(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None


def page_params(ctx: Context, offset_max: int) -> tuple[int | None, int, int]:
    limit = _query_int(ctx, "limit")
    limit = PAGE_DEFAULT if limit is None else max(1, min(limit, PAGE_MAX))
    offset = _query_int(ctx, "offset") or 0
    if offset < 0:
        raise ApiError(400, "offset must not be negative")
    if offset > offset_max:
        raise ApiError(400, f"offset is limited to {offset_max}; page with before_id instead")
    return _query_int(ctx, "before_id"), limit, offset


def list_param(value: Any, name: str) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, (str, int)):
        return [v for v in str(value).split(",") if v] if isinstance(value, str) else [value]
    raise ApiError(422, f"{name} must be a list")
