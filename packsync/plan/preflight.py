"""The reference tune preflight (astria-api.md A4): before a plan is shown or applied, each class's
reference tune is read once (``GET /tunes/:id``) and checked.

* It must exist: a 404 is an error (a tune is deleted 30 days after training unless auto_extend).
* Its ``name`` should be the class, exactly: Astria may file a template under the tune's name in
  ``prompts_per_class`` (A9), so another spelling may land it under another class. A warning, not
  an error: an account's tune may bear a name no class can (``Man Tune!``), which import renames.
* Without auto_extend, an ``expires_at`` in the past is an error, one within
  :data:`EXPIRY_WARNING` a warning; a missing or unreadable one is unknown, never a crash.
* An answer that is not an object, or is another tune, is an error naming the tune.

Every answer is data to check. Errors are per tune and class (each names its file:line);
warnings are said once per tune, however many packs and classes use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from packsync.aio import gather_all
from packsync.astria.client import AstriaClient
from packsync.astria.errors import NotFound, ProtocolError
from packsync.packfiles.pack import Pack
from packsync.plan.model import Finding, Source, TuneUse

EXPIRY_WARNING = timedelta(days=7)
DELETED = "Astria deletes a tune 30 days after training unless auto_extend is on"

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)


def tune_uses(packs: Iterable[Pack], tune_ids: Mapping[int, int]) -> dict[int, list[TuneUse]]:
    """Every reference tune the packs' classes name (through the target's ``tune_ids``), with its uses."""
    uses: dict[int, list[TuneUse]] = {}
    for pack in packs:
        for cls in pack.classes:
            tune_id = tune_ids.get(cls.tune_id, cls.tune_id)
            source = Source(cls.location.path or pack.path, cls.location.line)
            uses.setdefault(tune_id, []).append(TuneUse(pack.slug, cls.name, source))
    return uses


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (no zone: UTC); None for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    match = _TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        offset = timedelta(0)
        if zone and zone.upper() != "Z":
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
            offset = -offset if zone[0] == "-" else offset
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, timezone.utc
        )
        return moment - offset
    except (ValueError, OverflowError):
        return None


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'}"


def expiry_finding(tune_id: int, tune: Mapping[str, Any], uses: list[TuneUse], now: datetime) -> Finding | None:
    """The expiry error or warning of a tune without auto_extend, or None (extended, far, or unknown)."""
    if tune.get("auto_extend") is True:
        return None
    raw = tune.get("expires_at")
    expires = parse_timestamp(raw)
    if expires is None:
        return None
    left = expires - now
    shown = str(raw)
    if left <= timedelta(0):
        ago = (now - expires).days
        since = f"{_days(ago)} ago" if ago else "less than a day ago"
        message = (
            f"reference tune {tune_id} expired on {_date(expires)} ({since}) and has no auto_extend: "
            f"{DELETED}, so it is or will soon be deleted and its classes' templates stop working; "
            "train a new reference tune and point the class at it"
        )
        return Finding("error", tune_id, message, tuple(uses), shown, -ago)
    if left > EXPIRY_WARNING:
        return None
    days = left.days
    when = _days(days) if days else "less than a day"
    classes = ", ".join(sorted({u.class_name for u in uses}))
    message = (
        f"reference tune {tune_id} (class {classes}) expires on {_date(expires)} ({when} left) and has no "
        f"auto_extend: {DELETED}; turn auto_extend on for the tune (PATCH /tunes/{tune_id}) or the account"
    )
    return Finding("warning", tune_id, message, tuple(uses), shown, days)


def _answered(tune_id: int) -> str:
    return f"reference tune {tune_id}: GET /tunes/{tune_id} answered"


def check_tune(tune_id: int, answer: Any, uses: list[TuneUse], now: datetime) -> list[Finding]:
    """What is wrong with the answer to ``GET /tunes/<tune_id>`` (:data:`MISSING`: it answered 404)."""
    every = tuple(uses)
    if answer is MISSING:
        message = (
            f"reference tune {tune_id} does not exist on the account (GET /tunes/{tune_id} answered 404; {DELETED}); "
            "point the class at a tune the account has"
        )
        return [Finding("error", tune_id, message, every)]
    if isinstance(answer, Unreadable):
        return [
            Finding("error", tune_id, f"{_answered(tune_id)} something that is not a tune: {answer.problem}", every)
        ]
    if not isinstance(answer, Mapping):
        kind = "a list" if isinstance(answer, list) else "nothing" if answer is None else type(answer).__name__
        return [Finding("error", tune_id, f"{_answered(tune_id)} {kind}, not a tune", every)]
    got = answer.get("id")
    if type(got) is not int or got != tune_id:
        return [Finding("error", tune_id, f"{_answered(tune_id)} a tune with id {got!r}; it cannot be checked", every)]
    found: list[Finding] = []
    name = answer.get("name")
    for class_name in dict.fromkeys(u.class_name for u in uses):
        if name == class_name:
            continue
        named = f"is named {name!r}" if isinstance(name, str) else f"has no name ({name!r})"
        message = (
            f"reference tune {tune_id} {named}, not {class_name!r} (the class): Astria may file templates under "
            f"the tune's name (prompts_per_class), so this class's templates may land under another class; "
            "rename the class or the tune (names are compared exactly)"
        )
        found.append(Finding("warning", tune_id, message, tuple(u for u in uses if u.class_name == class_name)))
    expiry = expiry_finding(tune_id, answer, uses, now)
    if expiry is not None:
        found.append(expiry)
    return found


MISSING = object()  # what a 404 reads as: not None, which is what an empty or `null` answer reads as


@dataclass(frozen=True)
class Unreadable:
    """An answer that could not be read as JSON at all: what the client said of it."""

    problem: str


async def read_tune(client: AstriaClient, tune_id: int) -> Any:
    """The answer to ``GET /tunes/<tune_id>`` as data, unchecked: :data:`MISSING` for a 404."""
    try:
        return await client.request("GET", f"/tunes/{tune_id}")
    except NotFound:
        return MISSING
    except ProtocolError as exc:
        return Unreadable(exc.message)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


async def check_reference_tunes(
    client: AstriaClient,
    packs: Iterable[Pack],
    tune_ids: Mapping[int, int],
    now: Callable[[], datetime] = _utc_now,
) -> list[Finding]:
    """Read every reference tune of ``packs`` once, together (the client bounds how many at a
    time), and check each; errors first, then warnings, each in tune order."""
    uses = tune_uses(packs, tune_ids)
    if not uses:
        return []
    ids = sorted(uses)
    answers = await gather_all(*(read_tune(client, tune_id) for tune_id in ids))
    moment = now()
    found: list[Finding] = []
    for tune_id, answer in zip(ids, answers, strict=True):
        found += check_tune(tune_id, answer, uses[tune_id], moment)
    # The files name the declared id: say which tune the target reads instead.
    mapped = {to: declared for declared, to in tune_ids.items() if to != declared}
    found = [
        replace(f, message=f"{f.message} (the target's tune_ids maps the files' {mapped[f.tune_id]} to it)")
        if f.tune_id in mapped
        else f
        for f in found
    ]
    return sorted(found, key=lambda f: (f.severity != "error", f.tune_id))
