"""``packsync preview``: run prompts on test tunes and put the images on one contact sheet.

Prompts run through the pack flow itself (``POST /p/:id/tunes`` with
``tune_ids`` and ``prompt_ids``), so the images are what customers would get.
A version the account does not have yet (a changed or new prompt) runs from
a separate preview pack, ``<slug>-preview``, which packsync creates and fills
as needed: the live pack is never touched.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from packsync.aio import gather_all
from packsync.astria.client import AstriaClient
from packsync.astria.errors import NotFound
from packsync.desired.expand import Template
from packsync.desired.identity import identity
from packsync.desired.state import desired_state
from packsync.errors import fail
from packsync.facts import format_mc
from packsync.feedback.embed import Embedded, redact
from packsync.packfiles.pack import Pack
from packsync.packfiles.safe_write import STATE_DIR, safe_file_name
from packsync.plan.build import PlanError, read_declared
from packsync.plan.diff import LiveState
from packsync.plan.model import PackPlan
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


async def _run_and_find(client: AstriaClient, pack_id: int, tune_id: int, template_ids: list[int]) -> dict[int, int]:
    """Run ``template_ids`` of a pack on a tune; the generated prompt id of each template."""
    before = await client.list_prompts(tune_id=tune_id, base_pack_id=pack_id)
    seen = {int(p["id"]) for p in before}
    answer = await client.run_pack(pack_id, {"tune_ids": [tune_id], "prompt_ids": template_ids})
    found: dict[int, int] = {}
    for prompt in await client.list_prompts(tune_id=tune_id, base_pack_id=pack_id):
        if int(prompt["id"]) not in seen and prompt.get("orig_prompt_id") in template_ids:
            found.setdefault(int(prompt["orig_prompt_id"]), int(prompt["id"]))
    if not found and isinstance(answer.get("prompt_ids"), list):
        for pid in answer["prompt_ids"]:
            prompt = await client.get_prompt(int(pid))
            found.setdefault(int(prompt.get("orig_prompt_id") or 0), int(pid))
    return found


async def _wait(client: AstriaClient, shot: Shot, deadline: float) -> None:
    delay = 0.2
    while shot.prompt_id is not None:
        prompt = await client.get_prompt(shot.prompt_id)
        if prompt.get("user_error"):
            shot.error = str(prompt["user_error"])
            return
        if prompt.get("images"):
            shot.images = [str(u) for u in prompt["images"]]
            return
        if time.monotonic() > deadline:
            shot.error = "no images before the timeout"
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


def preview_slug(pack: Pack) -> str:
    """The slug of the pack that holds a pack's versions not on the account yet (``<slug>-preview``)."""
    return derive_slug(pack.title + PREVIEW_SUFFIX)


async def _preview_pack(client: AstriaClient, pack: Pack) -> int:
    """The id of the pack that holds versions not on the account yet; created the first time."""
    title = pack.title + PREVIEW_SUFFIX
    slug = preview_slug(pack)
    async for summary in client.iter_packs():
        if summary.get("slug") == slug:
            return int(summary["id"])
    created = await client.create_pack(
        title, pack.model.base_tune_id, pack.model.wire_model_type, token=pack.model.token
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


async def take_shots(
    client: AstriaClient,
    request: PreviewRequest,
    live: LiveState,
    tune_ids_map: dict[int, int],
    timeout: float,
    tunes: Mapping[int, Mapping[str, Any]],
) -> list[Shot]:
    pack = request.pack
    keys = choose(pack, request.plan, request.keys, request.changed_only)
    (desired,) = desired_state([pack], tune_ids_map)
    live_by_identity = {identity(str(t.get("text") or ""), t): t for t in live.templates}
    old_versions: dict[tuple[str, str], int] = {}
    if request.plan is not None:
        for change in request.plan.changes:
            if change.kind == "replace" and change.create is not None and change.remove is not None:
                old_versions[(change.create.key, change.create.class_name)] = change.remove.id

    shots: list[Shot] = []
    live_runs: dict[int, list[tuple[Shot, int]]] = {}
    file_runs: dict[int, list[tuple[Shot, Template]]] = {}
    for key in keys:
        for tune_id, tune in tunes.items():
            match = [t for t in desired.templates if t.key == key and t.class_name == tune.get("name")]
            if not match:
                continue
            template = match[0]
            on_account = live_by_identity.get(template.identity)
            if on_account is not None:
                shot = Shot(key, template.class_name, tune_id, "live", template.text)
                shots.append(shot)
                live_runs.setdefault(tune_id, []).append((shot, int(on_account["id"])))
                continue
            old = old_versions.get((key, template.class_name))
            if old is not None:
                old_text = next((str(t.get("text")) for t in live.templates if int(t["id"]) == old), "")
                shot = Shot(key, template.class_name, tune_id, "live", old_text)
                shots.append(shot)
                live_runs.setdefault(tune_id, []).append((shot, old))
            shot = Shot(key, template.class_name, tune_id, "files", template.text)
            shots.append(shot)
            file_runs.setdefault(tune_id, []).append((shot, template))

    if file_runs:
        preview_id = await _preview_pack(client, pack)
        existing = {
            identity(str(t.get("text") or ""), t): int(t["id"]) for t in await client.pack_templates(preview_id)
        }
        wanted = {t.identity: t for runs in file_runs.values() for _, t in runs}
        for ident, template in wanted.items():
            if ident not in existing:
                created = await client.create_prompt(template.tune_id, template.body(preview_id))
                existing[ident] = int(created["id"])
        for tune_id, runs in file_runs.items():
            ids = sorted({existing[t.identity] for _, t in runs})
            generated = await _run_and_find(client, preview_id, tune_id, ids)
            for shot, template in runs:
                shot.prompt_id = generated.get(existing[template.identity])
                if shot.prompt_id is None:
                    shot.error = "the run did not create a prompt for this template"
    if live_runs and live.summary is not None:
        pack_id = int(live.summary["id"])
        for tune_id, pairs in live_runs.items():
            generated = await _run_and_find(client, pack_id, tune_id, sorted({tid for _, tid in pairs}))
            for shot, template_id in pairs:
                shot.prompt_id = generated.get(template_id)
                if shot.prompt_id is None:
                    shot.error = "the run did not create a prompt for this template"
    deadline = time.monotonic() + timeout
    await gather_all(*(_wait(client, s, deadline) for s in shots))
    return shots


def estimate(pack: Pack, keys: Sequence[str], tune_classes: Sequence[str], changed: set[str]) -> int:
    """Images the preview would generate (a changed prompt runs in both versions)."""
    images = 0
    (desired,) = desired_state([pack])
    for template in desired.templates:
        if template.key in keys:
            runs = sum(1 for c in tune_classes if c == template.class_name)
            images += runs * template.images * (2 if template.key in changed else 1)
    return images


_VERSION_NAMES = {"live": "on the account", "files": "in the files"}


def contact_sheet(pack: Pack, shots: Sequence[Shot], tunes: Mapping[int, str], embedded: Mapping[str, Embedded]) -> str:
    """One self-contained HTML page: per prompt and test tune, the live version beside the files' one.

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


def cost_line(images: int, price: int | None) -> str:
    cost = f", about {format_mc(images * price)}" if price is not None else ""
    return f"The preview will generate {images:,} image(s){cost}."


async def read_pack_state(client: AstriaClient, pack: Pack) -> LiveState:
    states, _ = await read_declared(client, [pack], lambda p, live: live)
    return states[pack.slug]


@dataclass(frozen=True)
class PreviewResult:
    """What a preview ran, and each of its images fetched for the sheet (before the server could go away)."""

    shots: list[Shot]
    tunes: dict[int, Mapping[str, Any]]
    embedded: dict[str, Embedded]


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
