"""Read a YAML file into plain data plus the position of every key and value.

The loader is built on PyYAML's event stream (the libyaml parser when it is
available) instead of its constructor, for four reasons:

* positions: every value and every mapping key keeps its line and column, so a
  schema error deep inside a prompt list points at the offending line;
* strictness: duplicate keys are errors (PyYAML keeps the last one silently),
  and only JSON-like types are accepted: any other tag is rejected, never
  constructed;
* safety: nesting depth and alias expansion are bounded while the events are
  read, so neither a deep document (which crashes libyaml's recursive
  composer) nor an alias bomb can exhaust the stack or memory. libyaml 0.2.6
  and later have a nesting limit of their own (1,000 levels) that its scanner
  can reach before the events do: a long run of ``[`` or ``{`` on one line is
  read ahead as a possible key. That error is reported as ``yaml-depth`` too;
* YAML 1.2 core schema for plain scalars, as the YAML language server and most
  modern tools use: ``yes``/``no``/``on``/``off`` stay strings and ``4:5`` is a
  string, not the sexagesimal number 245 that YAML 1.1 would make of it.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from packsync.packfiles.diagnostics import Diagnostic, Location, make

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_INTEGER_DIGITS = 309  # about the largest a double (JSON's number, in most tools) holds

PathT = tuple[str | int, ...]
Pos = tuple[int, int]

try:  # libyaml is about twice as fast; the pure-Python parser behaves the same
    _Parser: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Parser = yaml.SafeLoader

_TAG = "tag:yaml.org,2002:"
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_RE = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT_RE = re.compile(r"^0o[0-7]+$")
_INT_HEX_RE = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT_RE = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF_RE = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN_RE = re.compile(r"^\.(?:nan|NaN|NAN)$")
# A plain scalar starting with none of these is a string in the YAML 1.2 core schema.
_SPECIAL_START = frozenset("~nNtTfF-+.0123456789")


@dataclass
class Document:
    """A loaded YAML mapping and where each of its parts came from."""

    path: str
    data: dict[str, Any]
    values: dict[PathT, Pos] = field(default_factory=dict)
    keys: dict[PathT, Pos] = field(default_factory=dict)
    # Paths of string values with characters that are not printable (checked by a rule).
    unprintable: list[PathT] = field(default_factory=list)

    def location(self, path: Sequence[str | int], *, key: bool = False) -> Location:
        """Location of the value at ``path`` (or of its key, with ``key=True``).

        Parts reached through an alias have no position of their own; they
        report the nearest enclosing node that has one.
        """
        p = tuple(path)
        if key and p in self.keys:
            line, col = self.keys[p]
            return Location(self.path, line, col)
        while True:
            if p in self.values:
                line, col = self.values[p]
                return Location(self.path, line, col)
            if not p:
                return Location(self.path, 1, 1)
            p = p[:-1]


@dataclass
class LoadResult:
    document: Document | None
    diagnostics: list[Diagnostic]


class _Stop(Exception):
    """Loading cannot go on; the diagnostic says why."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def load_file(path: Path, display: str | None = None) -> LoadResult:
    """Load one YAML file whose top level must be a mapping."""
    name = display if display is not None else str(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            # Opening a FIFO waits for a writer forever; a device may never end.
            return _fail("file-unreadable", Location(name), "is not a regular file (a FIFO, device or socket)")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        return _fail("file-unreadable", Location(name), "is a directory, not a YAML file")
    except FileNotFoundError:
        return _fail("file-unreadable", Location(name), "no such file")
    except OSError as exc:
        return _fail("file-unreadable", Location(name), f"cannot read: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        return _fail(
            "file-too-large",
            Location(name),
            f"file is larger than {MAX_FILE_BYTES // 1024} KiB; a pack file this big is almost certainly a mistake",
        )
    return load_bytes(raw, name)


def load_bytes(raw: bytes, name: str) -> LoadResult:
    """Load YAML from bytes already read; ``name`` is used in diagnostics."""
    if len(raw) > MAX_FILE_BYTES:
        return _fail("file-too-large", Location(name), f"file is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return _fail(
            "file-encoding",
            Location(name, line, col),
            f"byte 0x{raw[exc.start]:02x} is not valid UTF-8; save the file as UTF-8",
        )
    return load_text(text, name)


def load_text(text: str, name: str) -> LoadResult:
    """Load YAML from text; ``name`` is used in diagnostics."""
    builder = _Builder(name)
    try:
        builder.run(text)
    except _Stop as stop:
        return LoadResult(None, [*builder.diagnostics, stop.diagnostic])
    except yaml.MarkedYAMLError as exc:
        return LoadResult(None, [*builder.diagnostics, _syntax_error(exc, text, name)])
    except yaml.YAMLError as exc:  # reader errors carry a position of their own
        return LoadResult(None, [*builder.diagnostics, _reader_error(exc, text, name)])
    if builder.root is None:
        return _fail(
            "yaml-not-mapping", Location(name, 1, 1), "the file is empty; a pack file is a mapping (key: value)"
        )
    if not isinstance(builder.root, dict):
        kind = _kind(builder.root)
        line, col = builder.values.get((), (1, 1))
        return _fail(
            "yaml-not-mapping",
            Location(name, line, col),
            f"the top level is {kind}; a pack file is a mapping (key: value)",
        )
    doc = Document(name, builder.root, builder.values, builder.keys, builder.unprintable)
    return LoadResult(doc, builder.diagnostics)


def _fail(rule: str, location: Location, message: str) -> LoadResult:
    return LoadResult(None, [make(rule, location, message)])


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    return "a scalar"


# libyaml's own nesting limit: "exceeded maximum nesting depth" (0.2.6, from its scanner) or
# "Maximum nesting level reached, set with yaml_set_max_nest_level())" (its parser's wording).
_LIBYAML_DEPTH_RE = re.compile(r"maximum nesting (?:depth|level)", re.IGNORECASE)


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, name: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    if exc.problem and _LIBYAML_DEPTH_RE.search(exc.problem):
        # Nesting far deeper than MAX_DEPTH that libyaml refused before its events reached the
        # builder (which stops at MAX_DEPTH): the same problem, so the same rule.
        line, col = _pos(mark) if mark else (1, 1)
        return make("yaml-depth", Location(name, line, col), f"nesting deeper than {MAX_DEPTH} levels")
    if exc.context_mark is not None and (exc.context or "").startswith("while parsing a flow"):
        # An unclosed [ or {: the parser notices it lines later; the fault is where it opened.
        mark = exc.context_mark
    line = mark.line + 1 if mark else 1
    col = mark.column + 1 if mark else 1
    tab = _first_tab_indent(text, line)
    if tab is not None:
        return make(
            "yaml-tab-indent",
            Location(name, tab[0], tab[1]),
            "indentation contains a tab; YAML allows only spaces for indentation",
        )
    problem = exc.problem or "invalid YAML"
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        problem = f"{problem} ({exc.context} at line {exc.context_mark.line + 1})"
    return make("yaml-syntax", Location(name, line, col), problem)


def _reader_error(exc: yaml.YAMLError, text: str, name: str) -> Diagnostic:
    """A character YAML does not accept at all (e.g. a raw control character)."""
    if isinstance(exc, yaml.reader.ReaderError):
        index = max(0, min(exc.position, len(text)))
        line = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return make(
            "yaml-syntax",
            Location(name, line, col),
            f"character U+{ord(char):04X} is not allowed in a YAML file ({exc.reason})",
        )
    return make("yaml-syntax", Location(name, 1, 1), str(exc).splitlines()[0] if str(exc) else "unreadable YAML")


def _first_tab_indent(text: str, upto_line: int) -> Pos | None:
    """The first tab used as indentation at or before ``upto_line``."""
    for number, line in enumerate(text.splitlines()[:upto_line], start=1):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        if "\t" in indent and stripped:
            return number, indent.index("\t") + 1
    return None


class _Builder:
    """Builds plain Python data from YAML events, recording positions."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.diagnostics: list[Diagnostic] = []
        self.values: dict[PathT, Pos] = {}
        self.keys: dict[PathT, Pos] = {}
        self.root: Any = None
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.expanded = 0
        self.unprintable: list[PathT] = []

    def run(self, text: str) -> None:
        parser = _Parser(text)
        try:
            self._consume(parser)
        finally:
            parser.dispose()

    def _consume(self, parser: Any) -> None:
        # Each frame: [container, path, size, anchor, pending_key, key_pos, explicit_keys, merges]
        stack: list[list[Any]] = []
        documents = 0
        values = self.values
        keys = self.keys
        get_event = parser.get_event
        scalar_event = yaml.ScalarEvent
        while True:
            event = get_event()
            cls = type(event)
            if cls is scalar_event:
                # Fast path, most events: an untagged, unanchored scalar in a mapping.
                frame = stack[-1] if stack else None
                if (
                    frame is not None
                    and event.tag is None
                    and event.anchor is None
                    and type(frame[0]) is dict
                    and self.expanded < MAX_NODES
                ):
                    text = event.value
                    plain = event.implicit[0]
                    if frame[4] is None:
                        if not plain or (text and text[:1] not in _SPECIAL_START and text != "<<"):
                            self.expanded += 1
                            frame[2] += 1
                            frame[4] = text
                            mark = event.start_mark
                            frame[5] = (mark.line + 1, mark.column + 1)
                            continue
                    elif type(frame[4]) is str and frame[4] not in frame[6]:
                        key = frame[4]
                        value = self._plain(event, text) if plain else text
                        self.expanded += 1
                        frame[2] += 1
                        frame[4] = None
                        frame[6].add(key)
                        frame[0][key] = value
                        path = (*frame[1], key)
                        keys[path] = frame[5]
                        mark = event.start_mark
                        values[path] = (mark.line + 1, mark.column + 1)
                        if type(value) is str and not value.isprintable():
                            self.unprintable.append(path)
                        continue
                self._place(stack, event, self._scalar(event), 1)
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    raise _Stop(make("yaml-depth", self._loc(event), f"nesting deeper than {MAX_DEPTH} levels"))
                self._check_tag(event, "map" if cls is yaml.MappingStartEvent else "seq")
                container: Any = {} if cls is yaml.MappingStartEvent else []
                path = self._place(stack, event, container, 1)
                stack.append([container, path, 1, event.anchor, None, None, set(), []])
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                frame = stack.pop()
                if frame[7]:
                    self._merge(frame)
                if frame[3] is not None:
                    self.anchors[frame[3]] = (frame[0], frame[2])
                if stack:
                    stack[-1][2] += frame[2]
            elif cls is yaml.AliasEvent:
                self._alias(stack, event)
            elif cls is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Stop(
                        make(
                            "yaml-multiple-documents",
                            self._loc(event),
                            "a second YAML document ('---'); put one pack per file",
                        )
                    )
            elif event is None or cls is yaml.StreamEndEvent:
                return

    def _alias(self, stack: list[list[Any]], event: Any) -> None:
        """An alias: the anchored value again (counted at its full size against the node limit)."""
        target = self.anchors.get(event.anchor)
        if target is None:
            raise _Stop(
                make(
                    "yaml-syntax",
                    self._loc(event),
                    f"alias *{event.anchor} refers to an anchor that is not defined before it "
                    "(or that contains the alias)",
                )
            )
        self._place(stack, event, target[0], target[1])

    def _place(self, stack: list[list[Any]], event: Any, value: Any, size: int) -> PathT:
        """Attach ``value`` to the innermost open container; return its path.

        A value that is not attached (the value of a duplicate or invalid key,
        or of a merge key) gets a path no real data has, so that a container
        among them still gets a frame of its own.
        """
        self.expanded += size
        if self.expanded > MAX_NODES:
            raise _Stop(
                make(
                    "yaml-alias-limit",
                    self._loc(event),
                    f"the document expands to more than {MAX_NODES:,} nodes through aliases; refusing to load it",
                )
            )
        is_scalar = type(event) is yaml.ScalarEvent
        if is_scalar and event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        if not stack:
            self.root = value
            self.values[()] = _pos(event.start_mark)
            return ()
        frame = stack[-1]
        container = frame[0]
        if is_scalar or type(event) is yaml.AliasEvent:
            frame[2] += size  # a container adds its size when it ends
        if type(container) is list:
            path = (*frame[1], len(container))
            container.append(value)
            self.values[path] = _pos(event.start_mark)
            if is_scalar and type(value) is str and not value.isprintable():
                self.unprintable.append(path)
            return path
        if frame[4] is None:  # this node is a key
            frame[5] = _pos(event.start_mark)
            if not is_scalar:
                raise _Stop(
                    make(
                        "yaml-key-type", self._loc(event), "a mapping key must be a plain string, not a list or mapping"
                    )
                )
            if event.tag == _TAG + "merge" or (event.value == "<<" and event.implicit[0] and event.tag is None):
                frame[4] = _MERGE
            elif isinstance(value, str):
                frame[4] = value
            else:
                self.diagnostics.append(
                    make("yaml-key-type", self._loc(event), f"mapping key {_short(value)} is not a string; quote it")
                )
                frame[4] = _BAD_KEY
            return (*frame[1], _DETACHED)
        key = frame[4]
        frame[4] = None
        if key is _MERGE:
            frame[7].append((value, _pos(event.start_mark)))
            return (*frame[1], _DETACHED)
        if key is _BAD_KEY:
            return (*frame[1], _DETACHED)
        path = (*frame[1], key)
        if key in frame[6]:
            first = self.keys[path]
            self.diagnostics.append(
                make(
                    "yaml-duplicate-key",
                    Location(self.name, frame[5][0], frame[5][1]),
                    f'key "{key}" appears twice in this mapping (first at line {first[0]}); the second is ignored',
                )
            )
            return (*frame[1], _DETACHED)
        frame[6].add(key)
        container[key] = value
        self.keys[path] = frame[5]
        self.values[path] = _pos(event.start_mark)
        if is_scalar and type(value) is str and not value.isprintable():
            self.unprintable.append(path)
        return path

    def _merge(self, frame: list[Any]) -> None:
        container: dict[str, Any] = frame[0]
        explicit: set[str] = frame[6]
        for source, pos in frame[7]:
            sources = source if isinstance(source, list) else [source]
            for item in sources:
                if not isinstance(item, dict):
                    raise _Stop(
                        make(
                            "yaml-syntax",
                            Location(self.name, pos[0], pos[1]),
                            "a merge key (<<) needs a mapping or a list of mappings",
                        )
                    )
                for key, value in item.items():
                    if key not in explicit and key not in container:
                        container[key] = value
                        path = (*frame[1], key)
                        self.values[path] = pos
                        self.keys[path] = pos

    def _check_tag(self, event: Any, kind: str) -> None:
        tag = event.tag
        if tag is None or tag == "!" or tag == _TAG + kind:
            return
        raise _Stop(make("yaml-tag", self._loc(event), _tag_message(tag)))

    def _scalar(self, event: Any) -> Any:
        value: str = event.value
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0] or tag == "!":
                return value  # quoted, block or '!'-tagged: always a string
            return self._plain(event, value)
        if tag == _TAG + "str":
            return value
        if tag in (_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null"):
            resolved = self._plain(event, value)
            wanted = tag[len(_TAG) :]
            ok = {
                "int": type(resolved) is int,
                "float": type(resolved) in (int, float),
                "bool": type(resolved) is bool,
                "null": resolved is None,
            }[wanted]
            if not ok:
                raise _Stop(make("yaml-tag", self._loc(event), f"{value!r} is not a valid !!{wanted}"))
            return float(resolved) if wanted == "float" else resolved
        if tag == _TAG + "merge":
            return "<<"
        raise _Stop(make("yaml-tag", self._loc(event), _tag_message(tag)))

    def _integer(self, event: Any, value: str, digits: str, base: int) -> int:
        # Python refuses to convert more than 4,300 digits, and JSON tools cannot hold an
        # integer past a double's range (about 309 digits) anyway.
        if len(digits.lstrip("+-")) > MAX_INTEGER_DIGITS:
            raise _Stop(
                make(
                    "yaml-number",
                    self._loc(event),
                    f"an integer of {len(digits):,} digits is too large for a number JSON can hold",
                )
            )
        return int(digits, base)

    def _plain(self, event: Any, value: str) -> Any:
        first = value[:1]
        if first not in _SPECIAL_START:
            return value if value else None
        if first in "~nN":
            return None if _NULL_RE.match(value) else value
        if first in "tTfF":
            return _BOOL.get(value, value)
        if _INT_RE.match(value):
            return self._integer(event, value, value, 10)
        if _FLOAT_RE.match(value):
            number = float(value)
            if math.isfinite(number):
                return number
            raise _Stop(
                make("yaml-number", self._loc(event), f"{value} is too large for a number; JSON cannot hold it")
            )
        if _INT_HEX_RE.match(value):
            return self._integer(event, value, value, 16)
        if _INT_OCT_RE.match(value):
            return self._integer(event, value, value[2:], 8)
        if _INF_RE.match(value) or _NAN_RE.match(value):
            raise _Stop(
                make(
                    "yaml-number",
                    self._loc(event),
                    f"{value} is not a number JSON can hold; quote it if you meant text",
                )
            )
        return value

    def _loc(self, event: Any) -> Location:
        line, col = _pos(event.start_mark)
        return Location(self.name, line, col)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_MERGE = _Marker("<<")
_BAD_KEY = _Marker("<bad key>")
# Path component of values that are read but not kept; no real key equals it.
_DETACHED = "\x00detached"


def _pos(mark: Any) -> Pos:
    return (mark.line + 1, mark.column + 1)


def _short(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        return f"{value} (a number)"
    if isinstance(value, (list, dict)):
        return "that is a list or mapping"
    return repr(value)


def _tag_message(tag: str) -> str:
    shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    return f"tag {shown} is not allowed: pack files hold only strings, numbers, booleans, null, lists and mappings"
