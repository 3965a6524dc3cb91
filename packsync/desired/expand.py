"""Expansion of a pack into the template prompts that would be sent to Astria.

This is the desired state: one template per prompt and class, with the pack's
defaults applied and ``{{subject}}`` replaced by the class's tune tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from packsync.desired.identity import PromptContent
from packsync.facts import ModelType
from packsync.packfiles.diagnostics import Location
from packsync.packfiles.pack import Pack, PackClass, Params, Prompt, freeze_params

SUBJECT = "subject"
# Any {{...}}: the inside is checked separately so that typos get a message.
PLACEHOLDER_RE = re.compile(r"\{\{(.*?)\}\}")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Template(PromptContent):
    """One template prompt as it would exist on the account: the text as sent (tag expanded,
    surrounding whitespace dropped) and the parameters after the pack's defaults."""

    pack: str
    class_name: str
    tune_id: int  # the tune it is created on, its POST tune (Pack.model.posts_on)
    reference: int  # the class's reference tune, as the target names it: the tune its tag references
    key: str
    text: str
    params: Params
    location: Location

    def duplicate_key(self) -> tuple[str, str, Params]:
        """What the prompt-duplicate rule compares: the class and the identity, by which the
        account tells templates apart (a parameter set to its default is the parameter left out)."""
        text, params = self.identity
        return (self.class_name, text, params)


def format_weight(weight: float | int) -> str:
    """A weight as the tag's plain decimal (``0.00001``, never ``1e-05``, which the server's
    tag pattern does not read), with no trailing zeros (``1``, not ``1.0``)."""
    if isinstance(weight, float) and weight.is_integer():
        return str(int(weight))
    # repr is the shortest text that reads back as the same float (no trailing zeros);
    # Decimal writes it without an exponent.
    return format(Decimal(repr(weight)), "f")


def subject_for(kind: ModelType, token: str, class_name: str, tune_id: int, weight: float | int) -> str:
    """What ``{{subject}}`` becomes, by the model type (A9): ``<lora:690204:1> ohwx man`` (lora, pti),
    ``<faceid:690204:1> woman`` (faceid), ``ohwx man`` (checkpoint)."""
    words = [token, class_name] if kind.uses_token else [class_name]
    if kind.tag is not None:
        words.insert(0, f"<{kind.tag}:{tune_id}:{format_weight(weight) if kind.weighted else '1'}>")
    return " ".join(words)


def subject_tag(pack: Pack, cls: PackClass, tune_id: int | None = None) -> str:
    """What ``{{subject}}`` becomes for a class of a pack (``tune_id``: the target's name for its tune)."""
    tune = cls.tune_id if tune_id is None else tune_id
    return subject_for(pack.model.kind, pack.model.token, cls.name, tune, cls.weight)


def post_tune(pack: Pack, reference: int) -> int:
    """The tune a template of a class is created on (A9): the pack's base model, or the class's
    reference tune (as the target names it), as the model type or the file's ``post_tune`` says."""
    return pack.model.base_tune_id if pack.model.posts_on == "base" else reference


def placeholders(text: str) -> Iterator[tuple[str, int]]:
    """Each ``{{...}}`` in a text: its inside and its offset."""
    for match in PLACEHOLDER_RE.finditer(text):
        yield match.group(1), match.start()


def merged_params(pack: Pack, prompt: Prompt) -> Params:
    """The pack's defaults overridden by the prompt's own parameters."""
    merged = dict(pack.defaults)
    merged.update(prompt.params)
    return freeze_params(merged)


def expand_text(text: str, subject: str, values: Mapping[str, str] | None = None) -> str:
    """Replace ``{{subject}}`` (and, for previews, characteristic values)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == SUBJECT:
            return subject
        if values is not None and name in values:
            return values[name]
        return match.group(0)

    return PLACEHOLDER_RE.sub(replace, text)


def expand_pack(
    pack: Pack, *, class_name: str | None = None, tune_ids: Mapping[int, int] | None = None
) -> list[Template]:
    """Every template of a pack (or of one of its classes), in file order.

    ``tune_ids`` maps reference tunes of the files to those of the target account.
    """
    mapping = tune_ids or {}
    templates = []
    for prompt in pack.prompts:
        params = merged_params(pack, prompt)
        for name in pack.prompt_classes(prompt):
            if class_name is not None and name != class_name:
                continue
            cls = pack.pack_class(name)
            tune_id = mapping.get(cls.tune_id, cls.tune_id)
            templates.append(
                Template(
                    pack=pack.slug,
                    class_name=name,
                    tune_id=post_tune(pack, tune_id),
                    reference=tune_id,
                    key=prompt.key,
                    text=expand_text(prompt.text, subject_tag(pack, cls, tune_id)).strip(),
                    params=params,
                    location=prompt.location,
                )
            )
    return templates
