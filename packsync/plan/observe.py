"""Whether a live template is the one the files want, judged only on what the account shows.

A parameter that the files set is compared when the account's read-back carries it (through
the echo profile's mapping when the account normalizes it), else with the record of what was
sent to that template; without a record it cannot be verified, and is not a difference. A
parameter the files leave out is the server's default: it is compared only where the profile
has seen that such a parameter reads back as nothing (never for the ones the account's
settings fill), or where the record says a value was sent.

Fields that packsync does not model (``controlnet``, ``video_model``, ...) never stop a match,
but they keep two live templates apart: a second live match is an extra *copy* only when all
it shows, less ids, times and results, is the same as the kept one's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from packsync.astria.echo import EchoProfile, ParamEcho, Sent, TargetState, plain
from packsync.astria.objects import METADATA, LiveTemplate, blank
from packsync.desired.identity import canonical_text
from packsync.facts import ACCOUNT_FILLED, GENERATION_PARAMS, PROMPT_PARAM_DEFAULTS
from packsync.packfiles.pack import Params


def shown_content(live: LiveTemplate) -> tuple[str, str]:
    """All a live template shows of what it generates (text, parameters, unmodeled fields), comparable."""
    rest = {k: (plain(k, v) if k in PROMPT_PARAM_DEFAULTS else v) for k, v in live.items() if k not in METADATA}
    rest = {k: v for k, v in rest.items() if not blank(v)}
    return canonical_text(live.text), json.dumps(rest, sort_keys=True, default=str)


@dataclass
class Observation:
    """What the plan knows of how the target shows templates back, and what was sent to them."""

    state: TargetState = field(default_factory=TargetState)

    @property
    def profile(self) -> EchoProfile:
        return self.state.profile

    @classmethod
    def echoing_all(cls) -> Observation:
        """An account seen to show every parameter back as sent, and nothing for one left out
        (the default sandbox's reading)."""
        profile = EchoProfile({n: ParamEcho(sent="echoed", omitted="blank") for n in GENERATION_PARAMS})
        return cls(TargetState(profile=profile))

    def record(self, live: LiveTemplate) -> Sent | None:
        """What was sent to this live template, when it is the one the record was made for."""
        return self.state.sent_to(live.id, live.text)

    def as_sent(self, live: LiveTemplate) -> dict[str, Any]:
        """A live template with what was sent to it where the account does not show it (for import):
        the recorded value of a parameter the answer lacks, and no value for one the account filled."""
        out = dict(live)
        record = self.record(live)
        if record is None:
            return out
        for name in GENERATION_PARAMS:
            if name in record.params and not self._shows(name, live):
                out[name] = record.params[name]
            elif name in ACCOUNT_FILLED and name not in record.params:
                out[name] = None
        return out

    def differences(self, want: Params, live: LiveTemplate) -> list[str]:
        """The parameters in which ``live`` is seen to differ from ``want`` (the same text assumed)."""
        wanted = dict(want)
        record = self.record(live)
        differ = []
        recorded = record.params if record is not None else {}
        for name in GENERATION_PARAMS:
            asked = wanted.get(name)
            shown = live.get(name)
            if asked is None and (shown is None or shown is False) and name not in recorded:
                continue  # nothing anywhere (False is the default of every flag): decided without the rules
            value = plain(name, asked)
            if self._shows(name, live) and not (value is None and record is not None and name in record.params):
                got = plain(name, live.get(name))
                if value is not None:
                    if got not in (value, self.profile.expected(name, value)):
                        differ.append(name)
                elif got is not None and name not in ACCOUNT_FILLED and self.profile.omitted_shows_blank(name):
                    differ.append(name)
            elif record is not None and record.value(name) != value:
                differ.append(name)
        return differ

    def unverifiable(self, want: Params, live: LiveTemplate) -> list[str]:
        """The parameters the files set that neither ``live`` nor a record shows."""
        if self.record(live) is not None:
            return []
        return [name for name, value in want if not self._shows(name, live) and plain(name, value) is not None]

    def _shows(self, name: str, live: LiveTemplate) -> bool:
        """Whether ``live`` shows ``name``: its answer carried the field, or the account is known to
        echo it (then a field left out of an answer is no value)."""
        return live.shows(name) or self.profile.of(name).sent in ("echoed", "normalized")

    def matches(self, want: Params, live: LiveTemplate) -> bool:
        return not self.differences(want, live)


@dataclass
class Matching:
    """Which live template is each wanted one, and what the other live templates are."""

    kept: dict[int, LiveTemplate] = field(default_factory=dict)  # index of a wanted template -> its live one
    copies: list[tuple[LiveTemplate, int]] = field(default_factory=list)  # (extra copy, id of the kept one)
    variants: list[tuple[LiveTemplate, int]] = field(default_factory=list)  # matches, but shows more
    unmatched: list[LiveTemplate] = field(default_factory=list)


def match_templates(
    wanted: Sequence[tuple[str, Params]], live: Sequence[LiveTemplate], observation: Observation | None = None
) -> Matching:
    """Pair each wanted (text, parameters) with a live template it matches, each live one used once.

    Of several candidates, the one this project sent is kept first, then one without fields
    packsync does not model, then the oldest. A live template left over that matches a kept
    wanted one is an extra copy when it shows the same as the kept one, else a variant (a
    template packsync cannot express: it is never merged into the kept one)."""
    seen = observation or Observation()
    by_text: dict[str, list[LiveTemplate]] = {}
    for template in sorted(live, key=lambda t: t.id):
        by_text.setdefault(canonical_text(template.text), []).append(template)
    result = Matching()
    taken: set[int] = set()
    kept_by_text: dict[str, list[tuple[Params, LiveTemplate]]] = {}
    for index, (text, params) in enumerate(wanted):
        key = canonical_text(text)
        candidates = [t for t in by_text.get(key, ()) if t.id not in taken and seen.matches(params, t)]
        if not candidates:
            continue
        best = min(candidates, key=lambda t: _preference(t, seen))
        taken.add(best.id)
        result.kept[index] = best
        kept_by_text.setdefault(key, []).append((params, best))
    for template in sorted(live, key=lambda t: t.id):
        if template.id in taken:
            continue
        same_text = kept_by_text.get(canonical_text(template.text), [])
        twin = next((k for p, k in same_text if seen.matches(p, template)), None)
        if twin is None:
            result.unmatched.append(template)
        elif shown_content(template) == shown_content(twin):
            result.copies.append((template, twin.id))
        else:
            result.variants.append((template, twin.id))
    return result


def _preference(template: LiveTemplate, seen: Observation) -> tuple[int, int, int]:
    recorded = seen.record(template) is not None
    return (0 if recorded else 1, 1 if template.unmodeled else 0, template.id)


def find_match(
    text: str,
    params: Params,
    live: Sequence[LiveTemplate],
    observation: Observation | None = None,
    exclude: frozenset[int] | set[int] = frozenset(),
) -> LiveTemplate | None:
    """The oldest live template that ``(text, params)`` matches, outside ``exclude``."""
    seen = observation or Observation()
    key = canonical_text(text)
    found = [t for t in live if t.id not in exclude and canonical_text(t.text) == key and seen.matches(params, t)]
    return min(found, key=lambda t: t.id) if found else None
