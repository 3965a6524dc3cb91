"""Carrying out a plan: packs first, then each pack's new templates, then (only when all of
those exist) the templates it no longer wants.

What each create sent is recorded for the target (``astria.echo``), so that parameters the
account does not show back can still be compared later. Crash safety does not rest on that
record but on matching: a template is matched by its content, so whatever an interrupted apply managed to create
is found by the next plan and not created again, and the old template of a
replace is removed only after the new one exists. A create whose answer was
lost (504, timeout, reset) is never sent again in the same run; the pack is
read back to find out whether it happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from packsync.aio import gather_all
from packsync.apply.converge import Declared
from packsync.astria.client import AstriaClient
from packsync.astria.errors import ApiError, NotFound, OutcomeUnknown
from packsync.astria.objects import LiveTemplate
from packsync.astria.settings import LOST_ANSWER_WAITS
from packsync.desired.identity import canonical_params, canonical_text
from packsync.desired.state import DesiredPack
from packsync.packfiles.project import Policy
from packsync.plan.diff import create_pack_body, pack_fingerprint, template_fingerprint
from packsync.plan.model import Change, PackPlan, Plan, Source, TemplateSpec
from packsync.plan.observe import Observation, find_match, shown_content


async def settle(look: Callable[[], Awaitable[bool]], waits: Sequence[float]) -> bool:
    """Ask ``look`` at each of ``waits`` (seconds from now) until it answers True; False after the last."""
    waited = 0.0
    for mark in waits:
        await asyncio.sleep(max(0.0, mark - waited))
        waited = max(waited, mark)
        if await look():
            return True
    return False


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
    def __init__(
        self,
        client: AstriaClient,
        plan: Plan,
        on_remove: str,
        progress: Progress | None = None,
        observation: Observation | None = None,
        lost_waits: Sequence[float] = LOST_ANSWER_WAITS,
    ) -> None:
        self.client = client
        self.plan = plan
        self.on_remove = on_remove
        self.progress = progress or (lambda result: None)
        self.observation = observation or Observation()
        self.lost_waits = tuple(lost_waits)
        self.report = ApplyReport()
        self._answered: set[Any] = set()  # ids the creates of this apply were answered with
        self.created: dict[int, dict[str, Any]] = {}  # id -> the body it was created with, this apply
        self.pack_ids: dict[str, int] = {}  # slug -> id of each pack this apply wrote to
        self.declared: dict[int, Declared] = {}  # id -> what the files say of each template this apply created

    def _sent(self, template_id: int, body: dict[str, Any], pack: PackPlan, spec: TemplateSpec) -> None:
        """A template this apply created: what was sent to it is recorded (and saved by the caller)."""
        self.created[template_id] = body
        self.declared[template_id] = Declared(pack.slug, spec.key, spec.class_name, spec.source)
        self.observation.state.record(template_id, body)

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
        self.pack_ids[pack.slug] = pack_id
        adds = [c for c in pack.applicable if c.create is not None]
        first: list[Change] = []
        if self.on_remove == "delete":
            # Astria dedups (text, seed) on a tune: a new version with the old one's text and seed would
            # be answered with the old one. It is deleted first (the pack lacks it for a moment).
            first = [c for c in adds if same_text_and_seed(c)]
            deleted = await gather_all(*(self._remove(pack, pack_id, c) for c in first))
            for change, ok in zip(first, deleted, strict=True):
                if not ok:
                    adds.remove(change)
                    self._skipped(pack, change, "its old version, which has the same text and seed, was not deleted")
        outcomes = await gather_all(*(self._create(pack, pack_id, c) for c in adds))
        unknown = [c for c, outcome in zip(adds, outcomes, strict=True) if outcome == "unknown"]
        failed = [c for c, outcome in zip(adds, outcomes, strict=True) if outcome == "failed"]
        if unknown:
            failed += await self._reconcile(pack, pack_id, unknown)
        drops = [c for c in pack.applicable if c.remove is not None and c not in first]
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
        title, base, model_type = str(body.pop("title")), int(body.pop("base_tune_id")), body.pop("model_type")
        created: dict[str, Any] | None = None
        try:
            for attempt in (1, 2):
                try:
                    created = await self.client.create_pack(title, base, model_type, **body)
                    break
                except OutcomeUnknown:
                    # Packs cannot be deleted through the API: look for it on the whole lost-answer
                    # schedule before sending again, and send again only once (A7).
                    created = await self._await_pack(pack)
                    if created is not None:
                        break
                    if attempt == 2:
                        why = (
                            "the answer was lost twice and the pack has not appeared; it may still land: "
                            "plan again in a few minutes"
                        )
                        self._failed(pack, what, why, source)
                        return None
        except NotFound:
            why = "pack creation is not available on this account (POST /packs answered 404)"
            self._failed(pack, what, why, source)
            return None
        except ApiError as exc:
            self._failed(pack, what, exc, source)
            return None
        assert created is not None
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

    async def _await_pack(self, pack: PackPlan) -> dict[str, Any] | None:
        """The pack whose create was answered ambiguously, once it shows on the lost-answer schedule."""
        found: dict[str, Any] | None = None

        async def look() -> bool:
            nonlocal found
            try:
                found = await self._find_pack(pack)
            except ApiError:
                return False
            return found is not None

        await settle(look, self.lost_waits)
        return found

    async def _find_pack(self, pack: PackPlan) -> dict[str, Any] | None:
        return await find_owned_pack(self.client, pack.slug, pack.title)

    async def _create(self, pack: PackPlan, pack_id: int, change: Change) -> str:
        spec = change.create
        assert spec is not None
        what = describe(change)
        started = datetime.now(timezone.utc)
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
        known = pack.live_fingerprints.keys() | self._answered
        wrong = not_as_asked(spec, created, known, self.observation, started)
        self._answered.add(answered)
        if wrong is not None and isinstance(answered, int) and answered not in known and owner == pack_id:
            # a new template of this pack, all the same, that the account shows otherwise than it was
            # sent: the check after the apply names what did not stick instead of creating it again
            self.created[answered] = spec.body(pack_id)
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
        self._sent(int(created["id"]), spec.body(pack_id), pack, spec)
        self._done(pack, f"{what} #{created['id']}", spec.source)
        return "ok"

    async def _reconcile(self, pack: PackPlan, pack_id: int, changes: Sequence[Change]) -> list[Change]:
        """Find out, by reading the pack on the lost-answer schedule, which creates whose answer was
        lost did happen; send the others once more; the changes that failed in the end."""
        pending = list(changes)
        # a template the plan read, or another create of this apply was answered with, is not this one
        claimed = set(pack.live_fingerprints) | {int(i) for i in self._answered if isinstance(i, int)}
        unread: ApiError | None = None

        async def look() -> bool:
            nonlocal unread
            try:
                live = await self.client.pack_templates(pack_id)
            except ApiError as exc:
                unread = exc
                return False
            unread = None
            for change in list(pending):
                spec = change.create
                assert spec is not None
                match = find_match(spec.text, spec.params, live, self.observation, claimed)
                if match is not None:
                    found = match.id
                    claimed.add(found)
                    pending.remove(change)
                    self._sent(found, spec.body(pack_id), pack, spec)
                    self._done(pack, f"{describe(change)} #{found} (confirmed by reading)", spec.source)
            return not pending

        if await settle(look, self.lost_waits) or not pending:
            return []
        if unread is not None:
            for change in pending:
                why = f"outcome unknown and the pack cannot be read: {unread}"
                self._failed(pack, describe(change), why, change.source)
            return pending
        # Not there after the whole wait: the write did not happen. Sent once more, never twice; a
        # second lost answer is looked for on the same schedule before the change is given up.
        sent_again = list(pending)
        outcomes = await gather_all(*(self._create(pack, pack_id, c) for c in sent_again))
        failed = [c for c, outcome in zip(sent_again, outcomes, strict=True) if outcome == "failed"]
        pending[:] = [c for c, outcome in zip(sent_again, outcomes, strict=True) if outcome == "unknown"]
        if pending and not await settle(look, self.lost_waits):
            for change in pending:
                why = "the answer was lost twice; the template may still land: plan again in a few minutes"
                self._failed(pack, describe(change), why, change.source)
            failed += pending
        return failed

    async def _remove(self, pack: PackPlan, pack_id: int, change: Change) -> bool:
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
            return False
        paired = change.create if change.kind == "replace" else None  # the key whose new version replaced it
        self.observation.state.retire(ref.id, ref.text, *((pack.slug, paired.key, paired.class_name) if paired else ()))
        if change.kind == "remove":
            self._done(pack, f"{label} ({'deleted' if self.on_remove == 'delete' else 'detached'})", None)
        return True


def same_text_and_seed(change: Change) -> bool:
    """Whether a replace's new version has its old one's text and seed: one prompt to Astria."""
    spec, ref = change.create, change.remove
    if change.kind != "replace" or spec is None or ref is None:
        return False
    return canonical_text(spec.text) == canonical_text(ref.text) and dict(canonical_params(dict(spec.params))).get(
        "seed"
    ) == dict(canonical_params(dict(ref.params))).get("seed")


def not_as_asked(
    spec: TemplateSpec,
    answer: Mapping[str, Any],
    known: Container[int],
    observation: Observation | None = None,
    started: datetime | None = None,
) -> str | None:
    """Why the answer to a create is not the new template asked for; None when it is.

    With the account's idempotency on, Astria answers a create with an existing template whose
    attributes on its idempotency list match, whatever the others (``style``,
    ``aspect_ratio``, ...) say. Such an answer is an id the plan already read, or a text or a
    parameter other than the one sent. A parameter the answer leaves out proves nothing (the
    API echoes few of them), and neither does one the request left to its default (the
    account's settings may fill it). An answer created well before the request (``started``,
    allowing for clock skew) is an existing prompt too.
    """
    tid = answer.get("id")
    if tid in known:
        return (
            f"the account answered with its existing template #{tid} instead of creating a new one: Astria "
            "takes a prompt with the same text and seed on the same tune for the same prompt (and, with the "
            "account's idempotency on, one that differs only in parameters outside its idempotency list: style, "
            "aspect_ratio, resolution, ...), so this change cannot be made on this account as it is; give the "
            "prompt a distinct seed or change its text, or let apply delete the old version first "
            "(policy.on_remove: delete)"
        )
    created_at = _timestamp(answer.get("created_at"))
    if created_at is not None and started is not None and created_at < started - CLOCK_SKEW:
        return (
            f"the account answered with template #{tid}, created at {answer.get('created_at')}, before this "
            "request: an existing prompt with the same text and seed (collides with it: give the prompt a "
            "distinct seed); it was not counted"
        )
    if canonical_text(str(answer.get("text") or "")) != canonical_text(spec.text):
        return f"the account answered with template #{tid}, whose text is not the one sent; it was not counted"
    sent = dict(canonical_params(dict(spec.params)))
    echoed = dict(canonical_params(answer))
    profile = (observation or Observation()).profile
    differ = [
        name
        for name in sent
        if answer.get(name) is not None and echoed.get(name) not in (sent[name], profile.expected(name, sent[name]))
    ]
    if differ:
        return (
            f"the account answered with template #{tid}, whose {', '.join(differ)} is not what was sent "
            "(an idempotent replay of another template?); it was not counted"
        )
    return None


CLOCK_SKEW = timedelta(minutes=5)  # how far the server's clock may be behind ours


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time from the account, if it is one (with a zone; none: UTC)."""
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=timezone.utc)


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
    # each class's POST tune as the files say now (A9: the base model, or the class's reference tune)
    posts = {t.class_name: t.tune_id for t in desired.templates}
    for change in pack.applicable:
        spec = change.create
        if spec is not None and posts.get(spec.class_name) != spec.tune_id:
            where = (
                f" (it creates class {spec.class_name!r}'s templates on tune {posts[spec.class_name]})"
                if spec.class_name in posts
                else ""
            )
            found.refused.append(
                f"pack {pack.slug}: the plan creates a template on tune {spec.tune_id} as class "
                f"{spec.class_name!r}, which {desired.pack.path} does not declare{where}"
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
    live = {t.id: t for t in templates}
    removed = {c.remove.id for c in pack.applicable if c.remove is not None}
    for tid in sorted(removed - set(live)):
        found.refused.append(f"pack {pack.slug}: the plan removes #{tid}, which is not a template of this pack")
    for tid in sorted(removed - set(pack.live_fingerprints)):
        found.refused.append(f"pack {pack.slug}: the plan removes #{tid}, which it never read")
    pack.live_count = len(templates)
    staying = [live[tid] for tid in sorted(set(live) - removed)]
    for index, change in enumerate(pack.changes):
        if change.kind == "remove" and change.remove is not None and change.remove.id in live:
            this = live[change.remove.id]
            twin = next((t for t in staying if shown_content(t) == shown_content(this)), None)
            reason = f"duplicate of #{twin.id}" if twin is not None else "not in the files"
            pack.changes[index] = replace(change, reason=reason)
    return found


def _stale_pack(pack: PackPlan, templates: Sequence[LiveTemplate]) -> list[str]:
    """What changed in one existing pack since the plan read it, template by template."""
    assert pack.live_id is not None
    if pack_fingerprint({"id": pack.live_id, "slug": pack.slug}, templates) == pack.pack_fingerprint:
        return []
    now = {t.id: template_fingerprint(t) for t in templates}
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


async def verify_saved(client: AstriaClient, plan: Plan, observation: Observation | None = None) -> list[str]:
    """What of a saved plan's changes is not in effect on the account."""

    async def check(pack: PackPlan) -> list[str]:
        pack_id = pack.live_id
        if pack_id is None:
            found = await find_owned_pack(client, pack.slug, pack.title)
            if found is None:
                return [f"pack {pack.slug} does not exist"]
            pack_id = int(found["id"])
        templates = await client.pack_templates(pack_id)
        ids = {t.id for t in templates}
        missing = []
        for change in pack.applicable:
            spec = change.create
            if spec is not None and find_match(spec.text, spec.params, templates, observation) is None:
                missing.append(f"{spec.source}: {pack.slug}: {describe(change)} is not on the pack")
            if change.remove is not None and change.remove.id in ids:
                missing.append(f"{pack.slug}: #{change.remove.id} is still on the pack")
        return missing

    results = await gather_all(*(check(p) for p in plan.packs if p.needs_applying))
    return [line for lines in results for line in lines]
