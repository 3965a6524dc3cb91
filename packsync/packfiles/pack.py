"""The pack model: what a valid pack file means, as frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packsync.facts import FLUX_BASE_TUNE_IDS, GENERATION_PARAMS, MODEL_TYPES, ModelType
from packsync.packfiles.diagnostics import NOWHERE, Location
from packsync.packfiles.loader import Document

DEFAULT_TOKEN = "ohwx"
DEFAULT_WEIGHT = 1

# Generation parameters in the order the pack format lists them; this is also
# the order in which render and plans show them.

Params = tuple[tuple[str, Any], ...]


def freeze_params(values: Mapping[str, Any]) -> Params:
    """Generation parameters as an ordered, hashable tuple of (name, value)."""
    return tuple((name, values[name]) for name in GENERATION_PARAMS if name in values)


@dataclass(frozen=True)
class ModelConfig:
    base_tune_id: int
    model_type: str
    token: str = DEFAULT_TOKEN
    preset: str | None = None
    post_tune: str | None = None  # "base" | "reference"; None: the model type's (facts.ModelType.posts_on)

    @property
    def kind(self) -> ModelType:
        """What the model type implies for the templates (facts.MODEL_TYPES)."""
        return MODEL_TYPES[self.model_type]

    @property
    def posts_on(self) -> str:
        """Where the pack's templates are created: ``base`` (its base_tune_id) or ``reference`` (each
        class's tune), as the file overrides it or the model type says."""
        return self.post_tune or self.kind.posts_on

    @property
    def wire_model_type(self) -> str | None:
        """The model type as the API holds it (a checkpoint pack's is null)."""
        return self.kind.wire

    @property
    def is_flux(self) -> bool:
        return self.base_tune_id in FLUX_BASE_TUNE_IDS


@dataclass(frozen=True)
class PackClass:
    name: str
    tune_id: int
    weight: float | int = DEFAULT_WEIGHT
    location: Location = NOWHERE


@dataclass(frozen=True)
class Characteristic:
    name: str
    description: str | None = None
    example: str | None = None
    location: Location = field(default=NOWHERE, compare=False)  # where its name is written


@dataclass(frozen=True)
class Prompt:
    key: str
    text: str
    classes: tuple[str, ...] | None  # None: every class of the pack
    params: Params
    location: Location


@dataclass(frozen=True)
class Experiment:
    """A prompt test declared in the pack file: a control prompt key against variant keys."""

    name: str
    control: str
    variants: tuple[str, ...]
    metric: str = "like-rate"  # or "keeper-rate"
    min_effect: float = 0.05  # the smallest difference worth detecting, in the metric's terms
    design: str = "paired"  # or "rotation", "split"
    status: str = "running"  # or "stopped", "concluded"
    winner: str | None = None  # the key kept, once concluded
    location: Location = NOWHERE

    @property
    def arms(self) -> tuple[str, ...]:
        return (self.control, *self.variants)


@dataclass(frozen=True)
class Pack:
    slug: str
    title: str
    model: ModelConfig
    classes: tuple[PackClass, ...]
    prompts: tuple[Prompt, ...]
    subtitle: str | None = None
    id: int | None = None
    protect: bool = False
    characteristics: tuple[Characteristic, ...] = ()
    defaults: Params = ()
    experiments: tuple[Experiment, ...] = ()
    path: str = ""
    location: Location = NOWHERE  # where the slug is written
    id_location: Location | None = None

    def pack_class(self, name: str) -> PackClass:
        for cls in self.classes:
            if cls.name == name:
                return cls
        raise KeyError(name)

    def prompt_classes(self, prompt: Prompt) -> tuple[str, ...]:
        """The classes a prompt applies to, in the pack's class order."""
        if prompt.classes is None:
            return tuple(c.name for c in self.classes)
        return tuple(c.name for c in self.classes if c.name in prompt.classes)


def pack_from_document(doc: Document) -> Pack:
    """Build the model of a schema-valid pack document."""
    data = doc.data
    model = data["model"]
    classes = tuple(
        PackClass(
            name=name,
            tune_id=ref["tune_id"],
            weight=ref.get("weight", DEFAULT_WEIGHT),
            location=doc.location(("classes", name), key=True),
        )
        for name, ref in data["classes"].items()
    )
    prompts = tuple(
        Prompt(
            key=entry["key"],
            text=entry["text"],
            classes=tuple(entry["classes"]) if "classes" in entry else None,
            params=freeze_params(entry),
            location=doc.location(("prompts", index)),
        )
        for index, entry in enumerate(data["prompts"])
    )
    characteristics = tuple(
        Characteristic(
            name, spec.get("description"), spec.get("example"), doc.location(("characteristics", name), key=True)
        )
        for name, spec in (data.get("characteristics") or {}).items()
    )
    return Pack(
        slug=data["slug"],
        title=data["title"],
        subtitle=data.get("subtitle"),
        id=data.get("id"),
        protect=bool(data.get("protect", False)),
        model=ModelConfig(
            base_tune_id=model["base_tune_id"],
            model_type=model["model_type"],
            token=model.get("token", DEFAULT_TOKEN),
            preset=model.get("preset"),
            post_tune=model.get("post_tune"),
        ),
        classes=classes,
        characteristics=characteristics,
        defaults=freeze_params(data.get("defaults") or {}),
        prompts=prompts,
        experiments=tuple(
            Experiment(
                name=entry["name"],
                control=entry["control"],
                variants=tuple(entry["variants"]),
                metric=entry.get("metric", "like-rate"),
                min_effect=entry.get("min_effect", 0.05),
                design=entry.get("design", "paired"),
                status=entry.get("status", "running"),
                winner=entry.get("winner"),
                location=doc.location(("experiments", index)),
            )
            for index, entry in enumerate(data.get("experiments") or ())
        ),
        path=doc.path,
        location=doc.location(("slug",)),
        id_location=doc.location(("id",)) if "id" in data else None,
    )
