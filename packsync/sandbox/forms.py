"""Request bodies as the Astria API accepts them: JSON with a root key, or form fields with bracket keys.

``prompt[text]=...`` and ``tune[image_urls][]=a`` become ``{"prompt": {"text": ...}}`` and
``{"tune": {"image_urls": ["a"]}}``, so that every route reads one nested shape.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

_KEY_PART = re.compile(r"\[([^\]]*)\]")


class BodyError(ValueError):
    """The body cannot be read; becomes a 400 answer."""


def decode_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Decode a JSON, multipart or urlencoded body into nested data."""
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return {}
    if kind in ("application/json", "") or kind.endswith("+json"):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BodyError(f"malformed JSON body: {exc}") from exc
        if not isinstance(data, dict):
            raise BodyError('the JSON body must be an object with a root key such as {"prompt": {...}}')
        return data
    if kind == "multipart/form-data":
        boundary = _param(content_type, "boundary")
        if not boundary:
            raise BodyError("multipart body without a boundary")
        return nest(_multipart(body, boundary))
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise BodyError("form body is not UTF-8") from exc
        return nest(pairs)
    raise BodyError(f"unsupported content type {kind!r}; send JSON or form data")


def _param(header: str, name: str) -> str | None:
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == name:
            return value.strip().strip('"')
    return None


def _multipart(body: bytes, boundary: str) -> list[tuple[str, Any]]:
    delimiter = b"--" + boundary.encode("latin-1")
    fields: list[tuple[str, Any]] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise BodyError("malformed multipart part")
        content = content.removesuffix(b"\r\n")
        name = None
        filename = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                name = _param(value, "name")
                filename = _param(value, "filename")
        if name is None:
            raise BodyError("multipart part without a name")
        if filename is not None:
            # An uploaded file: the sandbox keeps its name and size, not its bytes.
            fields.append((name, f"upload://{filename}?bytes={len(content)}"))
        else:
            fields.append((name, content.decode("utf-8", "replace")))
    return fields


def nest(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Turn bracket keys into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        base, _, rest = key.partition("[")
        parts = [base, *_KEY_PART.findall("[" + rest)] if rest else [base]
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = parts[index + 1] if not last else None
            if part == "":
                if not isinstance(node, list):
                    raise BodyError(f"unexpected [] in field {key!r}")
                if last:
                    node.append(value)
                else:
                    node.append({} if following else [])
                    node = node[-1]
                continue
            if not isinstance(node, dict):
                raise BodyError(f"field {key!r} mixes a list and a mapping")
            if last:
                node[part] = value
            else:
                default: Any = [] if following == "" else {}
                node = node.setdefault(part, default)
    return root
