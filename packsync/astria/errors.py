"""What can go wrong talking to the API, as exceptions: a bad setting, or an answer (or none)."""

from __future__ import annotations

from packsync.errors import PacksyncError


class ConfigError(PacksyncError):
    """The client cannot be set up as asked (URL, key)."""


class ApiError(PacksyncError):
    """A request failed. ``status`` is None when no HTTP answer was received."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        code = f"{self.status} " if self.status is not None else ""
        return f"{self.method} {self.path}: {code}{self.message}"


class AuthError(ApiError):
    """401 or 403: the key is missing, wrong, or not allowed here."""


class NotFound(ApiError):
    """404."""


class Rejected(ApiError):
    """422: the server refused the request's content; never retried."""


class RateLimited(ApiError):
    """429, still after every retry."""


class ServerError(ApiError):
    """5xx, still after every retry."""


class TransportError(ApiError):
    """The server could not be reached, still after every retry."""


class OutcomeUnknown(ApiError):
    """A write was sent but its answer was lost: it may or may not have happened. Reconcile by reading."""


class ProtocolError(ApiError):
    """The server answered something that is not the API's shape (HTML, malformed JSON, endless pages)."""
