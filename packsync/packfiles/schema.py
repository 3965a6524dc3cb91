"""The JSON Schemas of packsync's files, and schema errors as diagnostics.

The schemas in ``schemas/`` are the single source of truth for the file
formats: editors read them, the fast checker is compiled from them, and
``jsonschema`` explains every violation in terms of them.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

from packsync.packfiles.diagnostics import Diagnostic, Location, make
from packsync.packfiles.fastschema import Check, Compiler
from packsync.packfiles.loader import Document

PACK_SCHEMA = "pack.schema.json"
PROJECT_SCHEMA = "packsync.schema.json"


def schema_dir() -> Path:
    """Where the schema files are: inside the installed package, else the source tree."""
    package = Path(__file__).resolve().parent.parent  # packsync/
    packaged = package / "schemas"
    if packaged.is_dir():
        return packaged
    return package.parent / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    with open(schema_dir() / name, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


class SchemaValidator:
    """Checks documents against one schema; explains failures with ``jsonschema``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.schema = load_schema(name)
        self._compiler = Compiler(self.schema)
        self._fast: Check = self._compiler.compile()
        self._full: Any = None

    def is_valid(self, data: Any) -> bool:
        return self._fast(data)

    def check(self, doc: Document) -> list[Diagnostic]:
        """Every schema violation in ``doc``; empty when it is valid."""
        if self._fast(doc.data):
            return []
        return self.explain(doc)

    def explain(self, doc: Document) -> list[Diagnostic]:
        if self._full is None:
            # Imported only here: most runs never need it, and it is slow to import.
            from jsonschema import Draft202012Validator

            self._full = Draft202012Validator(self.schema)
        found: list[Diagnostic] = []
        seen: set[tuple[str, int, int, str]] = set()
        for error in self._full.iter_errors(doc.data):
            for diag in self._translate(doc, error):
                key = diag.sort_key()
                if key not in seen:
                    seen.add(key)
                    found.append(diag)
        if not found:
            # The two checkers disagree: say so rather than pass an invalid file.
            found.append(
                make("schema-invalid", doc.location(()), "the file does not match the schema (no detail available)")
            )
        return found

    def _translate(self, doc: Document, error: Any) -> list[Diagnostic]:
        path = tuple(error.absolute_path)
        kind = error.validator
        schema = error.schema if isinstance(error.schema, dict) else {}
        value = error.instance
        name = _name(path)
        if kind in ("additionalProperties", "unevaluatedProperties"):
            allowed = self._compiler.property_names(schema)
            out = []
            for key in value:
                if key in allowed:
                    continue
                out.append(
                    make("schema-unknown-key", doc.location((*path, key), key=True), _unknown(key, allowed, path))
                )
            return out
        if kind == "required":
            missing = [k for k in error.validator_value if k not in value]
            # A missing top-level key belongs to the file, not to its first key.
            where = doc.location(path, key=True) if path else Location(doc.path, 1, 1)
            return [
                make("schema-required", where, f'{_owner(path)} is missing the required key "{k}"') for k in missing
            ]
        if "propertyNames" in error.schema_path:
            # jsonschema reports a bad name as an error about the name itself
            # (error.schema is the propertyNames schema), located at the mapping.
            names_schema = schema
            detail = names_schema.get("description", "").rstrip(".")
            pattern = names_schema.get("pattern")
            if pattern:
                detail = f"{detail} (pattern {pattern})" if detail else f"pattern {pattern}"
            return [
                make(
                    "schema-key-name",
                    doc.location((*path, value), key=True),
                    f'"{value}" is not a valid name in {name}: {detail}',
                )
            ]
        where = doc.location(path)
        if kind == "type":
            return [make("schema-type", where, _type_message(name, schema.get("type"), value))]
        if kind == "enum":
            return [make("schema-enum", where, _enum_message(name, schema["enum"], value))]
        if kind == "const":
            return [make("schema-enum", where, f"{name} must be {json.dumps(schema['const'])}, not {_show(value)}")]
        if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            return [make("schema-range", where, _range_message(name, schema, value))]
        if kind == "multipleOf":
            step = schema["multipleOf"]
            below = (value // step) * step
            hint = f" (try {int(below)} or {int(below + step)})" if below > 0 else ""
            return [make("schema-multiple-of", where, f"{name} must be a multiple of {step}, not {_show(value)}{hint}")]
        if kind == "minLength":
            if schema["minLength"] == 1:
                return [make("schema-string", where, f"{name} must not be empty")]
            return [make("schema-string", where, f"{name} is shorter than {schema['minLength']} characters")]
        if kind == "maxLength":
            return [
                make(
                    "schema-string",
                    where,
                    f"{name} is {len(value):,} characters long; the limit is {schema['maxLength']:,}",
                )
            ]
        if kind == "pattern":
            return [
                make("schema-string", where, f"{name} {_show(value)} does not match the pattern {schema['pattern']}")
            ]
        if kind in ("minItems", "minProperties"):
            least = error.validator_value
            noun = "entry" if least == 1 else "entries"
            return [make("schema-size", where, f"{name} needs at least {least} {noun}")]
        if kind in ("maxItems", "maxProperties"):
            return [make("schema-size", where, f"{name} has more than {error.validator_value:,} entries")]
        if kind == "uniqueItems":
            repeated = _first_repeat(value)
            return [make("schema-size", where, f"{name} lists {_show(repeated)} more than once")]
        return [make("schema-invalid", where, f"{name}: {error.message}")]


def _name(path: tuple[Any, ...]) -> str:
    """A readable name for the value at ``path``: ``prompts[3].seed``."""
    if not path:
        return "the document"
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _owner(path: tuple[Any, ...]) -> str:
    return "the file" if not path else _name(path)


def _show(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return json.dumps(value)


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null"


def _type_message(name: str, expected: Any, value: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    wanted = " or ".join(_TYPE_WORDS.get(n, str(n)) for n in names)
    message = f"{name} must be {wanted}, not {_kind(value)}"
    if not isinstance(value, (dict, list)):
        message += f" ({_show(value)})"
    if "boolean" in names and isinstance(value, str) and value.lower() in {"yes", "no", "on", "off", "y", "n"}:
        message += "; pack files are YAML 1.2, where only true and false are booleans"
    if names[0] in ("integer", "number") and isinstance(value, str):
        message += "; remove the quotes"
    return message


def _enum_message(name: str, allowed: list[Any], value: Any) -> str:
    shown = ", ".join("null" if a is None else str(a) for a in allowed)
    message = f"{name} must be one of: {shown}; not {_show(value)}"
    if isinstance(value, str):
        by_lower = {str(a).lower(): str(a) for a in allowed if a is not None}
        if value.lower() in by_lower:
            return f"{name} must be {json.dumps(by_lower[value.lower()])} (case matters), not {_show(value)}"
        close = difflib.get_close_matches(value, [str(a) for a in allowed if a is not None], n=1)
        if close:
            message += f' (did you mean "{close[0]}"?)'
    return message


def _range_message(name: str, schema: dict[str, Any], value: Any) -> str:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if low is not None and high is not None:
        return f"{name} must be between {low} and {high}, not {_show(value)}"
    if low is not None:
        return f"{name} must be at least {low}, not {_show(value)}"
    if high is not None:
        return f"{name} must be at most {high}, not {_show(value)}"
    if "exclusiveMinimum" in schema:
        return f"{name} must be greater than {schema['exclusiveMinimum']}, not {_show(value)}"
    return f"{name} must be less than {schema['exclusiveMaximum']}, not {_show(value)}"


def _unknown(key: str, allowed: set[str], path: tuple[Any, ...]) -> str:
    where = f" in {_name(path)}" if path else ""
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    if close:
        return f'unknown key "{key}"{where}; did you mean "{close[0]}"?'
    return f'unknown key "{key}"{where}; allowed keys: {", ".join(sorted(allowed))}'


def _first_repeat(values: list[Any]) -> Any:
    from packsync.packfiles.fastschema import json_key

    seen = set()
    for v in values:
        k = json_key(v)
        if k in seen:
            return v
        seen.add(k)
    return None
