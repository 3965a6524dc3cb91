"""Every route of the API: method, path pattern, handler."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from packsync.sandbox.context import Route
from packsync.sandbox.routes.packs import create_pack, get_pack, list_packs, pack_not_writable, run_pack
from packsync.sandbox.routes.prompts import (
    create_prompt,
    delete_prompt,
    duplicate_prompt,
    get_prompt,
    like_prompt,
    list_prompts,
    unlike_prompt,
    update_prompt,
)
from packsync.sandbox.routes.tunes import create_tune, delete_tune, get_tune, list_tunes, update_tune
from packsync.sandbox.routes.users import current_user

if TYPE_CHECKING:
    from packsync.sandbox.app import SandboxApp


_ROUTES: list[tuple[str, str, Route]] = [
    ("GET", r"/packs", list_packs),
    ("POST", r"/packs", create_pack),
    ("PATCH", r"/packs/(?P<ref>[^/]+)", pack_not_writable),
    ("PUT", r"/packs/(?P<ref>[^/]+)", pack_not_writable),
    ("DELETE", r"/packs/(?P<ref>[^/]+)", pack_not_writable),
    ("GET", r"/p/(?P<ref>[^/]+)", get_pack),
    ("PATCH", r"/p/(?P<ref>[^/]+)", pack_not_writable),
    ("DELETE", r"/p/(?P<ref>[^/]+)", pack_not_writable),
    ("POST", r"/p/(?P<ref>[^/]+)/tunes", run_pack),
    ("GET", r"/tunes", list_tunes),
    ("POST", r"/tunes", create_tune),
    ("GET", r"/tunes/(?P<tune_id>\d+)", get_tune),
    ("PATCH", r"/tunes/(?P<tune_id>\d+)", update_tune),
    ("DELETE", r"/tunes/(?P<tune_id>\d+)", delete_tune),
    ("GET", r"/tunes/(?P<tune_id>\d+)/prompts", list_prompts),
    ("POST", r"/tunes/(?P<tune_id>\d+)/prompts", create_prompt),
    ("GET", r"/tunes/(?P<tune_id>\d+)/prompts/(?P<prompt_id>\d+)", get_prompt),
    ("PATCH", r"/tunes/(?P<tune_id>\d+)/prompts/(?P<prompt_id>\d+)", update_prompt),
    ("DELETE", r"/tunes/(?P<tune_id>\d+)/prompts/(?P<prompt_id>\d+)", delete_prompt),
    ("GET", r"/prompts", list_prompts),
    ("GET", r"/prompts/(?P<prompt_id>\d+)", get_prompt),
    ("PATCH", r"/prompts/(?P<prompt_id>\d+)", update_prompt),
    ("DELETE", r"/prompts/(?P<prompt_id>\d+)", delete_prompt),
    ("POST", r"/prompts/(?P<prompt_id>\d+)/duplicate", duplicate_prompt),
    ("POST", r"/prompts/(?P<prompt_id>\d+)/likes?", like_prompt),
    ("DELETE", r"/prompts/(?P<prompt_id>\d+)/likes?", unlike_prompt),
    ("GET", r"/users", current_user),
]


def register(app: SandboxApp) -> None:
    app.routes = [(method, re.compile(pattern), handler) for method, pattern, handler in _ROUTES]
