"""The current user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from packsync.sandbox.context import Context
from packsync.sandbox.httpserver import Response

if TYPE_CHECKING:
    from packsync.sandbox.app import SandboxApp


def current_user(app: SandboxApp, ctx: Context) -> Response:
    return Response.json(
        200,
        {
            "id": 1,
            "email": "sandbox@localhost",
            "name": "packsync sandbox",
            "usd_balance_mc": 10_000_000,
            "auto_extend_tunes": True,
        },
    )
