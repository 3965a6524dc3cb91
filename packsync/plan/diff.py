"""Desired state + live state -> plan. Pure: no network, no files.

Templates are matched on what the account shows of them (``observe``: the text,
and the parameters the account echoes or the record of what was sent); a
template's ``key`` is never on the server, so an edited prompt shows up as a
create and a remove, which are then paired into one *replace* for display:
first by the same text apart from its tune tag (a changed reference tune or
weight), then by the same text (changed parameters), then by word similarity.
"""

from __future__ import annotations

import difflib
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from packsync.astria.objects import LiveTemplate, parse_templates
from packsync.desired.expand import Template
from packsync.desired.identity import canonical_params, canonical_value, fingerprint, tagged_tune
from packsync.desired.state import DesiredPack
from packsync.facts import ACCOUNT_FILLED, TUNE_TAG_RE
from packsync.packfiles.project import Policy
from packsync.plan.model import Change, LiveRef, PackPlan, Plan, Refusal, Source, TemplateSpec
from packsync.plan.observe import Observation, match_templates

SIMILARITY = 0.5
MAX_SIMILARITY_PAIRS = 40_000  # creates x removes beyond which only exact pairing is tried


@dataclass(frozen=True)
class LiveState:
    """What the account holds for one declared pack (None: it does not exist)."""

    summary: dict[str, Any] | None
    templates: Sequence[LiveTemplate] = ()  # raw answers given here are parsed into live templates
    detail: dict[str, Any] | None = None
    taken_by: Mapping[str, Any] | None = None  # for a pack to create: another user's pack that has its slug

    def __post_init__(self) -> None:
        if not all(isinstance(t, LiveTemplate) for t in self.templates):
            object.__setattr__(self, "templates", parse_templates(list(self.templates), "the live state"))


def live_ref(template: LiveTemplate, classes: Mapping[int, str], seen: Observation | None = None) -> LiveRef:
    text = template.text
    sent = None if seen is None else seen.record(template)
    if sent is not None:
        params = canonical_params(sent.params)  # what was sent: what the account shows of it is less
    else:
        params = canonical_params({k: v for k, v in template.items() if k not in ACCOUNT_FILLED})
    tune = tagged_tune(text)
    return LiveRef(
        id=template.id,
        class_name=classes.get(tune, "?") if tune is not None else "?",
        text=text,
        params=params,
        fingerprint=template_fingerprint(template),
    )


def template_fingerprint(template: Mapping[str, Any]) -> str:
    """Changes when anything that matters about a live template changes."""
    return fingerprint(
        {
            "id": template.get("id"),
            "text": template.get("text"),
            "pack_id": template.get("pack_id"),
            "tune_id": template.get("tune_id"),
            "params": canonical_params(template),
        }
    )


def pack_fingerprint(summary: Mapping[str, Any] | None, templates: Iterable[Mapping[str, Any]]) -> str:
    return _pack_fingerprint(summary, (template_fingerprint(t) for t in templates))


def _pack_fingerprint(summary: Mapping[str, Any] | None, template_fingerprints: Iterable[str]) -> str:
    """:func:`pack_fingerprint` from the templates' fingerprints (when they are at hand already)."""
    if summary is None:
        return fingerprint({"absent": True})
    return fingerprint({"id": summary.get("id"), "templates": sorted(template_fingerprints)})


def _spec(template: Template) -> TemplateSpec:
    return TemplateSpec(
        class_name=template.class_name,
        tune_id=template.tune_id,
        key=template.key,
        text=template.text,
        params=template.params,
        source=Source(template.location.path, template.location.line),
    )


def _without_tag(text: str) -> str:
    # NUL stands for each tag: no pack file's text can hold one (text-control-character)
    return TUNE_TAG_RE.sub("\0", text)


def _whole(value: Any) -> int | None:
    """A count or an amount from the account, if it is one (7, 7.0, "7"); else None."""
    value = canonical_value("num_images", value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _price(templates: Sequence[Mapping[str, Any]]) -> int | None:
    """Millicents per image over the pack's live templates; None when not known (no templates,
    or an answer whose cost or image count is not a number: NaN, a string, ...)."""
    costs = [_whole(t.get("cost_mc", 0)) for t in templates]
    images = [_whole(t.get("num_images", 1)) for t in templates]
    if not templates or None in costs or None in images:
        return None
    total = sum(i for i in images if i is not None)
    return round(sum(c for c in costs if c is not None) / total) if total else None


def create_pack_body(desired: DesiredPack) -> dict[str, Any]:
    pack = desired.pack
    body: dict[str, Any] = {
        "title": pack.title,
        "base_tune_id": pack.model.base_tune_id,
        "model_type": pack.model.wire_model_type,  # a checkpoint's is null
        "token": pack.model.token,
    }
    if pack.subtitle is not None:
        body["subtitle"] = pack.subtitle
    if pack.model.preset is not None:
        # Not known to be accepted by the real API; if it is ignored, the next plan shows a manual change.
        body["preset"] = pack.model.preset
    return body


def _manual_changes(desired: DesiredPack, live: LiveState) -> list[Change]:
    pack = desired.pack
    summary = live.summary or {}
    detail = live.detail or {}
    source = Source(pack.path, pack.location.line)
    # (field, where the server reports it, its name there, what the files say); a field the
    # server does not report at all cannot be compared and is left alone.
    fields: list[tuple[str, dict[str, Any], str, Any]] = [
        ("title", summary, "title", pack.title),
        ("model.base_tune_id", summary, "base_tune_id", pack.model.base_tune_id),
        ("model.model_type", summary, "model_type", pack.model.wire_model_type),
    ]
    if pack.model.kind.uses_token:  # a faceid pack's templates never write the token
        fields.append(("model.token", summary, "token", pack.model.token))
    if pack.subtitle is not None:
        fields.append(("subtitle", summary if "subtitle" in summary else detail, "subtitle", pack.subtitle))
    if pack.model.preset is not None:
        fields.append(("model.preset", detail, "preset", pack.model.preset))
    return [
        Change(kind="manual", field=name, live_value=where[key], desired_value=want, source=source)
        for name, where, key, want in fields
        if key in where and where[key] != want
    ]


def unreadable_fields(desired: DesiredPack, live: LiveState) -> list[str]:
    """The pack fields the files set that the account does not report, so that no plan can change them."""
    pack = desired.pack
    if live.summary is None:
        return []
    seen = {**(live.detail or {}), **live.summary}
    wanted = [("subtitle", "subtitle", pack.subtitle), ("model.preset", "preset", pack.model.preset)]
    return [name for name, key, want in wanted if want is not None and key not in seen]


def _pair(creates: list[Template], removes: list[LiveRef]) -> tuple[list[Change], list[Template], list[LiveRef]]:
    """Pair creates with removes of the same class into replaces."""
    pairs: list[Change] = []
    left_creates = list(creates)
    left_removes = list(removes)

    def take(matcher: Any) -> None:
        for create in list(left_creates):
            match = matcher(create)
            if match is not None:
                left_creates.remove(create)
                left_removes.remove(match)
                pairs.append(Change(kind="replace", create=_spec(create), remove=match, reason="changed in the files"))

    for key_of in (lambda t: (t.class_name, _without_tag(t.text)), lambda t: (t.class_name, t.text)):
        index: dict[tuple[str, str], list[LiveRef]] = {}
        for ref in left_removes:
            index.setdefault(key_of(ref), []).append(ref)

        def exact(
            create: Template, index: dict[tuple[str, str], list[LiveRef]] = index, key_of: Any = key_of
        ) -> LiveRef | None:
            found = index.get(key_of(create))
            return found.pop(0) if found else None

        take(exact)
    if left_creates and left_removes and len(left_creates) * len(left_removes) <= MAX_SIMILARITY_PAIRS:
        scored = []
        for ci, create in enumerate(left_creates):
            words = create.text.split()
            for ri, ref in enumerate(left_removes):
                if ref.class_name not in (create.class_name, "?"):
                    continue
                ratio = difflib.SequenceMatcher(None, words, ref.text.split(), autojunk=False).ratio()
                if ratio >= SIMILARITY:
                    scored.append((ratio, ci, ri))
        used_c: set[int] = set()
        used_r: set[int] = set()
        for _, ci, ri in sorted(scored, key=lambda s: (-s[0], s[1], s[2])):
            if ci in used_c or ri in used_r:
                continue
            used_c.add(ci)
            used_r.add(ri)
            pairs.append(
                Change(
                    kind="replace",
                    create=_spec(left_creates[ci]),
                    remove=left_removes[ri],
                    reason="changed in the files",
                )
            )
        left_creates = [c for i, c in enumerate(left_creates) if i not in used_c]
        left_removes = [r for i, r in enumerate(left_removes) if i not in used_r]
    return pairs, left_creates, left_removes


def _same_id(a: Any, b: Any) -> bool:
    """Whether two ids are the same however they are written (7, 7.0, "7"); None is no id."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def own_templates(live: LiveState) -> list[LiveTemplate]:
    """The live templates that are the pack's own, each once.

    The client checks its listings already; this holds the plan to the same rule
    whatever handed it the state: an id listed again is the same template (its
    first listing is kept), and a template that says it belongs to another pack,
    or to none, is not this pack's to keep or remove. One that does not say (the
    documented prompt object has no ``pack_id``) is taken as listed.
    """
    own: dict[int, LiveTemplate] = {}
    pack_id = None if live.summary is None else live.summary.get("id")
    for template in live.templates:
        tid = template.id
        if tid in own:
            continue
        if "pack_id" in template and pack_id is not None and not _same_id(template["pack_id"], pack_id):
            continue
        own[tid] = template
    return list(own.values())


def diff_pack(
    desired: DesiredPack,
    live: LiveState,
    observation: Observation | None = None,
    replace_keys: Container[tuple[str, ...]] = (),
) -> PackPlan:
    pack = desired.pack
    live = replace(live, templates=own_templates(live))
    fingerprints = [template_fingerprint(t) for t in live.templates]  # each computed once: not cheap
    plan = PackPlan(
        slug=pack.slug,
        title=pack.title,
        file=pack.path,
        live_id=None if live.summary is None else int(live.summary["id"]),
        desired_count=len(desired.templates),
        live_count=len(live.templates),
        protect=pack.protect,
        pack_fingerprint=_pack_fingerprint(live.summary, fingerprints),
        live_fingerprints={t.id: f for t, f in zip(live.templates, fingerprints, strict=True)},
        price_per_image_mc=_price(live.templates),
    )
    if live.summary is None:
        if live.taken_by is not None:
            plan.notes.append(
                f"the slug {pack.slug} is taken by pack #{live.taken_by.get('id')}, which is not this account's "
                "(slugs are global): the new pack will get another slug; apply adopts it by id and never "
                "touches the other one"
            )
        plan.create_pack = create_pack_body(desired)
        plan.changes = [Change(kind="create", create=_spec(t)) for t in desired.templates]
        return plan

    # a live template's class by the tune its tag references (never by the tune it sits on: A9)
    classes = {t.reference: t.class_name for t in desired.templates}
    for cls in pack.classes:
        classes.setdefault(cls.tune_id, cls.name)
    seen = observation or Observation()
    matching = match_templates([t.identity for t in desired.templates], list(live.templates), seen)
    creates: list[Template] = []
    forced: list[Change] = []
    unverified: set[str] = set()
    parked = _parked_by_rotation(desired, set(matching.kept))
    if parked:
        names = ", ".join(f"{desired.templates[i].key} ({desired.templates[i].class_name})" for i in sorted(parked))
        plan.notes.append(f"detached by its rotation experiment, not created: {names}")
    for index, template in enumerate(desired.templates):
        found = matching.kept.get(index)
        if found is None:
            if index not in parked:
                creates.append(template)
            continue
        unverified.update(seen.unverifiable(template.params, found))
        if (pack.slug, template.key, template.class_name) in replace_keys or (pack.slug, template.key) in replace_keys:
            forced.append(
                Change(
                    kind="replace", create=_spec(template), remove=live_ref(found, classes, seen), reason="--replace"
                )
            )
    plan.unverified = unreadable_fields(desired, live) + sorted(unverified)
    removes = [live_ref(t, classes, seen) for t in matching.unmatched]
    duplicates = [
        Change(kind="remove", remove=live_ref(t, classes), reason=f"duplicate of #{kept}")
        for t, kept in matching.copies
    ]
    for variant, kept in matching.variants:
        extra = ", ".join(sorted(variant.unmodeled)) or "fields the account fills"
        why = f"matches the same prompt as #{kept} but differs in {extra}, which packsync does not model"
        duplicates.append(Change(kind="remove", remove=live_ref(variant, classes), reason=why))
    replaces, creates, removes = _pair(creates, removes)
    plan.changes = _manual_changes(desired, live)
    spec_changes = replaces + forced + [Change(kind="create", create=_spec(t)) for t in creates]
    spec_changes.sort(key=_file_order)
    plan.changes += spec_changes
    plan.changes += sorted(
        [Change(kind="remove", remove=r, reason="not in the files") for r in removes] + duplicates,
        key=_live_order,
    )
    return plan


def _parked_by_rotation(desired: DesiredPack, live: set[int]) -> set[int]:
    """The desired templates a running rotation experiment keeps detached: an arm missing from the
    pack while another arm of the same experiment and class is on it (the ``experiment rotate`` job
    attaches one arm at a time; an apply must not undo that). With no arm on the pack, every arm is
    created, as a new experiment's are."""
    parked: set[int] = set()
    for experiment in desired.pack.experiments:
        if experiment.design != "rotation" or experiment.status != "running":
            continue
        arms = set(experiment.arms)
        by_class: dict[str, list[int]] = {}
        for index, template in enumerate(desired.templates):
            if template.key in arms:
                by_class.setdefault(template.class_name, []).append(index)
        for indexes in by_class.values():
            if any(i in live for i in indexes):
                parked.update(i for i in indexes if i not in live)
    return parked


def _file_order(change: Change) -> tuple[int, str]:
    """Creates and replaces in the order of the files, then of the classes."""
    assert change.create is not None
    return (change.create.source.line, change.create.class_name)


def _live_order(change: Change) -> int:
    """Removes by the id of the live template."""
    assert change.remove is not None
    return change.remove.id


def diff(
    desired: Sequence[DesiredPack],
    live: Mapping[str, LiveState],
    target: str,
    policy: Policy,
    undeclared: Sequence[dict[str, Any]] = (),
    observation: Observation | None = None,
) -> Plan:
    """The plan that makes the account hold what ``desired`` says, for the declared packs only."""
    plan = Plan(target=target, on_remove=policy.on_remove, undeclared=list(undeclared))
    plan.packs = [diff_pack(d, live.get(d.slug, LiveState(None)), observation) for d in desired]
    plan.refusals = evaluate_safety(plan, policy)
    return plan


def _removal_words(plain: Sequence[Change]) -> str:
    replaced = sum(1 for c in plain if c.kind == "replace")
    if not replaced:
        return "removing"
    return "replacing" if replaced == len(plain) else "removing or replacing"


def evaluate_safety(plan: Plan, policy: Policy) -> list[Refusal]:
    """The safety limits this plan exceeds."""
    refusals = []
    for pack in plan.packs:
        removals = pack.removals
        if pack.protect and removals:
            refusals.append(
                Refusal(
                    "protected",
                    pack.slug,
                    f"pack {pack.slug} is protected (protect: true) and the plan removes "
                    f"{len(removals)} of its templates",
                    "--allow-protected",
                )
            )
        if pack.desired_count == 0 and pack.live_count > 0:
            refusals.append(
                Refusal(
                    "empty-pack",
                    pack.slug,
                    f"pack {pack.slug} declares no prompts but has {pack.live_count} live templates: "
                    "applying would empty it",
                    "--allow-empty",
                )
            )
        # A replace takes a live template off the pack too: a churn that replaces every
        # template on every apply (a value the server stores differently, say) is refused
        # like a mass removal, never paid for silently. Extra copies count as well: a copy
        # is judged by what the account shows, and a wrong judgement must not be unlimited.
        plain = pack.removals
        if pack.live_count and plain:
            share = len(plain) / pack.live_count
            what = _removal_words(plain)
            if share > policy.max_remove_share:
                refusals.append(
                    Refusal(
                        "removal-share",
                        pack.slug,
                        f"pack {pack.slug}: {what} {len(plain)} of {pack.live_count} live templates ({share:.0%}) "
                        f"exceeds the policy's {policy.max_remove_share:.0%}",
                        "--allow-mass-removal",
                    )
                )
            elif policy.max_remove_count is not None and len(plain) > policy.max_remove_count:
                refusals.append(
                    Refusal(
                        "removal-count",
                        pack.slug,
                        f"pack {pack.slug}: {what} {len(plain)} live templates exceeds the policy's "
                        f"{policy.max_remove_count}",
                        "--allow-mass-removal",
                    )
                )
    if policy.max_images is not None and plan.new_images > policy.max_images:
        refusals.append(
            Refusal(
                "image-budget",
                "",
                f"the new templates would generate {plan.new_images:,} images; the policy's budget is "
                f"{policy.max_images:,}",
                "--allow-over-budget",
            )
        )
    return refusals
