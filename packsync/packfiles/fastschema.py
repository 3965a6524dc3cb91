"""A fast yes/no JSON Schema check, compiled from the project's own schemas.

``jsonschema`` is the authority on what a schema means, and it is what
explains a failure. It is also slow to import and to run: together, most of the
time of validating a pack file. Nearly every file is valid, so packsync first
asks this compiled checker "is it valid?" and only runs ``jsonschema`` to
explain the files it rejects.

The compiler supports the subset of JSON Schema 2020-12 that packsync's
schemas use and refuses to compile anything else, so a schema change can never
silently weaken the check. The tests compare its verdicts with ``jsonschema``
on generated documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that do not constrain an instance.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default", "deprecated"}
)
_SUPPORTED = _ANNOTATIONS | {
    "$ref",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "minProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
}


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this compiler does not implement."""


def _is_type(value: Any, name: str) -> bool:
    cls = type(value)
    if name == "object":
        return cls is dict
    if name == "array":
        return cls is list
    if name == "string":
        return cls is str
    if name == "integer":
        return cls is int or (cls is float and value.is_integer())
    if name == "number":
        return cls is int or cls is float
    if name == "boolean":
        return cls is bool
    if name == "null":
        return value is None
    raise UnsupportedSchema(f"unknown type {name!r}")


_EXACT = {"object": dict, "array": list, "string": str, "boolean": bool}


def _type_check(spec: Any) -> Check:
    names = tuple(spec) if isinstance(spec, list) else (spec,)
    for name in names:
        _is_type(None, name)  # rejects unknown names at compile time
    if len(names) == 1 and names[0] in _EXACT:
        exact = _EXACT[names[0]]
        return lambda value: type(value) is exact
    return lambda value: any(_is_type(value, t) for t in names)


def json_key(value: Any) -> Any:
    """A hashable form of a JSON value in which true differs from 1, as JSON Schema requires."""
    cls = type(value)
    if cls is bool or value is None:
        return (cls, value)
    if cls is int or cls is float:
        return (float, value)  # 1 and 1.0 are one number
    if cls is str:
        return (str, value)
    if cls is list:
        return (list, tuple(json_key(v) for v in value))
    if cls is dict:
        return (dict, frozenset((k, json_key(v)) for k, v in value.items()))
    return (object, repr(value))


class Compiler:
    """Compiles the schemas of one root document into checks."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self._refs: dict[str, Check] = {}

    def compile(self, schema: Any = None) -> Check:
        return self._compile(self.root if schema is None else schema)

    def resolve(self, ref: str) -> dict[str, Any] | bool:
        """The schema a local ``$ref`` names: ``#`` (the root) or a JSON pointer into it."""
        if ref != "#" and not ref.startswith("#/"):
            raise UnsupportedSchema(f"only local $ref is supported, not {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/") if ref != "#" else ():
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        if not isinstance(node, (dict, bool)):
            raise UnsupportedSchema(f"$ref {ref!r} does not name a schema")
        return node

    def property_names(self, schema: dict[str, Any] | bool) -> set[str]:
        """Names declared by ``properties`` here and in any schema reached by ``$ref``.

        (A chain of ``$ref`` that comes back to where it started, with no instance in between,
        is a schema no validator can apply; here it is a RecursionError.)
        """
        if not isinstance(schema, dict):
            return set()
        names = set(schema.get("properties", {}))
        if "$ref" in schema:
            names |= self.property_names(self.resolve(schema["$ref"]))
        return names

    def evaluated(self, schema: dict[str, Any] | bool) -> frozenset[str] | None:
        """The properties that ``unevaluatedProperties`` beside these keywords does not see:
        those of ``properties`` here and in the schemas ``$ref`` reaches; None for every one,
        when ``additionalProperties`` (here or there) evaluates them all. (An
        ``unevaluatedProperties: false`` there rejects the others itself.)"""
        if not isinstance(schema, dict):
            return frozenset()
        if "additionalProperties" in schema:
            return None
        names = frozenset(schema.get("properties", {}))
        if "$ref" in schema:
            inner = self.evaluated(self.resolve(schema["$ref"]))
            return None if inner is None else names | inner
        return names

    def _ref(self, ref: str) -> Check:
        if ref not in self._refs:
            # A placeholder first, so that a recursive schema compiles.
            slot: list[Check] = []
            self._refs[ref] = lambda value: slot[0](value)
            slot.append(self._compile(self.resolve(ref)))
            self._refs[ref] = slot[0]
        return self._refs[ref]

    def _compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"a schema must be an object or a boolean, not {schema!r}")
        unknown = set(schema) - _SUPPORTED
        if unknown:
            raise UnsupportedSchema(f"unsupported keyword(s): {', '.join(sorted(unknown))}")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"]))
        if "type" in schema:
            checks.append(_type_check(schema["type"]))
        if "enum" in schema:
            allowed = frozenset(json_key(v) for v in schema["enum"])
            checks.append(lambda value: json_key(value) in allowed)
        if "const" in schema:
            const = json_key(schema["const"])
            checks.append(lambda value: json_key(value) == const)
        checks.extend(self._numeric(schema))
        checks.extend(self._string(schema))
        checks.extend(self._array(schema))
        checks.extend(self._object(schema))
        if not checks:
            return lambda value: True
        if len(checks) == 1:
            return checks[0]
        frozen = tuple(checks)

        def every(value: Any) -> bool:
            # an explicit loop: measurably faster than all() over a generator here
            for check in frozen:  # noqa: SIM110
                if not check(value):
                    return False
            return True

        return every

    def _numeric(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []

        def numeric(value: Any) -> bool:
            return type(value) is int or type(value) is float

        if "minimum" in schema:
            low = schema["minimum"]
            out.append(lambda v: not numeric(v) or v >= low)
        if "maximum" in schema:
            high = schema["maximum"]
            out.append(lambda v: not numeric(v) or v <= high)
        if "exclusiveMinimum" in schema:
            xlow = schema["exclusiveMinimum"]
            out.append(lambda v: not numeric(v) or v > xlow)
        if "exclusiveMaximum" in schema:
            xhigh = schema["exclusiveMaximum"]
            out.append(lambda v: not numeric(v) or v < xhigh)
        if "multipleOf" in schema:
            step = schema["multipleOf"]
            if not isinstance(step, int):
                raise UnsupportedSchema("multipleOf must be an integer here")

            def multiple(v: Any) -> bool:
                if type(v) is int:
                    return v % step == 0
                if type(v) is float:
                    return (v / step).is_integer()
                return True

            out.append(multiple)
        return out

    def _string(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "minLength" in schema:
            shortest = schema["minLength"]
            out.append(lambda v: type(v) is not str or len(v) >= shortest)
        if "maxLength" in schema:
            longest = schema["maxLength"]
            out.append(lambda v: type(v) is not str or len(v) <= longest)
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search
            out.append(lambda v: type(v) is not str or search(v) is not None)
        return out

    def _array(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        if "items" in schema:
            item = self._compile(schema["items"])

            def items(v: Any) -> bool:
                if type(v) is list:
                    for x in v:
                        if not item(x):
                            return False
                return True

            out.append(items)
        if "minItems" in schema:
            fewest = schema["minItems"]
            out.append(lambda v: type(v) is not list or len(v) >= fewest)
        if "maxItems" in schema:
            most = schema["maxItems"]
            out.append(lambda v: type(v) is not list or len(v) <= most)
        if schema.get("uniqueItems"):
            out.append(lambda v: type(v) is not list or len({json_key(x) for x in v}) == len(v))
        return out

    def _object(self, schema: dict[str, Any]) -> list[Check]:
        out: list[Check] = []
        props = {name: self._compile(sub) for name, sub in schema.get("properties", {}).items()}
        if props:

            def properties(v: Any, items: tuple[tuple[str, Check], ...] = tuple(props.items())) -> bool:
                if type(v) is not dict:
                    return True
                for name, check in items:  # noqa: SIM110 (speed, as above)
                    if name in v and not check(v[name]):
                        return False
                return True

            out.append(properties)
        if "required" in schema:
            required = tuple(schema["required"])
            out.append(lambda v: type(v) is not dict or all(name in v for name in required))
        if "minProperties" in schema:
            fewest = schema["minProperties"]
            out.append(lambda v: type(v) is not dict or len(v) >= fewest)
        if "propertyNames" in schema:
            name_check = self._compile(schema["propertyNames"])
            out.append(lambda v: type(v) is not dict or all(name_check(k) for k in v))
        if "additionalProperties" in schema:
            known = frozenset(props)
            extra = self._compile(schema["additionalProperties"])

            def additional(v: Any) -> bool:
                if type(v) is dict:
                    for k, x in v.items():
                        if k not in known and not extra(x):
                            return False
                return True

            out.append(additional)
        if "unevaluatedProperties" in schema:
            if schema["unevaluatedProperties"] is not False:
                raise UnsupportedSchema("unevaluatedProperties is supported only as false")
            evaluated = self.evaluated(schema)
            if evaluated is not None:
                out.append(lambda v: type(v) is not dict or evaluated.issuperset(v))
        return out


def compile_schema(schema: dict[str, Any]) -> Check:
    """Compile a whole schema document into a yes/no check."""
    return Compiler(schema).compile()
