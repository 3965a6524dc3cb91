"""What an account shows back of the templates sent to it, and what was sent to it.

The documented prompt object echoes few generation parameters, and the account's settings
fill some that a create leaves out (``scheduler``, ``backend_version``). A plan must compare a
template only on what the account demonstrably shows back, or it replaces — and pays for —
every template on every run. Two things are kept for that, per target:

- the **echo profile**: for each parameter, what the read-back of a create showed of a value
  that was sent (``echoed`` as sent, ``normalized`` to another value, whose mapping is kept, or
  ``absent``) and of the parameter left out (``blank``: nothing comes back, or ``filled``: the
  account puts a value there);
- the **record** of what was sent, per template id: a parameter the account does not show is
  compared with what was sent to that template, so that a change to it in the files is still
  seen — on the machine that applied it (nothing on the account says what was sent).

Both live in ``.packsync/state/<target>.json``, never committed, and are checked when read:
a file that is not what this module writes is ignored with a warning, never believed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from packsync.desired.identity import canonical_text, canonical_value
from packsync.facts import GENERATION_PARAMS, PROMPT_PARAM_DEFAULTS
from packsync.packfiles.safe_write import atomic_write, safe_file_name, state_dir

SentEcho = Literal["echoed", "normalized", "absent"]
OmittedEcho = Literal["blank", "filled", "absent"]
SENT_ECHOES: tuple[SentEcho, ...] = ("echoed", "normalized", "absent")
OMITTED_ECHOES: tuple[OmittedEcho, ...] = ("blank", "filled", "absent")
STATE_VERSION = 1


def plain(name: str, value: Any) -> Any:
    """A parameter's value by meaning, None for the server's default (or no value)."""
    value = canonical_value(name, value)
    default = PROMPT_PARAM_DEFAULTS.get(name)
    if value is None or (value == default and type(value) is type(default)):
        return None
    return value


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass
class ParamEcho:
    """What the account showed of one parameter."""

    sent: SentEcho | None = None  # of a value that was sent; None: never seen
    omitted: OmittedEcho | None = None  # of the parameter left out; None: never seen
    normalized: dict[str, Any] = field(default_factory=dict)  # json(sent value) -> value read back


@dataclass
class EchoProfile:
    """How one account shows template parameters back, learned from its own read-backs."""

    params: dict[str, ParamEcho] = field(default_factory=dict)
    learned_at: str | None = None

    def of(self, name: str) -> ParamEcho:
        return self.params.get(name) or ParamEcho()

    def learn(self, sent: Mapping[str, Any], read: Mapping[str, Any], now: datetime | None = None) -> list[str]:
        """Take in one template's read-back (``read``, as the diff reads it) against what was sent
        (the ``prompt`` body); the parameters whose entry changed."""
        changed = []
        for name in GENERATION_PARAMS:
            entry = self.params.setdefault(name, ParamEcho())
            before = (entry.sent, entry.omitted, dict(entry.normalized))
            want = plain(name, sent.get(name))
            if want is None:
                if name not in read:
                    entry.omitted = "absent"
                elif plain(name, read[name]) is None:
                    entry.omitted = entry.omitted if entry.omitted == "filled" else "blank"
                else:
                    entry.omitted = "filled"  # once filled, always possibly filled
            elif name not in read:
                entry.sent = "absent"
            else:
                got = plain(name, read[name])
                if got == want:
                    entry.sent = entry.sent if entry.sent == "normalized" else "echoed"
                else:
                    entry.sent = "normalized"
                    entry.normalized[_key(want)] = got
            if (entry.sent, entry.omitted, entry.normalized) != before:
                changed.append(name)
        if changed or self.learned_at is None:
            self.learned_at = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return changed

    def expected(self, name: str, value: Any) -> Any:
        """What a value sent for ``name`` reads back as."""
        entry = self.params.get(name)
        if entry is not None and _key(value) in entry.normalized:
            return entry.normalized[_key(value)]
        return value

    def omitted_shows_blank(self, name: str) -> bool:
        """Whether a parameter left out has been seen to read back as nothing, and never as a value."""
        entry = self.params.get(name)
        return entry is not None and entry.omitted == "blank"

    def unshown(self) -> list[str]:
        """The parameters whose values sent have been seen not to come back."""
        return [n for n in GENERATION_PARAMS if (e := self.params.get(n)) is not None and e.sent == "absent"]

    def to_json(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, entry in sorted(self.params.items()):
            item: dict[str, Any] = {}
            if entry.sent is not None:
                item["sent"] = entry.sent
            if entry.omitted is not None:
                item["omitted"] = entry.omitted
            if entry.normalized:
                item["normalized"] = dict(sorted(entry.normalized.items()))
            if item:
                params[name] = item
        return {"learned_at": self.learned_at, "params": params}

    @classmethod
    def from_json(cls, data: Any) -> EchoProfile:
        """A profile from its saved form; what does not fit is left out."""
        profile = cls()
        if not isinstance(data, dict):
            return profile
        if isinstance(data.get("learned_at"), str):
            profile.learned_at = data["learned_at"]
        params = data.get("params")
        for name, item in params.items() if isinstance(params, dict) else ():
            if name not in PROMPT_PARAM_DEFAULTS or not isinstance(item, dict):
                continue
            entry = ParamEcho()
            if item.get("sent") in SENT_ECHOES:
                entry.sent = item["sent"]
            if item.get("omitted") in OMITTED_ECHOES:
                entry.omitted = item["omitted"]
            normalized = item.get("normalized")
            if isinstance(normalized, dict):
                entry.normalized = {str(k): v for k, v in normalized.items()}
            profile.params[name] = entry
        return profile


@dataclass(frozen=True)
class Sent:
    """What one template was created with: its text and the parameters that differ from the defaults."""

    text: str
    params: dict[str, Any]

    def value(self, name: str) -> Any:
        return self.params.get(name)


def sent_of(body: Mapping[str, Any]) -> Sent:
    """The record of a create's ``prompt`` body."""
    params = {n: v for n in GENERATION_PARAMS if (v := plain(n, body.get(n))) is not None}
    return Sent(canonical_text(str(body.get("text") or "")), params)


MAX_RETIRED = 20_000  # removed templates the state file keeps


@dataclass(frozen=True)
class Retired:
    """A template removed from the account: its text, and the prompt key (of ``pack``, for
    ``class_name``) whose new version replaced it ("" when a remove, not a replace, took it)."""

    text: str
    pack: str = ""
    key: str = ""
    class_name: str = ""


@dataclass
class TargetState:
    """The echo profile and the record of what was sent, for one target of a project."""

    path: Path | None = None
    account: str = ""
    profile: EchoProfile = field(default_factory=EchoProfile)
    sent: dict[int, Sent] = field(default_factory=dict)
    problem: str | None = None  # why the saved state was not used
    retired: dict[int, Retired] = field(default_factory=dict)  # removed templates, for stats' lineage

    def record(self, template_id: int, body: Mapping[str, Any]) -> None:
        self.sent[template_id] = sent_of(body)

    def retire(self, template_id: int, text: str, pack: str = "", key: str = "", class_name: str = "") -> None:
        """A template removed from the account: no longer compared, but what it was is kept (the
        newest MAX_RETIRED), so that stats can still name the prompt key of its customers' runs:
        the text sent to it (else the text it showed) and, when a replace removed it, the key and
        class of the prompt that replaced it."""
        gone = self.sent.pop(template_id, None)
        self.retired[template_id] = Retired(
            gone.text if gone is not None else canonical_text(text), pack, key, class_name
        )
        for old in sorted(self.retired)[: max(0, len(self.retired) - MAX_RETIRED)]:
            del self.retired[old]

    def texts(self) -> dict[int, str]:
        """The text of every template this project created or removed."""
        return {
            **{tid: r.text for tid, r in self.retired.items()},
            **{tid: sent.text for tid, sent in self.sent.items()},
        }

    def sent_to(self, template_id: int, text: str) -> Sent | None:
        """What was sent to this template, if it is the one recorded (ids of an emptied sandbox recur)."""
        found = self.sent.get(template_id)
        return found if found is not None and found.text == canonical_text(text) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "account": self.account,
            "profile": self.profile.to_json(),
            "sent": {str(k): {"text": v.text, "params": v.params} for k, v in sorted(self.sent.items())},
            "retired": {str(k): asdict(v) for k, v in sorted(self.retired.items())},
        }

    def save(self) -> None:
        if self.path is None:
            return
        state_dir(self.path.parent.parent.parent)  # the project root: .packsync/state/NAME.json
        self.path.parent.mkdir(exist_ok=True)
        atomic_write(self.path, json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n")


def state_path(project_root: Path, target: str) -> Path:
    return project_root / ".packsync" / "state" / safe_file_name(target, ".json")


def load_state(project_root: Path, target: str, account: str) -> TargetState:
    """The target's saved state, or an empty one (with the reason) when there is none to trust."""
    path = state_path(project_root, target)
    state = TargetState(path, account)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return state
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        state.problem = f"{path}: not readable ({exc.__class__.__name__}); starting afresh"
        return state
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        state.problem = f"{path}: not a state file this version of packsync writes; starting afresh"
        return state
    if data.get("account") != account:
        state.problem = f"{path}: written for another account; starting afresh"
        return state
    state.profile = EchoProfile.from_json(data.get("profile"))
    sent = data.get("sent")
    for key, item in sent.items() if isinstance(sent, dict) else ():
        if not (isinstance(key, str) and key.isdigit() and isinstance(item, dict)):
            continue
        text, params = item.get("text"), item.get("params")
        if isinstance(text, str) and isinstance(params, dict):
            known = {n: v for n, v in params.items() if n in PROMPT_PARAM_DEFAULTS and plain(n, v) is not None}
            state.sent[int(key)] = Sent(text, known)
    retired = data.get("retired")
    for key, item in retired.items() if isinstance(retired, dict) else ():
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            continue
        values = [item.get(name, "") for name in ("text", "pack", "key", "class_name")]
        if isinstance(key, str) and key.isdigit() and all(isinstance(v, str) for v in values):
            state.retired[int(key)] = Retired(*values)
    return state
