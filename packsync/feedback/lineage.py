"""Lineage: which prompt key an earlier, since replaced, template of a pack was.

Editing a prompt replaces its template (a template's text and parameters cannot change in
place), so a customer's run of last month points (``orig_prompt_id``) at a template the
account no longer has. Its runs and likes still belong to the prompt key. Two sources say
which key that was, both checked against the template's text:

* **what was sent**: the target's state file (``.packsync/state/``) keeps the text sent to
  every template this project created: the old template's text exactly;
* **the pack file's git history**: every committed version of the file, expanded as plan
  expands it. A template is found by its own text when the state file has it, else by the
  text of a prompt generated from it: the template's text with its tune tags pointing at the
  customer's tune and its ``{{name}}`` placeholders filled, which is matched as a pattern.

Of several versions that match, the newest commit names the key. A template no source names
stays unattributed, and is counted and shown as such: never dropped, never guessed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from packsync.desired.check import PackChecker
from packsync.desired.expand import Template, expand_pack
from packsync.desired.identity import canonical_text
from packsync.packfiles.loader import load_text
from packsync.packfiles.pack import Pack

MAX_COMMITS = 500  # per pack file: the versions read from its history at most
GIT_TIMEOUT = 30.0  # seconds for one git call
_PIECE = re.compile(r"<([a-z]+):[0-9]+((?::[0-9.]+)?)>|\{\{\s*[a-z_][a-z0-9_]*\s*\}\}")


@dataclass(frozen=True)
class Version:
    """One version of a prompt key for one class, as a pack file held it."""

    key: str
    class_name: str
    text: str
    commit: str  # short hash; "" for the files as they are now
    date: str  # the commit's date (YYYY-MM-DD); "" for the files as they are now


@dataclass(frozen=True)
class Attribution:
    """What an earlier template was: its key and class, and the version of the file that held it."""

    template_id: int
    version: Version
    how: str  # "sent" (the state file's text) or "generated" (a generated prompt's text)


def _pattern(template_text: str) -> re.Pattern[str]:
    """A template's text as a pattern for the prompts generated from it: any tune in its numeric
    tags (a run points them at the customer's tune), anything for a placeholder."""
    text = canonical_text(template_text)
    out, end = [], 0
    for m in _PIECE.finditer(text):
        out.append(re.escape(text[end : m.start()]))
        out.append(f"<{m.group(1)}:[0-9]+{re.escape(m.group(2))}>" if m.group(1) else ".*?")
        end = m.end()
    out.append(re.escape(text[end:]))
    return re.compile("".join(out), re.DOTALL)


def versions_of(pack: Pack, templates: Iterable[Template], commit: str = "", day: str = "") -> list[Version]:
    return [Version(t.key, t.class_name, t.text, commit, day) for t in templates if t.pack == pack.slug]


def history(root: Path, path: str, slug: str, tune_ids: Mapping[int, int]) -> list[Version]:
    """Every version of pack ``slug``'s prompts in the git history of ``path`` (newest first);
    nothing when ``root`` is not in a git repository or git is not there."""
    log = _git(root, "log", f"-n{MAX_COMMITS}", "--format=%h %cs", "--follow", "--name-only", "--", path)
    if log is None:
        return []
    found: list[Version] = []
    checker = PackChecker()
    for commit, day, name in _commits(log):
        text = _git(root, "show", f"{commit}:{name}")
        if text is None:
            continue
        loaded = load_text(text, name)
        if loaded.document is None or any(d.is_error for d in loaded.diagnostics):
            continue
        pack, _ = checker.check_document(loaded.document)
        if pack is None or pack.slug != slug:
            continue
        found.extend(versions_of(pack, expand_pack(pack, tune_ids=dict(tune_ids)), commit, day))
    return found


def _commits(log: str) -> Iterator[tuple[str, str, str]]:
    """(short hash, date, the file's path at that commit) from ``git log --name-only``."""
    head: tuple[str, str] | None = None
    for line in log.splitlines():
        parts = line.split(" ")
        if len(parts) == 2 and re.fullmatch(r"[0-9a-f]{4,40}", parts[0]) and re.fullmatch(r"\d{4}-\d\d-\d\d", parts[1]):
            head = (parts[0], parts[1])
        elif line.strip() and head is not None:
            yield head[0], head[1], line.strip()
            head = None


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def attribute(earlier: Mapping[int, tuple[str | None, str]], versions: Iterable[Version]) -> dict[int, Attribution]:
    """Name the key of each earlier template: ``earlier`` maps its id to (its own text, when the
    state file has it; a prompt generated from it). The newest matching version wins."""
    known = list(versions)
    exact: dict[str, Version] = {}
    for version in reversed(known):  # oldest first, so the newest is kept
        exact[canonical_text(version.text)] = version
    patterns = [(v, _pattern(v.text)) for v in known]
    out: dict[int, Attribution] = {}
    for tid, (sent, generated) in earlier.items():
        if sent is not None and canonical_text(sent) in exact:
            out[tid] = Attribution(tid, exact[canonical_text(sent)], "sent")
            continue
        text = canonical_text(generated)
        match = next((v for v, p in patterns if p.fullmatch(text)), None)
        if match is not None:
            out[tid] = Attribution(tid, match, "generated")
    return out
