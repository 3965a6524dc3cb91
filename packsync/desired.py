"""The desired state: what the pack files say each pack on the target should hold."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packsync.diagnostics import Location
from packsync.expand import expand_pack
from packsync.identity import Identity, identity
from packsync.model import Pack, Params


@dataclass(frozen=True)
class DesiredTemplate:
    pack: str
    class_name: str
    tune_id: int  # the reference tune it is created on (after the target's tune_ids mapping)
    key: str
    text: str
    params: Params
    location: Location

    @property
    def identity(self) -> Identity:
        return identity(self.text, dict(self.params))

    @property
    def images(self) -> int:
        return int(dict(self.params).get("num_images", 1))

    def body(self, pack_id: int) -> dict[str, object]:
        """The ``prompt`` object of ``POST /tunes/<tune_id>/prompts``."""
        return {"text": self.text, **dict(self.params), "pack_id": pack_id}


@dataclass(frozen=True)
class DesiredPack:
    pack: Pack
    templates: tuple[DesiredTemplate, ...]

    @property
    def slug(self) -> str:
        return self.pack.slug


def desired_state(packs: Iterable[Pack], tune_ids: Mapping[int, int] | None = None) -> list[DesiredPack]:
    """Each pack expanded into its templates, with the target's reference tunes."""
    mapping = dict(tune_ids or {})
    out = []
    for pack in packs:
        templates = tuple(
            DesiredTemplate(
                pack=pack.slug,
                class_name=t.class_name,
                tune_id=t.tune_id,
                key=t.key,
                text=t.text.strip(),
                params=t.params,
                location=t.location,
            )
            for t in expand_pack(pack, tune_ids=mapping)
        )
        out.append(DesiredPack(pack, templates))
    return out
