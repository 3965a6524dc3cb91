"""Carrying out a plan: packs first, then each pack's new templates, then (only when all of
those exist) the templates it no longer wants.

Crash safety comes from the identity rules, not from a state file: a template
is matched by its content, so whatever an interrupted apply managed to create
is found by the next plan and not created again, and the old template of a
replace is removed only after the new one exists. A create whose answer was
lost (504, timeout, reset) is never sent again in the same run; the pack is
read back to find out whether it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from packsync.aio import gather_all
from packsync.astria.client import AstriaClient
from packsync.astria.errors import ApiError, NotFound, OutcomeUnknown
from packsync.desired.identity import canonical_params, canonical_text, identity
from packsync.desired.state import DesiredPack
from packsync.packfiles.project import Policy
from packsync.plan.diff import create_pack_body, pack_fingerprint, template_fingerprint
from packsync.plan.model import Change, PackPlan, Plan, Source, TemplateSpec


@dataclass
class Result:
    """What became of one change."""

    pack: str
    description: str
    ok: bool
    error: str = ""
    source: Source | None = None
    skipped: bool = False


@dataclass
class ApplyReport:
    results: list[Result] = field(default_factory=list)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    @property
    def done(self) -> int:
        return sum(1 for r in self.results if r.ok)


Progress = Callable[[Result], None]


def describe(change: Change) -> str:
    if change.kind == "remove" and change.remove is not None:
        return f"remove [{change.remove.class_name}] #{change.remove.id}"
    spec = change.create
    assert spec is not None
    if change.kind == "replace" and change.remove is not None:
        return f"replace [{spec.class_name}] {spec.key} (#{change.remove.id})"
    return f"create [{spec.class_name}] {spec.key}"


class Applier:
    def __init__(self, client: AstriaClient, plan: Plan, on_remove: str, progress: Progress | None = None) -> None:
        self.client = client
        self.plan = plan
        self.on_remove = on_remove
        self.progress = progress or (lambda result: None)
        self.report = ApplyReport()
        self._answered: set[Any] = set()  # ids the creates of this apply were answered with

    # What became of each change: recorded once, here, and shown as it happens.
    def _record(self, result: Result) -> None:
        self.report.results.append(result)
        self.progress(result)

    def _done(self, pack: PackPlan, what: str, source: Source | None) -> None:
        self._record(Result(pack.slug, what, True, source=source))

    def _failed(self, pack: PackPlan, what: str, why: object, source: Source | None) -> None:
        self._record(Result(pack.slug, what, False, str(why), source))

    def _skipped(self, pack: PackPlan, change: Change, why: str) -> None:
        self._record(Result(pack.slug, describe(change), False, f"skipped: {why}", change.source, skipped=True))

    async def run(self) -> ApplyReport:
        await gather_all(*(self._pack(p) for p in self.plan.packs if p.needs_applying))
        return self.report

    async def _pack(self, pack: PackPlan) -> None:
        pack_id = pack.live_id
        if pack.create_pack is not None:
            pack_id = await self._create_pack(pack)
            if pack_id is None:
                for change in pack.applicable:
                    self._skipped(pack, change, "the pack was not created")
                return
        assert pack_id is not None
        adds = [c for c in pack.applicable if c.create is not None]
        outcomes = await gather_all(*(self._create(pack, pack_id, c) for c in adds))
        unknown = [c for c, outcome in zip(adds, outcomes, strict=True) if outcome == "unknown"]
        failed = [c for c, outcome in zip(adds, outcomes, strict=True) if outcome == "failed"]
        if unknown:
            failed += await self._reconcile(pack, pack_id, unknown)
        drops = [c for c in pack.applicable if c.remove is not None]
        if failed:
            # Never take templates off a pack whose new ones are not all there.
            for change in drops:
                if change.kind == "remove":
                    self._skipped(pack, change, "not every new template of this pack could be created")
            return
        await gather_all(*(self._remove(pack, pack_id, c) for c in drops))

    async def _create_pack(self, pack: PackPlan) -> int | None:
        body = dict(pack.create_pack or {})
        source = Source(pack.file, 1)
        what = f"create pack {pack.slug}"
        try:
            created = await self.client.create_pack(
                str(body.pop("title")), int(body.pop("base_tune_id")), body.pop("model_type"), **body
            )
        except OutcomeUnknown:
            found = await self._find_pack(pack)
            if found is None:
                self._failed(pack, what, "the answer was lost and the pack is not there", source)
                return None
            created = found
        except NotFound:
            why = "pack creation is not available on this account (POST /packs answered 404)"
            self._failed(pack, what, why, source)
            return None
        except ApiError as exc:
            self._failed(pack, what, exc, source)
            return None
        slug = str(created.get("slug", ""))
        if slug != pack.slug:
            # A slug is a lookup key, not a promise (global slugs: taken ones get a suffix; the
            # server's transliteration may differ). The pack exists now and cannot be deleted
            # through the API: adopt it by id and go on, never create another.
            named = (
                f"{what} #{created['id']} (the server named it {slug!r}: pin it with "
                f"`id: {created['id']}` in {pack.file}; until then it is found by its title)"
            )
            self._done(pack, named, source)
            return int(created["id"])
        self._done(pack, f"{what} #{created['id']}", source)
        return int(created["id"])

    async def _find_pack(self, pack: PackPlan) -> dict[str, Any] | None:
        return await find_owned_pack(self.client, pack.slug, pack.title)

    async def _create(self, pack: PackPlan, pack_id: int, change: Change) -> str:
        spec = change.create
        assert spec is not None
        what = describe(change)
        try:
            created = await self.client.create_prompt(spec.tune_id, spec.body(pack_id))
        except OutcomeUnknown:
            return "unknown"
        except ApiError as exc:
            self._failed(pack, what, exc, spec.source)
            return "failed"
        owner = created.get("pack_id")
        if owner is not None and owner != pack_id:
            # With the account's idempotency on, an identical prompt comes back whatever its pack.
            why = (
                f"the account's idempotency returned template #{created['id']} of pack #{owner} instead of a "
                "new one: two packs cannot hold identical templates while idempotency is on (change the seed "
                "of one of them)"
            )
            self._failed(pack, what, why, spec.source)
            return "failed"
        answered = created.get("id")
        wrong = not_as_asked(spec, created, pack.live_fingerprints.keys() | self._answered)
        self._answered.add(answered)
        if wrong is not None:
            # Never counted as created: the old template it may be is then never removed.
            self._failed(pack, what, wrong, spec.source)
            return "failed"
        if owner is None:
            # A detached identical prompt, returned by idempotency: attach it again.
            try:
                await self.client.set_prompt_pack(int(created["id"]), pack_id, base_pack_id=None, orig_prompt_id=None)
            except ApiError as exc:
                self._failed(pack, what, f"attaching #{created['id']}: {exc}", spec.source)
                return "failed"
        self._done(pack, f"{what} #{created['id']}", spec.source)
        return "ok"

    async def _reconcile(self, pack: PackPlan, pack_id: int, changes: Sequence[Change]) -> list[Change]:
        """Find out, by reading the pack, which creates whose answer was lost did happen."""
        try:
            live = await self.client.pack_templates(pack_id)
        except ApiError as exc:
            for change in changes:
                self._failed(
                    pack, describe(change), f"outcome unknown and the pack cannot be read: {exc}", change.source
                )
            return list(changes)
        present: dict[tuple[Any, ...], int] = {}
        for template in live:
            present.setdefault(identity(str(template.get("text") or ""), template), int(template["id"]))
        failed = []
        for change in changes:
            spec = change.create
            assert spec is not None
            found = present.get(identity(spec.text, dict(spec.params)))
            if found is not None:
                self._done(pack, f"{describe(change)} #{found} (confirmed by reading)", spec.source)
            else:
                failed.append(change)
                why = "the answer was lost and the template is not on the pack; run apply again to create it"
                self._failed(pack, describe(change), why, spec.source)
        return failed

    async def _remove(self, pack: PackPlan, pack_id: int, change: Change) -> None:
        ref = change.remove
        assert ref is not None
        label = describe(change) if change.kind == "remove" else f"remove old #{ref.id} of {change.key}"
        try:
            if self.on_remove == "delete":
                await self.client.delete_prompt(ref.id)
            else:
                await self.client.set_prompt_pack(ref.id, None, base_pack_id=pack_id)
        except NotFound:
            pass  # already gone: the goal is met
        except ApiError as exc:
            self._failed(pack, label, exc, change.source or (change.create.source if change.create else None))
            return
        if change.kind == "remove":
            self._done(pack, f"{label} ({'deleted' if self.on_remove == 'delete' else 'detached'})", None)


def not_as_asked(spec: TemplateSpec, answer: Mapping[str, Any], known: Container[int]) -> str | None:
    """Why the answer to a create is not the new template asked for; None when it is.

    With the account's idempotency on, Astria answers a create with an existing template whose
    attributes on its idempotency list match, whatever the others (``style``,
    ``aspect_ratio``, ...) say. Such an answer is an id the plan already read, or a text or a
    parameter other than the one sent. A parameter the answer leaves out proves nothing (the
    API echoes few of them), and neither does one the request left to its default (the
    account's settings may fill it).
    """
    tid = answer.get("id")
    if tid in known:
        return (
            f"the account answered with its existing template #{tid} instead of creating a new one: with the "
            "account's idempotency on, Astria takes templates that differ only in parameters outside its "
            "idempotency list (style, aspect_ratio, color_grading, film_grain, resolution, ...) for the same "
            "template, so this change cannot be made on this account; change the text or seed as well, or "
            "turn idempotency off"
        )
    if canonical_text(str(answer.get("text") or "")) != canonical_text(spec.text):
        return f"the account answered with template #{tid}, whose text is not the one sent; it was not counted"
    sent = dict(canonical_params(dict(spec.params)))
    echoed = dict(canonical_params(answer))
    differ = [name for name in sent if answer.get(name) is not None and echoed.get(name) != sent[name]]
    if differ:
        return (
            f"the account answered with template #{tid}, whose {', '.join(differ)} is not what was sent "
            "(an idempotent replay of another template?); it was not counted"
        )
    return None


@dataclass
class SavedPlanCheck:
    """What re-reading the account says of a saved plan: what changed since it was made
    (stale), and what it asks for that the files, the account or the policy do not allow."""

    stale: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


async def recheck_saved(
    client: AstriaClient, plan: Plan, declared: Sequence[DesiredPack], policy: Policy
) -> SavedPlanCheck:
    """Check a saved plan against the pack files, the account and the policy, and overwrite
    what the plan file merely claims with what they say.

    A plan file is data, not orders: every pack it touches must be declared by a file and be
    that file's pack on the account; every template it creates must be on one of that pack's
    class tunes; every template it removes must be on that pack now, among the ones the plan
    fingerprinted; ``on_remove`` must be the policy's. The live count, ``protect``, the desired
    count and which removes are duplicates are taken from the account and the files, not
    the file, so that the safety limits evaluated afterwards are the real ones.
    """
    check = SavedPlanCheck()
    if plan.on_remove != policy.on_remove:
        check.refused.append(
            f"the plan would {plan.on_remove} removed templates, but the policy says on_remove: {policy.on_remove}"
        )
    by_slug = {d.slug: d for d in declared}

    touched = [p for p in plan.packs if p.has_changes]
    for found in await gather_all(*(_recheck_pack(client, plan, p, by_slug.get(p.slug)) for p in touched)):
        check.stale += found.stale
        check.refused += found.refused
    return check


async def _recheck_pack(
    client: AstriaClient, plan: Plan, pack: PackPlan, desired: DesiredPack | None
) -> SavedPlanCheck:
    """:func:`recheck_saved` for one pack of the plan."""
    found = SavedPlanCheck()
    if desired is None:
        found.refused.append(f"pack {pack.slug}: no pack file declares it")
        return found
    tunes = {(t.class_name, t.tune_id) for t in desired.templates}
    for change in pack.applicable:
        spec = change.create
        if spec is not None and (spec.class_name, spec.tune_id) not in tunes:
            found.refused.append(
                f"pack {pack.slug}: the plan creates a template on tune {spec.tune_id} as class "
                f"{spec.class_name!r}, which {desired.pack.path} does not declare"
            )
    pack.protect = desired.pack.protect
    pack.desired_count = len(desired.templates)
    if pack.live_id is None:
        if pack.create_pack is None or dict(pack.create_pack) != create_pack_body(desired):
            found.refused.append(f"pack {pack.slug}: the pack to create is not the one {desired.pack.path} declares")
        if any(c.remove is not None for c in pack.applicable):
            found.refused.append(f"pack {pack.slug}: the plan removes templates from a pack it creates")
        found.stale += await stale_objects(client, Plan(target=plan.target, packs=[pack]))
        return found
    if pack.create_pack is not None:
        found.refused.append(f"pack {pack.slug}: the plan both creates the pack and names #{pack.live_id}")
    pinned = desired.pack.id
    if pinned is not None and pinned != pack.live_id:
        found.refused.append(f"pack {pack.slug}: the plan names #{pack.live_id}; {desired.pack.path} pins #{pinned}")
        return found
    try:
        summary = await client.get_pack(pack.live_id)
    except NotFound:
        found.stale.append(f"pack {pack.slug} #{pack.live_id}: no longer on the account")
        return found
    if pinned is None and summary.get("slug") != pack.slug and summary.get("title") != desired.pack.title:
        found.refused.append(
            f"pack {pack.slug}: the plan names #{pack.live_id}, which is pack {summary.get('slug')!r} on the account"
        )
        return found
    templates = await client.pack_templates(pack.live_id)
    found.stale += _stale_pack(pack, templates)
    live = {int(t["id"]): t for t in templates}
    removed = {c.remove.id for c in pack.applicable if c.remove is not None}
    for tid in sorted(removed - set(live)):
        found.refused.append(f"pack {pack.slug}: the plan removes #{tid}, which is not a template of this pack")
    for tid in sorted(removed - set(pack.live_fingerprints)):
        found.refused.append(f"pack {pack.slug}: the plan removes #{tid}, which it never read")
    pack.live_count = len(templates)
    staying: dict[Any, int] = {}
    for tid in sorted(set(live) - removed):
        staying.setdefault(identity(str(live[tid].get("text") or ""), live[tid]), tid)
    for index, change in enumerate(pack.changes):
        if change.kind == "remove" and change.remove is not None and change.remove.id in live:
            twin = staying.get(identity(str(live[change.remove.id].get("text") or ""), live[change.remove.id]))
            reason = f"duplicate of #{twin}" if twin is not None else "not in the files"
            pack.changes[index] = replace(change, reason=reason)
    return found


def _stale_pack(pack: PackPlan, templates: Sequence[dict[str, Any]]) -> list[str]:
    """What changed in one existing pack since the plan read it, template by template."""
    assert pack.live_id is not None
    if pack_fingerprint({"id": pack.live_id, "slug": pack.slug}, templates) == pack.pack_fingerprint:
        return []
    now = {int(t["id"]): template_fingerprint(t) for t in templates}
    found = []
    before = pack.live_fingerprints
    for tid in sorted(set(before) | set(now)):
        if tid not in now:
            found.append(f"pack {pack.slug}: template #{tid} is gone")
        elif tid not in before:
            found.append(f"pack {pack.slug}: template #{tid} is new")
        elif before[tid] != now[tid]:
            found.append(f"pack {pack.slug}: template #{tid} changed")
    return found or [f"pack {pack.slug}: changed since the plan was made"]


async def find_owned_pack(client: AstriaClient, slug: str, title: str) -> dict[str, Any] | None:
    """The account's own pack with this slug, else the newest with this exact title.

    The title is the fallback because the server, not the files, names a pack: a slug that was
    taken (slugs are global) or transliterated otherwise gives the new pack another one.
    """
    by_title = None
    async for summary in client.iter_packs():
        if summary.get("slug") == slug:
            return summary
        if summary.get("title") == title and (by_title is None or int(summary["id"]) > int(by_title["id"])):
            by_title = summary
    return by_title


async def stale_objects(client: AstriaClient, plan: Plan) -> list[str]:
    """What changed on the account since a saved plan was made, object by object."""
    problems: list[str] = []
    touched = [p for p in plan.packs if p.has_changes]

    async def check(pack: PackPlan) -> list[str]:
        if pack.live_id is None:
            summary = await find_owned_pack(client, pack.slug, pack.title)
            if summary is not None:
                return [f"pack {pack.slug}: created on the account (#{summary.get('id')}) since the plan was made"]
            return []
        try:
            templates = await client.pack_templates(pack.live_id)
        except NotFound:
            return [f"pack {pack.slug} #{pack.live_id}: no longer on the account"]
        return _stale_pack(pack, templates)

    for found in await gather_all(*(check(p) for p in touched)):
        problems.extend(found)
    return problems


async def verify_saved(client: AstriaClient, plan: Plan) -> list[str]:
    """What of a saved plan's changes is not in effect on the account."""

    async def check(pack: PackPlan) -> list[str]:
        pack_id = pack.live_id
        if pack_id is None:
            found = await find_owned_pack(client, pack.slug, pack.title)
            if found is None:
                return [f"pack {pack.slug} does not exist"]
            pack_id = int(found["id"])
        templates = await client.pack_templates(pack_id)
        present = {identity(str(t.get("text") or ""), t) for t in templates}
        ids = {int(t["id"]) for t in templates}
        missing = []
        for change in pack.applicable:
            if change.create is not None and identity(change.create.text, dict(change.create.params)) not in present:
                missing.append(f"{change.create.source}: {pack.slug}: {describe(change)} is not on the pack")
            if change.remove is not None and change.remove.id in ids:
                missing.append(f"{pack.slug}: #{change.remove.id} is still on the pack")
        return missing

    results = await gather_all(*(check(p) for p in plan.packs if p.needs_applying))
    return [line for lines in results for line in lines]
