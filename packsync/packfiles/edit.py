"""Edits of a pack file that leave the rest of it as it was: ``experiment conclude``.

The edit is made on the lines of the file, found by the positions of the nodes it touches:
the losing prompts' list items go (with the comment lines right above each, which belong to
it), and the experiment's item gets ``status: concluded`` and ``winner:``. Every other byte
stays. The result is loaded again and must hold exactly the data intended; a file whose
layout the line edit cannot handle (a flow-style list, say) is rewritten in the canonical
layout instead, its comments carried over (as ``fmt`` does), and checked the same way. A
result that is not exactly what was intended is never returned.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from packsync.errors import PacksyncError
from packsync.packfiles.loader import Document, load_text
from packsync.packfiles.writer import Comments, scalar, write_pack
from packsync.packfiles.yaml_comments import extract_comments


class EditError(PacksyncError):
    """A pack file edit that cannot be made (no such experiment, not an arm, already concluded
    otherwise), or whose result would not be exactly what was intended."""


class _Unsupported(Exception):
    """The line edit cannot handle this layout: rewrite the file instead."""


def _find(doc: Document, path: str, name: str) -> int:
    experiments = doc.data.get("experiments") or []
    for index, entry in enumerate(experiments):
        if isinstance(entry, dict) and entry.get("name") == name:
            return index
    known = ", ".join(str(e.get("name")) for e in experiments if isinstance(e, dict)) or "none"
    raise EditError(f'{path}: no experiment is named "{name}" (its experiments: {known})')


def intended(data: dict[str, Any], index: int, winner: str) -> dict[str, Any]:
    """The pack's data once experiment ``index`` is concluded on ``winner``."""
    out = copy.deepcopy(data)
    entry = out["experiments"][index]
    losers = {entry["control"], *entry["variants"]} - {winner}
    out["prompts"] = [p for p in out["prompts"] if p.get("key") not in losers]
    entry["status"], entry["winner"] = "concluded", winner
    order = [k for k in entry if k not in ("status", "winner")] + ["status", "winner"]
    out["experiments"][index] = {k: entry[k] for k in order}
    return out


def conclude_experiment(text: str, path: str, name: str, winner: str) -> str:
    """The text of the pack file ``path`` with experiment ``name`` concluded on ``winner``."""
    loaded = load_text(text, path)
    if loaded.document is None:
        raise EditError(f"{path}: not a readable pack file (run packsync validate)")
    doc = loaded.document
    index = _find(doc, path, name)
    entry = doc.data["experiments"][index]
    line = doc.location(("experiments", index)).line
    arms = [entry.get("control"), *(entry.get("variants") or [])]
    if winner not in arms:
        said = ", ".join(str(a) for a in arms)
        raise EditError(f'{path}:{line}: "{winner}" is not an arm of experiment "{name}" (its arms: {said})')
    if entry.get("status") == "concluded":
        if entry.get("winner") == winner:
            return text  # concluded so already: nothing to change
        raise EditError(f'{path}:{line}: experiment "{name}" is already concluded on "{entry.get("winner")}"')
    want = intended(doc.data, index, winner)
    for attempt in (_line_edit, _rewrite):
        try:
            result = attempt(text, doc, index, want)
        except _Unsupported:
            continue
        again = load_text(result, path).document
        if again is not None and again.data == want:
            return result
    raise EditError(
        f"{path}: the file cannot be edited safely here; conclude it by hand (remove {_losers(entry, winner)})"
    )


def _losers(entry: dict[str, Any], winner: str) -> str:
    return ", ".join(str(k) for k in [entry.get("control"), *(entry.get("variants") or [])] if k != winner)


def _item_start(lines: list[str], doc: Document, path: tuple[Any, ...]) -> int:
    """The 0-based line of a block list item's dash: the line its value starts on, or the line
    above when the dash stands alone."""
    line = doc.location(path).line - 1
    if lines[line].lstrip().startswith("-"):
        return line
    if line > 0 and lines[line - 1].strip() == "-":
        return line - 1
    raise _Unsupported


def _with_comments(lines: list[str], start: int) -> int:
    """``start`` moved up over the comment lines right above it (they belong to that node)."""
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return start


def _list_items(lines: list[str], doc: Document, key: str) -> list[tuple[int, int]]:
    """Each item of the top-level block list ``key``: (first line with its comments, end line)."""
    items = doc.data.get(key) or []
    value_line = doc.location((key,)).line - 1
    if lines[value_line].split(":", 1)[-1].strip().startswith("["):
        raise _Unsupported  # a flow-style list
    starts = [_item_start(lines, doc, (key, i)) for i in range(len(items))]
    spans = []
    for i, start in enumerate(starts):
        end = _with_comments(lines, starts[i + 1]) if i + 1 < len(starts) else _list_end(lines, start)
        spans.append((_with_comments(lines, start), end))
    return spans


def _list_end(lines: list[str], start: int) -> int:
    """Where the last item starting at ``start`` ends: before the next top-level content (and the
    comments and blank lines above it), or at the end of the file."""
    end = len(lines)
    for number in range(start + 1, len(lines)):
        stripped = lines[number].strip()
        if stripped and not stripped.startswith("#") and not lines[number][:1].isspace():
            end = number
            break
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def _line_edit(text: str, doc: Document, index: int, want: dict[str, Any]) -> str:
    lines = text.splitlines(keepends=True)
    if not lines or not lines[-1].endswith("\n"):
        lines[-1:] = [lines[-1] + "\n"] if lines else []
    kept_keys = {p.get("key") for p in want["prompts"]}
    drop: set[int] = set()
    for i, (start, end) in enumerate(_list_items(lines, doc, "prompts")):
        if doc.data["prompts"][i].get("key") not in kept_keys:
            drop.update(range(start, end))
    start, end = _list_items(lines, doc, "experiments")[index]
    replaced, insert_at, indent = _experiment_lines(lines, doc, index, start, end, want["experiments"][index])
    out = []
    for number, line in enumerate(lines):
        if number in drop:
            continue
        out.append(replaced.get(number, line))
        if number == insert_at:
            out.extend(indent + extra for extra in _missing(doc.data["experiments"][index], want["experiments"][index]))
    return "".join(out)


def _missing(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [f"{key}: {scalar(after[key])}\n" for key in ("status", "winner") if key not in before]


def _experiment_lines(
    lines: list[str], doc: Document, index: int, start: int, end: int, entry: dict[str, Any]
) -> tuple[dict[int, str], int, str]:
    """The experiment item's lines to replace (status, winner), the line after which to insert
    the keys it lacks, and the indentation of its keys."""
    path = ("experiments", index)
    if ("experiments", index, "name") not in doc.keys:
        raise _Unsupported
    name_key = (*path, "name")
    name_line, name_col = doc.keys[name_key]
    if lines[name_line - 1].lstrip().startswith("- {") or "{" in lines[name_line - 1].split(":", 1)[0]:
        raise _Unsupported  # a flow mapping
    indent = " " * (name_col - 1)
    replaced: dict[int, str] = {}
    for key in ("status", "winner"):
        at = (*path, key)
        if at in doc.keys:
            number = doc.keys[at][0] - 1
            match = re.match(rf"^(\s*(?:-\s+)?{key}\s*:\s*)(\S+)(.*)$", lines[number].rstrip("\n"))
            if match is None:
                raise _Unsupported
            replaced[number] = f"{match.group(1)}{scalar(entry[key])}{match.group(3)}\n"
    last = end - 1
    while last > start and (not lines[last].strip() or lines[last].lstrip().startswith("#")):
        last -= 1
    return replaced, last, indent


def _rewrite(text: str, doc: Document, index: int, want: dict[str, Any]) -> str:
    """The canonical layout of ``want`` with the file's comments, those of removed prompts
    dropped and the others moved with their prompt."""
    comments = extract_comments(text)
    kept_keys = [p.get("key") for p in want["prompts"]]
    new_index = {
        i: kept_keys.index(p.get("key")) for i, p in enumerate(doc.data["prompts"]) if p.get("key") in kept_keys
    }

    def moved(path: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if len(path) >= 2 and path[0] == "prompts" and isinstance(path[1], int):
            return None if path[1] not in new_index else ("prompts", new_index[path[1]], *path[2:])
        return path

    remapped = Comments(header=list(comments.header), footer=list(comments.footer))
    for path, lines in comments.before.items():
        if (target := moved(path)) is not None:
            remapped.before[target] = lines
    for path, line in comments.trailing.items():
        if (target := moved(path)) is not None:
            remapped.trailing[target] = line
    return write_pack(want, remapped)
