"""Finding a YAML file's comments and the node each belongs to, so ``fmt`` can keep them.

libyaml drops comments, so they are found in the text and placed by the
positions of the nodes around them: a comment on lines of its own belongs
before the next node; a comment after a value, on the same line, trails it.
"""

from __future__ import annotations

from typing import Any

import yaml

from packsync.packfiles.writer import Comments

Path_ = tuple[Any, ...]


def _node_spans(text: str) -> tuple[dict[int, Path_], dict[Path_, tuple[int, int]], dict[Path_, tuple[int, int]]]:
    """(first path starting on each line, where each value ends, where each key ends); lines 0-based."""
    starts: dict[int, Path_] = {}
    value_ends: dict[Path_, tuple[int, int]] = {}
    key_ends: dict[Path_, tuple[int, int]] = {}
    # frames: [path, is_mapping, next_index_or_pending_key, awaiting_key, flow_style]
    stack: list[list[Any]] = []
    loader: Any = yaml.SafeLoader(text)
    try:
        while loader.check_event():
            event: Any = loader.get_event()
            if isinstance(
                event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentStartEvent, yaml.DocumentEndEvent)
            ):
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                frame = stack.pop()
                if frame[4]:  # only a flow collection ends on a line of its own content
                    value_ends[frame[0]] = _at(event.end_mark)
                continue
            # a node: scalar, alias, or the start of a collection
            if stack and stack[-1][1] and stack[-1][3]:
                # a mapping key
                frame = stack[-1]
                key = event.value if isinstance(event, yaml.ScalarEvent) else None
                frame[2] = key
                frame[3] = False
                path = (*frame[0], key)
                starts.setdefault(_at(event.start_mark)[0], path)
                key_ends[path] = _at(event.end_mark)
                continue
            if stack:
                frame = stack[-1]
                if frame[1]:
                    path = (*frame[0], frame[2])
                    frame[3] = True
                else:
                    path = (*frame[0], frame[2])
                    frame[2] += 1
                    starts.setdefault(_at(event.start_mark)[0], path)
            else:
                path = ()
            if isinstance(event, yaml.MappingStartEvent):
                stack.append([path, True, None, True, bool(event.flow_style)])
            elif isinstance(event, yaml.SequenceStartEvent):
                stack.append([path, False, 0, False, bool(event.flow_style)])
            else:
                value_ends[path] = _at(event.end_mark)
    finally:
        loader.dispose()
    return starts, value_ends, key_ends


def _at(mark: Any) -> tuple[int, int]:
    return int(mark.line), int(mark.column)


def _comment_after(line: str, column: int) -> str | None:
    if not line[:column].strip():
        return None  # the node ended at the start of this line (a block scalar): nothing trails it here
    rest = line[column:].lstrip()
    if rest.startswith(":"):
        rest = rest[1:].lstrip()
    return rest if rest.startswith("#") else None


def extract_comments(text: str) -> Comments:
    lines = text.split("\n")
    starts, value_ends, key_ends = _node_spans(text)
    comments = Comments()
    first_node = min(starts) if starts else len(lines)
    last_content = max((end[0] for end in value_ends.values()), default=-1)
    pending: list[str] = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#"):
            if number < first_node:
                comments.header.append(stripped)
            elif number > last_content:
                comments.footer.append(stripped)
            else:
                pending.append(stripped)
            continue
        if number in starts and pending:
            comments.before.setdefault(starts[number], []).extend(pending)
            pending = []
    comments.footer = pending + comments.footer
    # Trailing comments: after a value that ends on its line, or after a key whose value starts below.
    for path, (line_no, column) in value_ends.items():
        if path and line_no < len(lines):
            found = _comment_after(lines[line_no], column)
            if found:
                comments.trailing[path] = found
    for path, (line_no, column) in key_ends.items():
        if path not in comments.trailing and line_no < len(lines):
            value_end = value_ends.get(path)
            if value_end is not None and value_end[0] == line_no:
                continue  # the comment, if any, trails the value on this line
            found = _comment_after(lines[line_no], column)
            if found:
                comments.trailing[path] = found
    return comments
