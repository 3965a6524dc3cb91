"""The rule ids packsync reports, defined once.

Each id is stable: scripts and CI filters depend on it. The README's rule table
is checked against this registry by the tests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str


_E = Severity.ERROR
_W = Severity.WARNING

_ALL = [
    # Reading the file
    Rule("file-unreadable", _E, "the file cannot be read (missing, a directory, permission denied)"),
    Rule("file-too-large", _E, "the file is larger than the size limit (1 MiB)"),
    Rule("file-encoding", _E, "the file is not valid UTF-8"),
    # YAML
    Rule("yaml-syntax", _E, "the file is not well-formed YAML"),
    Rule("yaml-tab-indent", _E, "a line is indented with a tab; YAML allows only spaces"),
    Rule("yaml-duplicate-key", _E, "a key appears twice in the same mapping"),
    Rule("yaml-tag", _E, "a tag other than the plain JSON-like types (e.g. `!!python/object`, `!!binary`)"),
    Rule("yaml-alias-limit", _E, "aliases expand to more nodes than the limit (an alias bomb)"),
    Rule("yaml-depth", _E, "nesting deeper than the limit"),
    Rule("yaml-not-mapping", _E, "the document is empty or its top level is not a mapping"),
    Rule("yaml-multiple-documents", _E, "more than one YAML document in a file"),
    Rule("yaml-key-type", _E, "a mapping key that is not a string (e.g. an unquoted `1` or `null`)"),
    Rule("yaml-number", _E, "a number that JSON cannot hold (`.inf`, `.nan`)"),
    # JSON Schema
    Rule("schema-unknown-key", _E, "a key the schema does not define"),
    Rule("schema-required", _E, "a required key is missing"),
    Rule("schema-type", _E, "a value of the wrong type"),
    Rule("schema-enum", _E, "a value that is not one of the allowed values"),
    Rule("schema-range", _E, "a number outside its allowed range"),
    Rule("schema-multiple-of", _E, "a number that is not a multiple of the required step (`w`, `h`: 8)"),
    Rule("schema-string", _E, "a string that is too short, too long or does not match its pattern"),
    Rule("schema-size", _E, "a list or mapping with too few or too many entries, or repeated entries"),
    Rule("schema-key-name", _E, "a name (class, characteristic, target) that does not match its pattern"),
    Rule("schema-invalid", _E, "any other schema violation"),
    # Packs
    Rule("slug-duplicate", _E, "two pack files declare the same slug"),
    Rule("id-duplicate", _E, "two pack files pin the same pack id"),
    Rule("slug-title-mismatch", _E, "an unpinned pack's slug differs from the slug the server derives from its title"),
    Rule("prompt-key-duplicate", _E, "two prompts of a pack have the same key"),
    Rule("prompt-duplicate", _E, "two prompts expand to the same template (same class, text and parameters)"),
    Rule(
        "prompt-dedup",
        _E,
        "two templates Astria would take for one: same tune, expanded text and seed (an omitted seed is one "
        "value), within a pack or across the project's packs",
    ),
    Rule("faceid-weight", _E, "a faceid pack's class sets a weight other than 1 (a faceid tag's `:1` is fixed)"),
    Rule("faceid-token", _W, "a faceid pack sets a token, which its `{{subject}}` does not use"),
    Rule("flux-negative-prompt", _E, "`negative_prompt` on a Flux base, which does not support negative prompts"),
    Rule("flux-cfg-scale", _E, "`cfg_scale` of 5 or more on a Flux base, which accepts only values below 5"),
    Rule("flux-resolution", _E, "`resolution` on a Flux base, which has no resolution tiers"),
    Rule("flux-weighted-text", _W, "a `(word:1.2)`-style weight in a text on a Flux base, which does not read them"),
    Rule(
        "prompt-no-subject",
        _E,
        "a prompt references neither `{{subject}}` nor a literal `<lora:ID:W>` / `<faceid:ID>` tag",
    ),
    Rule("placeholder-undeclared", _E, "a `{{name}}` placeholder that is not declared under `characteristics`"),
    Rule("placeholder-malformed", _E, "a placeholder written with spaces or odd characters, e.g. `{{ subject }}`"),
    Rule("characteristic-reserved", _E, "`subject` declared as a characteristic; it is packsync's own placeholder"),
    Rule("characteristic-unused", _W, "a declared characteristic that no prompt uses"),
    Rule("prompt-class-unknown", _E, "a prompt lists a class the pack does not declare"),
    Rule("param-needs-super-resolution", _E, "`inpaint_faces` or `hires_fix` without `super_resolution`"),
    Rule("param-size-pair", _W, "only one of `w` and `h` is set"),
    Rule("text-control-character", _E, "a control character (other than newline) in a text"),
    Rule("text-bidi-character", _W, "an invisible bidirectional-override character in a text"),
    Rule("prompts-empty", _W, "a pack with no prompts"),
    Rule(
        "experiment-prompt-unknown",
        _E,
        "an experiment's control, variant or winner is no prompt key of the pack (concluded: only the winner must be)",
    ),
    Rule("experiment-name-duplicate", _E, "two experiments of a pack have the same name"),
    Rule(
        "experiment-prompt-reused",
        _E,
        "a prompt is an arm of two running experiments, or both control and variant of one",
    ),
    Rule("experiment-classes-differ", _E, "a variant is not for the same classes as its control"),
    Rule("experiment-winner", _E, "`winner` without `status: concluded`, or a concluded experiment without one"),
    # Project file
    Rule("target-unknown", _E, "`default_target` names a target that is not defined"),
    Rule("packs-dir-missing", _E, "the packs directory does not exist"),
]

RULES: dict[str, Rule] = {rule.id: rule for rule in _ALL}
