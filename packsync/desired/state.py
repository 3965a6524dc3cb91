"""The desired state: what the pack files say each pack on the target should hold."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packsync.desired.expand import Template, expand_pack
from packsync.packfiles.pack import Pack


@dataclass(frozen=True)
class DesiredPack:
    pack: Pack
    templates: tuple[Template, ...]

    @property
    def slug(self) -> str:
        return self.pack.slug


def desired_state(packs: Iterable[Pack], tune_ids: Mapping[int, int] | None = None) -> list[DesiredPack]:
    """Each pack expanded into its templates, with the target's reference tunes."""
    mapping = dict(tune_ids or {})
    return [DesiredPack(pack, tuple(expand_pack(pack, tune_ids=mapping))) for pack in packs]
