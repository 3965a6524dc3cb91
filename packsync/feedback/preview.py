"""``packsync preview``: run prompts on test tunes and put the images on one contact sheet.

Prompts run through the pack flow itself (``POST /p/:id/tunes`` with
``tune_ids`` and ``prompt_ids``), so the images are what customers would get.
A version the account does not have yet (a changed or new prompt) runs from
a separate preview pack, ``<slug>-preview``, which packsync creates and fills
as needed: the live pack is never touched. Creating a template there renders it
(A5): :func:`estimate` counts those images with the runs'. A run's prompts are
waited for by :mod:`packsync.feedback.runwatch`, never read from its answer.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from packsync.astria.client import AstriaClient
from packsync.astria.errors import NotFound, OutcomeUnknown
from packsync.astria.objects import LiveTemplate
from packsync.desired.expand import Template
from packsync.desired.state import desired_state
from packsync.errors import fail
from packsync.facts import format_mc
from packsync.feedback.embed import Embedded, redact
from packsync.feedback.runwatch import PackRunSpec, WaitTiming, watch_runs
from packsync.packfiles.pack import Pack
from packsync.packfiles.safe_write import STATE_DIR, safe_file_name
from packsync.plan.build import PlanError, read_declared
from packsync.plan.diff import LiveState
from packsync.plan.model import PackPlan
from packsync.plan.observe import find_match
from packsync.slug import derive_slug

PREVIEW_SUFFIX = " (preview)"


@dataclass
class Shot:
    """One version of one prompt, run on one test tune."""

    key: str
    class_name: str
    tune_id: int
    version: str  # "live" or "files"
    text: str
    prompt_id: int | None = None
    images: list[str] = field(default_factory=list)
    error: str = ""
    num_images: int = 0  # what the run generates (the template's num_images)


@dataclass
class PreviewRequest:
    pack: Pack
    plan: PackPlan | None
    tune_ids: Sequence[int]
    keys: Sequence[str]
    changed_only: bool


def choose(pack: Pack, plan: PackPlan | None, keys: Sequence[str], changed_only: bool) -> list[str]:
    if changed_only:
        if plan is None:
            return []
        return sorted({c.create.key for c in plan.changes if c.create is not None})
    known = [p.key for p in pack.prompts]
    missing = [k for k in keys if k not in known]
    if missing:
        raise PlanError(f"pack {pack.slug} has no prompt with key {', '.join(repr(k) for k in missing)}")
    return list(keys) or known


def preview_slug(pack: Pack) -> str:
    """The slug of the pack that holds a pack's versions not on the account yet (``<slug>-preview``)."""
    return derive_slug(pack.title + PREVIEW_SUFFIX)


async def find_preview_pack(client: AstriaClient, pack: Pack) -> int | None:
    """The id of the pack that holds a pack's versions not on the account yet, if there is one (by slug or title)."""
    title = pack.title + PREVIEW_SUFFIX
    found = None
    async for summary in client.iter_packs():
        if summary.get("slug") == preview_slug(pack):
            return int(summary["id"])
        if summary.get("title") == title and found is None:
            found = int(summary["id"])  # made before, and given another slug (a taken one)
    return found


async def _preview_pack(client: AstriaClient, pack: Pack) -> int:
    """The id of the pack that holds versions not on the account yet; created the first time."""
    found = await find_preview_pack(client, pack)
    if found is not None:
        return found
    created = await client.create_pack(
        pack.title + PREVIEW_SUFFIX, pack.model.base_tune_id, pack.model.wire_model_type, token=pack.model.token
    )
    return int(created["id"])


async def read_test_tunes(client: AstriaClient, tune_ids: Sequence[int], where: str = "") -> dict[int, dict[str, Any]]:
    """The test tunes, read from the account; a clear error for one that is not there (``where`` it came from)."""
    tunes: dict[int, dict[str, Any]] = {}
    for tune_id in tune_ids:
        try:
            tunes[tune_id] = await client.get_tune(tune_id)
        except NotFound:
            raise PlanError(f"test tune {tune_id}{where} does not exist on the account") from None
    return tunes


def describe_tune(tune_id: int, tune: Mapping[str, Any]) -> str:
    title = str(tune.get("title") or "")
    named = f' "{title}"' if title else ""
    return f"#{tune_id}{named} (class {tune.get('name') or '(none)'})"


def tunes_for_pack(
    pack: Pack, tunes: Mapping[int, Mapping[str, Any]], declared: bool, target: str
) -> dict[int, Mapping[str, Any]]:
    """The test tunes a run of ``pack`` can use: those whose class (``name``) is a class of the pack.

    Tunes given on the command line must all qualify (a pack run on another
    class generates nothing); the target's declared test tunes are narrowed to
    the pack's classes, as they usually cover several packs.
    """
    classes = sorted(c.name for c in pack.classes)
    fitting = {i: t for i, t in tunes.items() if t.get("name") in classes}
    others = [describe_tune(i, t) for i, t in tunes.items() if i not in fitting]
    if declared:
        if not fitting:
            raise PlanError(
                f"none of the test tunes of target {target!r} ({', '.join(others)}) is of a class of pack "
                f"{pack.slug} (its classes: {', '.join(classes)}); give --tune-ids, or add one to "
                f"targets.{target}.test_tune_ids in packsync.yaml"
            )
        return fitting
    if others:
        which = f"test tune {others[0]} is" if len(others) == 1 else f"test tunes {', '.join(others)} are"
        raise PlanError(
            f"{which} not of a class of pack {pack.slug} (its classes: {', '.join(classes)}): "
            "a pack runs only on tunes of its classes"
        )
    return fitting


def planned_runs(pack: Pack, keys: Sequence[str], tunes: Mapping[int, Mapping[str, Any]]) -> int:
    """How many (prompt, test tune) pairs the preview runs: a prompt runs on the tunes of its classes."""
    (desired,) = desired_state([pack])
    pairs = {(t.key, t.class_name) for t in desired.templates if t.key in keys}
    return sum(1 for key in keys for tune in tunes.values() if (key, tune.get("name")) in pairs)


@dataclass
class ShotPlan:
    """What a preview runs: each shot, and per test tune the live templates and the files' versions it runs."""

    pack: Pack
    shots: list[Shot] = field(default_factory=list)
    live_runs: dict[int, list[tuple[Shot, int]]] = field(default_factory=dict)  # tune: (shot, live template id)
    file_runs: dict[int, list[tuple[Shot, Template]]] = field(default_factory=dict)  # tune: (shot, version)
    characteristics: dict[str, str] = field(default_factory=dict)  # sent on every run (A6)

    def versions(self) -> dict[Any, Template]:
        """The files' versions to run, each once, by identity: each is a template of the preview pack."""
        return {t.identity: t for runs in self.file_runs.values() for _, t in runs}


def plan_shots(
    request: PreviewRequest, live: LiveState, tune_ids_map: dict[int, int], tunes: Mapping[int, Mapping[str, Any]]
) -> ShotPlan:
    """Per chosen prompt and test tune of its class: the account's version, the files' one, or both (a replace)."""
    pack = request.pack
    keys = choose(pack, request.plan, request.keys, request.changed_only)
    (desired,) = desired_state([pack], tune_ids_map)
    old_versions: dict[tuple[str, str], int] = {}
    if request.plan is not None:
        for change in request.plan.changes:
            if change.kind == "replace" and change.create is not None and change.remove is not None:
                old_versions[(change.create.key, change.create.class_name)] = change.remove.id
    plan = ShotPlan(pack)
    for key in keys:
        for tune_id, tune in tunes.items():
            match = [t for t in desired.templates if t.key == key and t.class_name == tune.get("name")]
            if not match:
                continue
            template = match[0]
            on_account = find_match(template.text, template.params, live.templates)
            old = on_account.id if on_account is not None else old_versions.get((key, template.class_name))
            if old is not None:
                old_live = next((t for t in live.templates if t.id == old), None)
                text = template.text if on_account is not None or old_live is None else old_live.text
                images = None if old_live is None else old_live.get("num_images")
                shot = Shot(key, template.class_name, tune_id, "live", text, num_images=_count(images, template.images))
                plan.shots.append(shot)
                plan.live_runs.setdefault(tune_id, []).append((shot, old))
            if on_account is None:
                shot = Shot(key, template.class_name, tune_id, "files", template.text, num_images=template.images)
                plan.shots.append(shot)
                plan.file_runs.setdefault(tune_id, []).append((shot, template))
    return plan


def _count(value: Any, default: int) -> int:
    return value if type(value) is int and value > 0 else default


async def versions_to_create(client: AstriaClient, plan: ShotPlan) -> list[Template]:
    """The files' versions the preview pack lacks: each is created there, and renders (A5), before the runs."""
    wanted = plan.versions()
    if not wanted:
        return []
    preview_id = await find_preview_pack(client, plan.pack)
    have: list[LiveTemplate] = []
    if preview_id is not None:
        have = await client.pack_templates(preview_id)
    return [t for t in wanted.values() if find_match(t.text, t.params, have) is None]


@dataclass(frozen=True)
class Estimate:
    """The images a preview generates: its runs' on the test tunes, and the new templates' own renders."""

    run_images: int
    template_images: int
    templates: int

    @property
    def images(self) -> int:
        return self.run_images + self.template_images


def estimate(plan: ShotPlan, to_create: Sequence[Template]) -> Estimate:
    """Images the preview would generate: every run's clone, and every template created in the preview pack."""
    return Estimate(sum(s.num_images for s in plan.shots), sum(t.images for t in to_create), len(to_create))


async def take_shots(client: AstriaClient, plan: ShotPlan, live: LiveState, timing: WaitTiming) -> list[Shot]:
    """Create the files' versions the preview pack lacks, run everything, and wait for the images (:mod:`runwatch`)."""
    runs: list[tuple[PackRunSpec, list[tuple[Shot, int]]]] = []
    if plan.file_runs:
        preview_id = await _preview_pack(client, plan.pack)
        on_preview = await client.pack_templates(preview_id)
        existing: dict[Any, int] = {}
        for ident, template in plan.versions().items():
            found = find_match(template.text, template.params, on_preview)
            if found is None:
                created = await client.create_prompt(template.tune_id, template.body(preview_id))
                existing[ident] = int(created["id"])
            else:
                existing[ident] = found.id
        for tune_id, pairs in plan.file_runs.items():
            runs.append(_spec(preview_id, tune_id, [(shot, existing[t.identity]) for shot, t in pairs]))
    if plan.live_runs and live.summary is not None:
        for tune_id, shots in plan.live_runs.items():
            runs.append(_spec(int(live.summary["id"]), tune_id, shots))
    if not runs:
        return plan.shots
    # The mark: every prompt these runs generate gets a higher id (the templates just made included).
    mark = max([await client.newest_prompt_id(), *(t for spec, _ in runs for t in spec.template_ids)])
    for spec, _ in runs:
        await _start(client, spec, plan.characteristics)
    outcomes = await watch_runs(client, mark, [spec for spec, _ in runs], timing)
    for spec, shots in runs:
        for shot, template_id in shots:
            outcome = outcomes[(template_id, spec.tune_ids[0])]
            shot.prompt_id, shot.images, shot.error = outcome.prompt_id, outcome.images, outcome.error
    return plan.shots


def _spec(pack_id: int, tune_id: int, shots: list[tuple[Shot, int]]) -> tuple[PackRunSpec, list[tuple[Shot, int]]]:
    return PackRunSpec(pack_id, (tune_id,), tuple(sorted({tid for _, tid in shots}))), shots


async def _start(client: AstriaClient, spec: PackRunSpec, characteristics: Mapping[str, str]) -> None:
    """Run a pack's templates on a test tune (A6), with the values its placeholders are filled with (the
    tune holds them too, see :mod:`packsync.feedback.characteristics`); the answer's prompt ids are kept
    when it has some."""
    body: dict[str, Any] = {"tune_ids": list(spec.tune_ids), "prompt_ids": list(spec.template_ids)}
    if characteristics:
        body["characteristics"] = dict(characteristics)
    try:
        answer = await client.run_pack(spec.pack_id, body)
    except OutcomeUnknown:
        spec.lost = True  # it may have run: watched all the same, never sent again
        return
    ids = answer.get("prompt_ids")
    if isinstance(ids, list):
        spec.answer_ids = [i for i in ids if type(i) is int]


_VERSION_NAMES = {"live": "on the account", "files": "in the files"}


def contact_sheet(
    pack: Pack,
    shots: Sequence[Shot],
    tunes: Mapping[int, str],
    embedded: Mapping[str, Embedded],
    characteristics: Mapping[str, str] | None = None,
) -> str:
    """One self-contained HTML page: per prompt and test tune, the live version beside the files' one,
    under the characteristic values the runs filled in.

    ``embedded`` holds each image as a ``data:`` URI; an image it lacks gets a
    visible placeholder saying why, never a link to a server that may be gone.
    """
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>packsync preview: {html.escape(pack.slug)}</title><style>",
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{vertical-align:top;padding:6px;border-bottom:1px solid #ddd}"
        "img{width:160px;margin:2px;border-radius:4px}"
        ".missing{display:inline-block;box-sizing:border-box;width:160px;min-height:120px;margin:2px;padding:8px;"
        "border:2px dashed #b33;border-radius:4px;color:#b33;font-size:12px;vertical-align:top;overflow-wrap:anywhere}"
        ".text{color:#555;font-size:12px;max-width:30em}.error{color:#b33}",
        "</style></head><body>",
        f"<h1>Preview of {html.escape(pack.slug)}</h1>",
        _values_line(characteristics or {}),
        "<table><tr><th>prompt</th><th>test tune</th><th>on the account</th><th>in the files</th></tr>",
    ]
    rows: dict[tuple[str, int], dict[str, Shot]] = {}
    for shot in shots:
        rows.setdefault((shot.key, shot.tune_id), {})[shot.version] = shot

    def image(url: str) -> str:
        found = embedded.get(url)
        if found is not None and found.ok:
            return f"<img alt='' src='{html.escape(found.data_uri)}'>"
        why = found.problem if found is not None else "not fetched"
        return (
            f"<div class='missing'>image not embedded: {html.escape(why)}"
            f"<br><code>{html.escape(redact(url))}</code></div>"
        )

    def cell(shot: Shot) -> str:
        images = "".join(image(u) for u in shot.images)
        error = f"<div class='error'>{html.escape(shot.error)}</div>" if shot.error else ""
        return f"<td>{images}{error}<div class='text'>{html.escape(shot.text)}</div></td>"

    for (key, tune_id), versions in rows.items():
        live = versions.get("live")
        files = versions.get("files")
        out.append(
            f"<tr><td><b>{html.escape(key)}</b></td><td>#{tune_id} {html.escape(tunes.get(tune_id, ''))}</td>"
            + (cell(live) if live else "<td>not on the account yet</td>")
            + (cell(files) if files else "<td>same as the account</td>")
            + "</tr>"
        )
    out.append("</table></body></html>\n")
    return "".join(out)


def _values_line(characteristics: Mapping[str, str]) -> str:
    if not characteristics:
        return ""
    shown = ", ".join(
        f"<code>{{{{{html.escape(k)}}}}}</code> = {html.escape(v)}" for k, v in sorted(characteristics.items())
    )
    return f"<p class='text'>Characteristics filled in: {shown}</p>"


def cost_line(found: Estimate, price: int | None) -> str:
    """What the preview costs, its template renders included (each create renders its num_images, A5)."""
    cost = f", about {format_mc(found.images * price)}" if price is not None else ""
    parts = ""
    if found.templates:
        parts = (
            f" ({found.run_images:,} in its runs, {found.template_images:,} rendering the "
            f"{found.templates} new template(s) of the preview pack)"
        )
    return f"The preview will generate {found.images:,} image(s){parts}{cost}."


async def read_pack_state(client: AstriaClient, pack: Pack) -> LiveState:
    states, _ = await read_declared(client, [pack], lambda p, live: live)
    return states[pack.slug]


@dataclass(frozen=True)
class PreviewResult:
    """What a preview ran, and each of its images fetched for the sheet (before the server could go away)."""

    shots: list[Shot]
    tunes: dict[int, Mapping[str, Any]]
    embedded: dict[str, Embedded]
    characteristics: dict[str, str] = field(default_factory=dict)  # what the runs filled {{name}} with


def default_sheet(project_root: Path, slug: str) -> Path:
    """Where the contact sheet goes without ``--out``: the project's ignored state directory."""
    return project_root / STATE_DIR / "preview" / safe_file_name(slug, ".html")


def _shot_name(shot: Shot, tunes: Mapping[int, Mapping[str, Any]]) -> str:
    title = str(tunes.get(shot.tune_id, {}).get("title") or "")
    named = f' "{title}"' if title else ""
    return f"{shot.key} [{shot.class_name}] on test tune #{shot.tune_id}{named} ({_VERSION_NAMES[shot.version]})"


def report_problems(result: PreviewResult, err: TextIO) -> bool:
    """Say which runs failed and which images could not be embedded; True when there was any."""
    failed = [s for s in result.shots if s.error]
    if failed:
        fail(err, f"{len(failed)} run(s) of the preview failed:")
        for shot in failed:
            err.write(f"  {_shot_name(shot, result.tunes)}: {shot.error}\n")
    missing = [
        (shot, url)
        for shot in result.shots
        for url in shot.images
        if not (result.embedded.get(url) or Embedded(url, problem="not fetched")).ok
    ]
    if missing:
        total = sum(len(s.images) for s in result.shots)
        fail(err, f"{len(missing)} of {total} image(s) could not be embedded; the sheet shows a placeholder for each:")
        for shot, url in missing:
            found = result.embedded.get(url)
            why = found.problem if found is not None else "not fetched"
            err.write(f"  {_shot_name(shot, result.tunes)}: {redact(url)}: {why}\n")
    return bool(failed or missing)


def undeclared_warnings(result: PreviewResult, declared: Sequence[int], target: str) -> list[str]:
    """Test tunes whose preview runs ``packsync stats`` would count as customers' (see :mod:`packsync.feedback.stats`).

    A run of a version in the files goes through the preview pack, which
    leaves the tune on record as a test tune; a run of the live pack on a tune
    that is neither declared nor on that record would count.
    """
    live = {s.tune_id for s in result.shots if s.version == "live" and s.prompt_id is not None}
    recorded = {s.tune_id for s in result.shots if s.version == "files" and s.prompt_id is not None}
    return [
        f"packsync: warning: test tune #{tune_id} is not listed under targets.{target}.test_tune_ids in "
        f"packsync.yaml, so packsync stats counts this preview's runs on it as customer runs; list it there "
        f"(or pass stats --exclude-tune-ids {tune_id})\n"
        for tune_id in sorted(live - recorded - set(declared))
    ]
