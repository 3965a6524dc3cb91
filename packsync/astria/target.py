"""Which Astria account a command talks to, and how to reach it.

Precedence: ``--target``, then ``PACKSYNC_TARGET``, then ``default_target`` of
``packsync.yaml``; ``ASTRIA_API_URL`` and ``ASTRIA_WORKSPACE_ID`` override the
chosen target's URL and workspace. The key is read from the environment
variable the target names (default ``ASTRIA_API_KEY``) and is never written
anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from packsync.astria.errors import ConfigError
from packsync.astria.settings import Secret, header_safe
from packsync.facts import DEFAULT_URL
from packsync.packfiles.project import DEFAULT_KEY_ENV, Project

SANDBOX_URL = "sandbox"
IMPLICIT_TARGET = "default"  # the name of the target when packsync.yaml chooses none


@dataclass(frozen=True)
class ResolvedTarget:
    name: str
    url: str
    key_env: str = DEFAULT_KEY_ENV
    workspace_id: str | None = None
    tune_ids: dict[int, int] = field(default_factory=dict)
    test_tune_ids: tuple[int, ...] = ()

    @property
    def account(self) -> dict[str, str | None]:
        """Which account this is, as a saved plan records it: the URL without credentials,
        query or fragment, and the workspace. Never the key."""
        return {"url": account_url(self.url), "workspace_id": self.workspace_id}

    def lock_key(self, project_root: str) -> str:
        """One key per account however its URL is spelled (an embedded sandbox is per project)."""
        if self.embedded:
            return f"sandbox:{project_root}:{self.workspace_id or ''}"
        return f"{account_url(self.url)}:{self.workspace_id or ''}"

    @property
    def embedded(self) -> bool:
        """The target is the embedded sandbox, started and stopped by packsync itself."""
        return self.url == SANDBOX_URL

    def key(self, env: Mapping[str, str] | None = None) -> Secret:
        """The API key from the target's variable; a clear error when it is not set."""
        environ = os.environ if env is None else env
        value = environ.get(self.key_env, "").strip()
        if not value:
            raise ConfigError(
                f"the API key is not set: export {self.key_env}=<your Astria API key> (target {self.name!r})"
            )
        if not header_safe(value):
            raise ConfigError(
                f"the API key in {self.key_env} has characters other than printable ASCII (a stray quote or line "
                "break when it was copied?); it is sent as a header and cannot hold them"
            )
        return Secret(value)


_DEFAULT_PORTS = {"http": "80", "https": "443"}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]", "localhost.localdomain"}


def account_url(url: str) -> str:
    """The account's URL in one spelling: lower-case scheme and host, loopback names as
    127.0.0.1, no default port, no trailing ``/``; never credentials, a query or a fragment."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()  # user:password@ never leaves
    if not netloc:
        return parts.path.strip()
    host, port = netloc, ""
    if netloc.startswith("["):
        host, _, rest = netloc.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ""
    elif ":" in netloc:
        host, _, port = netloc.rpartition(":")
    scheme = parts.scheme.lower()
    if port == _DEFAULT_PORTS.get(scheme):
        port = ""
    if host in _LOOPBACK_NAMES or host.startswith("127."):
        host = "127.0.0.1"
    return urlunsplit((scheme, host + (f":{port}" if port else ""), parts.path.rstrip("/"), "", ""))


def resolve_target(project: Project, name: str | None, env: Mapping[str, str] | None = None) -> ResolvedTarget:
    environ = os.environ if env is None else env
    chosen = name or environ.get("PACKSYNC_TARGET") or project.default_target
    if chosen is None and len(project.targets) == 1:
        chosen = next(iter(project.targets))
    if chosen is None:
        base = ResolvedTarget(name=IMPLICIT_TARGET, url=DEFAULT_URL)
    elif chosen in project.targets:
        spec = project.targets[chosen]
        base = ResolvedTarget(
            name=chosen,
            url=spec.url,
            key_env=spec.key_env,
            workspace_id=spec.workspace_id,
            tune_ids=dict(spec.tune_ids),
            test_tune_ids=spec.test_tune_ids,
        )
    else:
        known = ", ".join(sorted(project.targets)) or "none (no packsync.yaml targets)"
        raise ConfigError(f"unknown target {chosen!r}; defined targets: {known}")
    url = environ.get("ASTRIA_API_URL") or base.url
    workspace = environ.get("ASTRIA_WORKSPACE_ID") or base.workspace_id
    if workspace is not None and not header_safe(workspace):
        where = "ASTRIA_WORKSPACE_ID" if environ.get("ASTRIA_WORKSPACE_ID") else f"targets.{base.name}.workspace_id"
        raise ConfigError(
            f"{where} must be printable ASCII (it is sent as the X-Workspace-Id header), such as a workspace number"
        )
    return ResolvedTarget(base.name, url, base.key_env, workspace, base.tune_ids, base.test_tune_ids)
