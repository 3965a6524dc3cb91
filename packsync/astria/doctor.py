"""``packsync doctor``: what an account does where the API's docs leave it open (Part A, A8).

Each check reads the account (GETs only) and gives a :class:`Finding`: the assumption packsync
does not make, what this account showed, and what packsync does about it either way. Every
answer is data to check: an error, a body that is not JSON or one of the wrong shape makes that
check *unknown* ("the account answered ..."), never a crash. Only a 401/403 on the first read
(or an account that cannot be reached) stops the doctor: then nothing can be checked.

The probe that writes (``--probe``) is in :mod:`packsync.astria.probe`; the reference tunes are
checked by plan's own preflight (:mod:`packsync.plan.preflight`), from the command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packsync.astria.client import AstriaClient
from packsync.astria.echo import plain
from packsync.astria.errors import ApiError, AuthError, NotFound, TransportError
from packsync.facts import ACCOUNT_FILLED, GENERATION_PARAMS, PROMPT_PARAM_DEFAULTS

# Astria's gallery packs (A3: 260 corporate-headshots); the next is tried where the account owns one.
GALLERY_SLUGS = ("corporate-headshots", "men-s-leather-shoes", "sport-shirt-2")
SAMPLE_PACKS = 3  # owned packs with templates whose detail and templates are read
SCAN_PACKS = 10  # owned packs looked at for templates, at most
SAMPLE_TEMPLATES = 20  # templates read per pack (one page)
PAGE_ASKED = 100  # what packsync asks of /packs per page
DETAIL_FIELDS = ("preset", "subtitle", "template_prompts", "class_name", "prompts_per_class", "costs", "token")
LIST_FIELDS = ("token", "model_type", "subtitle", "base_tune_id")

# key -> (the assumption packsync does not make, what packsync does about it whatever is found)
CHECKS: dict[str, tuple[str, str]] = {
    "key": (
        "the API key works on this account",
        "a 401/403 stops every command with one line; it is never retried",
    ),
    "packs-paging": (
        "GET /packs is paged, unpaged, capped or ordered in some way",
        "packsync pages with limit=100&offset=N, advancing by the packs received, until an empty page or "
        "one with no new id, whichever it is; it never stops at a short page and never relies on the order",
    ),
    "slug-namespace": (
        "slugs are private to the account",
        "slugs are global: a taken slug gets another one; apply adopts the created pack by id, and an unpinned "
        "pack file matches only a pack this account owns",
    ),
    "pack-detail": (
        "GET /p/:id and the GET /packs item show preset, subtitle, token, model_type, class_name",
        "packsync reads subtitle, token, model_type and base_tune_id from the list item and a template's class "
        "from prompts_per_class; a field the account does not show is never planned as a change (the plan "
        "says so once per pack)",
    ),
    "prompt-object": (
        "a template's generation parameters come back as sent, and one left out comes back empty",
        "templates are compared only on what the account shows (the echo profile: apply and doctor --probe "
        "learn it); a parameter it does not show is compared with the record of what was sent "
        "(.packsync/state) or not at all, and the plan says so once; scheduler/backend_version left out of "
        "a file are never compared",
    ),
    "tune-filter": (
        "GET /prompts?tune_id= filters by tune",
        "never relied on: a tune's prompts are read at GET /tunes/:id/prompts, and items of other tunes in "
        "any filtered listing are dropped",
    ),
    "reference-tunes": (
        "the classes' reference tunes exist, are named as the class and outlive 30 days",
        "plan and apply check each class's tune first, as here (plan's preflight): it must exist and be "
        "named as the class, and without auto_extend an expires_at within 7 days is a warning, a past one "
        "an error that stops the run",
    ),
}


@dataclass
class Finding:
    """One check's outcome: what was found (None: the check could not be made, ``why``)."""

    key: str
    found: str
    known: bool = True
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def assumption(self) -> str:
        return CHECKS[self.key][0]

    @property
    def packsync(self) -> str:
        return CHECKS[self.key][1]

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.key,
            "assumption": self.assumption,
            "status": "checked" if self.known else "unknown",
            "found": self.found,
            "packsync": self.packsync,
            "data": self.data,
        }


class Odd(Exception):
    """The account answered something that is not the shape the check needs."""


def answered(data: Any) -> str:
    """What an answer was, in a few words, for an 'unknown' finding."""
    if isinstance(data, list):
        return f"a list of {len(data)}" + ("" if all(isinstance(i, dict) for i in data) else " with non-objects")
    if isinstance(data, dict):
        keys = ", ".join(sorted(map(str, data))[:6])
        return f"an object ({keys}{', ...' if len(data) > 6 else ''})" if data else "an empty object"
    if data is None:
        return "nothing"
    return f"{type(data).__name__} {str(data)[:60]!r}"


def objects(data: Any, what: str) -> list[dict[str, Any]]:
    """``data`` as a list of objects with integer ids, or :class:`Odd`."""
    if not isinstance(data, list) or not all(isinstance(i, dict) and type(i.get("id")) is int for i in data):
        raise Odd(f"{what}: the account answered {answered(data)}, not a list of objects with ids")
    return data


def ids(items: Iterable[Mapping[str, Any]]) -> list[int]:
    return [int(i["id"]) for i in items]


@dataclass
class Doctor:
    """The read-only checks over one client; what one check read is kept for the next ones."""

    client: AstriaClient
    own: list[dict[str, Any]] | None = None  # every owned pack (paged as packsync pages), None: unreadable
    unpaged: list[dict[str, Any]] | None = None
    sampled: list[int] | None = None  # owned packs with templates, read for the detail and prompt checks
    templates: list[dict[str, Any]] = field(default_factory=list)

    async def get(self, path: str, **params: Any) -> Any:
        return await self.client.request("GET", path, params=params or None)

    async def run(self) -> list[Finding]:
        """Every check of the account, in order; the first read's 401/403 or unreachable account is
        raised. (The reference tunes are checked by plan's own preflight: see the command.)"""
        findings = [await self.check_key()]
        steps: list[tuple[str, Callable[[], Awaitable[Finding]]]] = [
            ("packs-paging", self.check_paging),
            ("slug-namespace", self.check_slugs),
            ("pack-detail", self.check_detail),
            ("prompt-object", self.check_prompts),
            ("tune-filter", self.check_tune_filter),
        ]
        for key, step in steps:
            findings.append(await guarded(key, step))
        return findings

    async def check_key(self) -> Finding:
        try:
            data = await self.get("/packs")
        except (AuthError, TransportError):
            raise
        except ApiError as exc:
            return Finding("key", f"unknown: the account answered {exc}", known=False)
        try:
            self.unpaged = objects(data, "GET /packs")
        except Odd as exc:
            return Finding("key", f"the key is accepted, but {exc}", known=False)
        count = len(self.unpaged)
        return Finding("key", f"yes: GET /packs answered {count} pack(s)", data={"packs": count})

    async def check_paging(self) -> Finding:
        if self.unpaged is None:
            raise Odd("the pack list could not be read")
        self.own = await self.client.list_packs()
        again = objects(await self.get("/packs"), "GET /packs")
        page = objects(await self.get("/packs", limit=PAGE_ASKED, offset=0), "GET /packs?limit=100")
        first = objects(await self.get("/packs", limit=1, offset=0), "GET /packs?limit=1")
        second = objects(await self.get("/packs", limit=1, offset=1), "GET /packs?limit=1&offset=1")
        return paging_finding(self.unpaged, again, page, first, second, self.own)

    async def check_slugs(self) -> Finding:
        if self.own is None:
            raise Odd("the pack list could not be read: whose pack a slug resolves cannot be told")
        own, missing = set(ids(self.own)), []
        for slug in GALLERY_SLUGS:
            try:
                found = await self.client.get_object(f"/p/{slug}")
            except NotFound:
                missing.append(slug)
                continue
            pid = found.get("id")
            if pid in own:
                continue  # this account's own pack of that slug: try the next one
            if type(pid) is not int:
                raise Odd(f"GET /p/{slug} answered {answered(found)}; whose pack it is cannot be told")
            title = str(found.get("title") or "")[:60]
            return Finding(
                "slug-namespace",
                f"GET /p/{slug} resolves pack #{pid} ({title!r}), which this account does not own: slugs are global",
                data={"slug": slug, "global": True, "pack_id": pid},
            )
        if not missing:
            raise Odd(f"every gallery slug tried ({', '.join(GALLERY_SLUGS)}) is this account's own pack")
        return Finding(
            "slug-namespace",
            f"GET /p/{missing[0]} (a gallery pack of Astria's) is not found here: no other account's pack "
            "resolves by slug on this account",
            data={"slug": missing[0], "global": False},
        )

    async def sample(self) -> list[int]:
        """Up to SAMPLE_PACKS owned packs with templates (of the first SCAN_PACKS), their templates kept."""
        if self.sampled is None:
            if not self.own:
                raise Odd("this account owns no pack to read" if self.own == [] else "the pack list could not be read")
            sampled: list[int] = []
            templates: list[dict[str, Any]] = []
            for pack in self.own[:SCAN_PACKS]:
                pid = int(pack["id"])
                page = objects(await self.get("/prompts", pack_id=pid, limit=SAMPLE_TEMPLATES), "GET /prompts?pack_id=")
                mine = [t for t in page if t.get("pack_id", pid) == pid]
                if mine:
                    templates += mine
                    sampled.append(pid)
                if len(sampled) == SAMPLE_PACKS:
                    break
            self.sampled, self.templates = sampled, templates
        return self.sampled

    async def check_detail(self) -> Finding:
        try:
            chosen = await self.sample()
        except AuthError:
            raise
        except (ApiError, Odd):
            chosen = []  # the templates cannot be read: the detail still can
        if not self.own:
            raise Odd("this account owns no pack to read" if self.own == [] else "the pack list could not be read")
        chosen = chosen or [int(self.own[0]["id"])]  # no pack with templates: the newest one
        details = [await self.client.get_pack(pid) for pid in chosen]
        listed = [p for p in self.own or () if int(p["id"]) in chosen]
        return detail_finding(listed, details)

    async def check_prompts(self) -> Finding:
        sampled = await self.sample()
        if not self.templates:
            scanned = min(len(self.own or ()), SCAN_PACKS)
            raise Odd(f"none of the {scanned} newest owned pack(s) has templates to sample")
        return prompt_finding(self.templates, sampled)

    async def check_tune_filter(self) -> Finding:
        newest = objects(await self.get("/prompts", limit=SAMPLE_TEMPLATES), "GET /prompts")
        tuned = [p for p in newest if type(p.get("tune_id")) is int]
        if not tuned:
            raise Odd("the account's newest prompts show no tune_id to filter by")
        tune = int(tuned[0]["tune_id"])
        filtered = objects(await self.get("/prompts", tune_id=tune, limit=SAMPLE_TEMPLATES), "GET /prompts?tune_id=")
        foreign = sorted({p.get("tune_id") for p in filtered if p.get("tune_id") != tune}, key=str)
        data = {"tune_id": tune, "answered": len(filtered), "other_tunes": foreign}
        if foreign:
            shown = ", ".join(map(str, foreign[:5]))
            return Finding(
                "tune-filter",
                f"ignored: GET /prompts?tune_id={tune} answered prompts of other tunes too ({shown})",
                data={**data, "honoured": False},
            )
        if not filtered or all(p.get("tune_id") == tune for p in tuned):
            why = "answered nothing" if not filtered else f"every recent prompt is on tune {tune}"
            raise Odd(f"GET /prompts?tune_id={tune} {why}: honoured or not cannot be told")
        return Finding(
            "tune-filter",
            f"honoured: GET /prompts?tune_id={tune} answered only prompts of tune {tune}",
            data={**data, "honoured": True},
        )


async def guarded(key: str, step: Callable[[], Awaitable[Finding]]) -> Finding:
    """One check, its failures as an unknown finding (a 401/403 still stops the doctor)."""
    try:
        return await step()
    except AuthError:
        raise
    except ApiError as exc:
        return Finding(key, f"unknown: the account answered {exc}", known=False)
    except Odd as exc:
        return Finding(key, f"unknown: {exc}", known=False)


def _order(found: Sequence[int]) -> str:
    if len(found) < 2:
        return "too few packs to tell"
    if list(found) == sorted(found, reverse=True):
        return "newest first"
    if list(found) == sorted(found):
        return "oldest first"
    return "no id order"


def paging_finding(
    unpaged: list[dict[str, Any]],
    again: list[dict[str, Any]],
    page: list[dict[str, Any]],
    first: list[dict[str, Any]],
    second: list[dict[str, Any]],
    every: list[dict[str, Any]],
) -> Finding:
    """What the reads of /packs say of its paging, its cap and its order."""
    total = len({*ids(every), *ids(unpaged)})
    enough = total >= 2
    limit = (len(first) == 1) if enough else None
    offset = None
    if enough and first and second:
        offset = ids(first) != ids(second)
    cap = len(page) if len(page) < min(PAGE_ASKED, total) else None
    stable = ids(unpaged) == ids(again) if enough else None
    parts = [
        "limit " + {True: "honoured", False: "ignored", None: "cannot be told (fewer than 2 packs)"}[limit],
        "offset " + {True: "honoured", False: "ignored", None: "cannot be told"}[offset],
    ]
    parts.append(
        f"pages capped at {cap} (asked {PAGE_ASKED}; the account holds {total})"
        if cap is not None
        else f"no cap seen (asked {PAGE_ASKED}, got {len(page)} of {total})"
    )
    if len(unpaged) < total:
        parts.append(f"the unpaged list stops at {len(unpaged)} of {total}")
    parts.append(
        f"order {_order(ids(unpaged))}, "
        + {True: "the same on two reads", False: "changing between reads", None: "stability cannot be told"}[stable]
    )
    data = {
        "limit_honoured": limit,
        "offset_honoured": offset,
        "asked": PAGE_ASKED,
        "page": len(page),
        "cap": cap,
        "unpaged": len(unpaged),
        "total": total,
        "order": _order(ids(unpaged)),
        "order_stable": stable,
    }
    return Finding("packs-paging", "; ".join(parts), known=enough, data=data)


def _fields_line(label: str, present: Mapping[str, bool]) -> str:
    shown = [n for n, here in present.items() if here]
    hidden = [n for n, here in present.items() if not here]
    return f"{label} shows {', '.join(shown) or 'none of them'}" + (f"; not {', '.join(hidden)}" if hidden else "")


def detail_finding(listed: Sequence[Mapping[str, Any]], details: Sequence[Mapping[str, Any]]) -> Finding:
    """Which fields the pack detail and the list item show, of those packsync might want."""
    items = [t for d in details if isinstance(d.get("template_prompts"), list) for t in d["template_prompts"]]
    detail = {name: any(name in d for d in details) for name in DETAIL_FIELDS}
    detail["class_name"] = any(isinstance(t, dict) and "class_name" in t for t in items)
    listing = {name: any(name in p for p in listed) for name in LIST_FIELDS}
    shown = ", ".join(f"#{d.get('id')}" for d in details)
    found = f"{_fields_line(f'GET /p/:id ({shown})', detail)}. {_fields_line('The GET /packs item', listing)}"
    data = {
        "packs": [d.get("id") for d in details],
        "detail": detail,
        "list_item": listing,
        "detail_fields": sorted({str(k) for d in details for k in d}),
        "template_item_fields": sorted({str(k) for t in items if isinstance(t, dict) for k in t}),
    }
    return Finding("pack-detail", found, data=data)


def prompt_finding(templates: Sequence[Mapping[str, Any]], packs: Sequence[int]) -> Finding:
    """Which fields and generation parameters the sampled templates show, and what the account fills."""
    fields = sorted({str(k) for t in templates for k in t})
    shown = [n for n in GENERATION_PARAMS if any(n in t for t in templates)]
    missing = [n for n in GENERATION_PARAMS if n not in shown]
    used = {n: sum(1 for t in templates if plain(n, t.get(n)) is not None) for n in shown}
    filled = {n: sum(1 for t in templates if t.get(n) not in (None, "")) for n in sorted(ACCOUNT_FILLED)}
    known = set(PROMPT_PARAM_DEFAULTS) | _PROMPT_METADATA
    unmodeled = [f for f in fields if f not in known]
    count = len(templates)
    parts = [f"{count} template(s) of pack(s) {', '.join(f'#{p}' for p in packs)}"]
    parts.append(f"the answers carry {', '.join(shown) or 'no generation parameter'}")
    if missing:
        parts.append(f"never {', '.join(missing)}")
    parts.append(", ".join(f"{n} filled in {k} of {count}" for n, k in filled.items()))
    if unmodeled:
        parts.append(f"fields packsync does not model: {', '.join(unmodeled)}")
    data = {
        "sampled": count,
        "packs": list(packs),
        "fields": fields,
        "params_shown": shown,
        "params_missing": missing,
        "params_set": {n: k for n, k in used.items() if k},
        "account_filled": filled,
        "unmodeled": unmodeled,
    }
    return Finding("prompt-object", "; ".join(parts), data=data)


# The documented and client-read prompt fields that are not generation parameters (A5).
_PROMPT_METADATA = frozenset(
    {
        "id", "callback", "text", "trained_at", "started_training_at", "created_at", "updated_at", "tune_id",
        "url", "images", "user_error", "cost_mc", "pack_id", "base_pack_id", "orig_prompt_id", "order_id",
    }
)  # fmt: skip
