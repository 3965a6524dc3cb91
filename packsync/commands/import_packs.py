"""``packsync import``: choose packs, reconstruct their files, write them safely, or show drift.

Contract: every file written validates (it is checked as ``validate`` checks it,
and read back, before it is written) and describes its pack exactly, so ``plan``
right after is empty; slugs are unique across the project's files. A pack no file
can describe (``ImportedPack.blockers``) is skipped with one message naming it,
and the exit code is 1; a pack without templates is listed, not written, exit 0.
``--diff`` writes nothing; with ``--detailed-exitcode`` it exits 2 when the account differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from packsync.aio import gather_all
from packsync.astria.client import AstriaClient
from packsync.astria.connect import open_client
from packsync.astria.errors import NotFound
from packsync.astria.target import ResolvedTarget, resolve_target
from packsync.commands.base import Streams
from packsync.commands.prologue import target_observation
from packsync.desired.check import PackChecker
from packsync.desired.reconstruct import (
    WEB_UI,
    ImportedPack,
    file_slug,
    holdable_slug,
    reconstruct,
    reference_tunes,
)
from packsync.errors import ExitCode, PacksyncError, fail
from packsync.packfiles.loader import load_file, load_text
from packsync.packfiles.project import Project, display_path, find_pack_files, load_project
from packsync.packfiles.safe_write import UnsafePath, atomic_write, inside, safe_file_name
from packsync.packfiles.schemafiles import SCHEMA_FILES, project_schema_dir, schema_header, write_schemas
from packsync.packfiles.writer import Comments, write_pack
from packsync.plan.build import make_plan
from packsync.plan.model import Plan
from packsync.plan.observe import Observation
from packsync.term import Style, color_enabled, printable


class ImportUsageError(PacksyncError):
    """Options that do not go together, or that choose nothing."""


@dataclass(frozen=True)
class ImportOptions:
    project_dir: Path = Path(".")
    target: str | None = None
    packs: Sequence[str] = ()
    all: bool = False
    force: bool = False
    diff: bool = False
    detailed_exitcode: bool = False  # with diff: exit 2 when the account differs


@dataclass
class _Existing:
    path: Path
    slug: str | None
    id: int | None


def _existing_files(project: Project) -> list[_Existing]:
    """What each existing pack file says its pack is (even when the file is otherwise invalid)."""
    found: list[_Existing] = []
    if not project.packs_dir.is_dir():
        return found
    for path in find_pack_files([project.packs_dir]):
        doc = load_file(path, display_path(path)).document
        data = doc.data if doc is not None else {}
        slug = data.get("slug") if isinstance(data.get("slug"), str) else None
        pack_id = data.get("id") if isinstance(data.get("id"), int) else None
        found.append(_Existing(path, slug, pack_id))
    return found


def render_file(project: Project, imported: ImportedPack, path: Path) -> str:
    """The text of the pack file at ``path``: the editor line (the project's schema), a note, the pack."""
    header = [
        schema_header(path, project),
        "# Imported from the account by packsync import; edit freely, then packsync plan.",
    ]
    return write_pack(imported.data, Comments(header=header))


def _add_schemas(project: Project, out: TextIO, err: TextIO) -> bool:
    """Write the schemas the files point at where the project lacks them; False when that fails."""
    try:
        files = write_schemas(project_schema_dir(project), list(SCHEMA_FILES.values()), replace=False)
    except OSError as exc:
        fail(
            err,
            f"cannot write the schemas into {display_path(project_schema_dir(project))}: "
            f"{exc.strerror or exc}; the files' first line points there (packsync schema --write)",
        )
        return False
    for file in files:
        shown = display_path(file.path)
        if file.status == "written":
            out.write(f"wrote {shown}: the schema editors read (the first line of each pack file points at it)\n")
        elif file.status == "differs":
            out.write(f"note: {shown} is not this packsync's schema; packsync schema --write updates it\n")
    return True


def run_import(options: ImportOptions, io: Streams) -> ExitCode:
    project = load_project(options.project_dir)
    if options.detailed_exitcode and not options.diff:
        raise ImportUsageError("--detailed-exitcode goes with --diff (import --diff --detailed-exitcode)")
    if not options.all and not options.packs and not options.diff:
        raise ImportUsageError("name the packs to import with --pack SLUG_OR_ID, or import every one with --all")
    target = resolve_target(project, options.target)
    existing = _existing_files(project)
    if options.diff:
        return asyncio.run(_drift(project, target, options, io))
    return ExitCode(asyncio.run(_import(project, target, existing, options, io.out, io.err)))


def _select(summaries: list[dict[str, Any]], options: ImportOptions) -> tuple[list[dict[str, Any]], list[str]]:
    if options.all:
        return summaries, []
    chosen: list[dict[str, Any]] = []
    missing: list[str] = []
    for ref in options.packs:
        match = [s for s in summaries if str(s.get("slug")) == ref or str(s.get("id")) == ref]
        if match:
            chosen.extend(m for m in match if m not in chosen)
        else:
            missing.append(ref)
    return chosen, missing


async def _import(
    project: Project,
    target: ResolvedTarget,
    existing: list[_Existing],
    options: ImportOptions,
    out: TextIO,
    err: TextIO,
) -> int:
    async with open_client(project, target) as client:
        summaries = await client.list_packs()
        chosen, missing = _select(summaries, options)
        for ref in missing:
            fail(err, f"the account has no pack {ref!r}")
        if missing:
            return ExitCode.ERROR
        seen = target_observation(project, target, err)
        imported = await gather_all(*(read_for_import(client, s, seen) for s in chosen))
    return _write_packs(project, existing, imported, options, out, err)


def _owner(existing: list[_Existing], pack: ImportedPack) -> _Existing | None:
    """The existing file that declares the pack: the one pinning its id, else an unpinned one with its slug."""
    pinned = next((e for e in existing if e.id == pack.id), None)
    return pinned or next((e for e in existing if e.id is None and e.slug == pack.account_slug), None)


def _give_slugs(packs: list[ImportedPack], existing: list[_Existing]) -> list[ImportedPack]:
    """Each pack with the slug its file declares, unique across the project's files.

    A pack whose own slug is free keeps it, even when another pack's slug would
    have been made into the same one; the others get one from ``file_slug``.
    """

    def others(pack: ImportedPack) -> set[str]:
        owner = _owner(existing, pack)
        return {e.slug for e in existing if e.slug is not None and e is not owner}

    claimed: dict[int, str] = {}
    for pack in packs:
        if holdable_slug(pack.account_slug) and pack.account_slug not in others(pack) | set(claimed.values()):
            claimed[pack.id] = pack.account_slug
    for pack in packs:
        if pack.id not in claimed:
            claimed[pack.id] = file_slug(pack, others(pack) | set(claimed.values()))
    return [pack.with_slug(claimed[pack.id]) for pack in packs]


def _verify(text: str, name: str, data: dict[str, Any], checker: PackChecker) -> tuple[list[str], list[str]]:
    """What validate would say of a file before it is written: (errors, warnings); also that it reads back."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return [f"it holds U+{ord(text[exc.start]):04X}, which no file can hold"], []
    loaded = load_text(text, name)
    found = list(loaded.diagnostics)
    doc = loaded.document
    if doc is not None and not any(d.is_error for d in found):
        if doc.data != data:
            return ["the file would not read back as what the account holds"], []
        found += checker.check_document(doc)[1]
    errors = [f"{d.location}: {d.rule} {d.message}" for d in found if d.is_error]
    warnings = [f"{d.location}: {d.rule} {d.message}" for d in found if not d.is_error]
    if doc is None and not errors:
        errors.append("the file would not load")
    return errors, warnings


def _skip(pack: ImportedPack, reasons: Sequence[str], err: TextIO) -> None:
    fail(err, f"skipped pack {pack.label}: a pack file cannot describe it as the account has it ({WEB_UI}):")
    for reason in reasons:
        err.write(f"    {reason}\n")


def _write_packs(
    project: Project,
    existing: list[_Existing],
    imported: Sequence[ImportedPack],
    options: ImportOptions,
    out: TextIO,
    err: TextIO,
) -> int:
    """Write a file for each pack a file can describe; skip, naming them, the others (exit 1)."""
    project.packs_dir.mkdir(parents=True, exist_ok=True)
    style = Style(color_enabled(out))
    failed = False
    checker = PackChecker()
    written: set[Path] = set()
    writable: list[ImportedPack] = []
    for pack in sorted(imported, key=lambda p: (p.account_slug, p.id)):
        if pack.empty:
            # No class can be recovered, and a file without one is invalid and would stop every plan;
            # there is nothing to lose either, so this is not an error.
            out.write(f"{style('skipped', 'yellow')} {pack.label}: no file written\n")
            for note in (*pack.notes, *pack.blockers):
                out.write(f"    note: {note}\n")
        elif pack.blockers:
            _skip(pack, pack.blockers, err)
            failed = True
        else:
            writable.append(pack)
    for pack in _give_slugs(writable, existing):
        owner = _owner(existing, pack)
        try:
            if owner is not None:
                path = owner.path
            else:
                # two long slugs can share a file name, and a file of that name may declare
                # another pack: the later pack gets a numbered name, never another's file
                others = {e.path.resolve() for e in existing if e.slug is not None or e.id is not None}
                name, n = safe_file_name(pack.slug), 1
                while inside(project.packs_dir, name) in written or inside(project.packs_dir, name).resolve() in others:
                    n += 1
                    name = safe_file_name(f"{pack.slug[:90]}-{n}")
                path = inside(project.packs_dir, name)
        except UnsafePath as exc:
            fail(err, f"{pack.label}: {exc}")
            failed = True
            continue
        if path.exists() and not options.force:
            fail(
                err,
                f"{display_path(path)} already exists"
                + (" and declares this pack" if owner else "")
                + "; use --force to overwrite it, or import --diff to compare\n",
            )
            failed = True
            continue
        text = render_file(project, pack, path)
        shown = display_path(path)
        problems, warnings = _verify(text, shown, pack.data, checker)
        if problems:
            # never a file that validate rejects: it would stop every validate and plan of the project
            _skip(pack, problems, err)
            failed = True
            continue
        atomic_write(path, text)
        written.add(path)
        prompts = len(pack.data["prompts"])
        out.write(f"{style('wrote', 'green')} {shown}: {pack.templates} template(s) as {prompts} prompt(s)\n")
        for note in pack.notes:
            out.write(f"    note: {note}\n")
        for warning in warnings:
            out.write(f"    {warning}\n")
    if written and not _add_schemas(project, out, err):
        failed = True
    if not failed and imported:
        out.write("Next: packsync plan — it should show no changes.\n")
    return ExitCode.ERROR if failed else ExitCode.OK


async def _drift(project: Project, target: ResolvedTarget, options: ImportOptions, io: Streams) -> ExitCode:
    """What the account has that the files do not, for packs that have files."""
    from packsync.commands.prologue import checked_workspace
    from packsync.plan.build import select_packs

    workspace = checked_workspace(project.root, io)
    packs = select_packs(workspace.packs, [p for p in options.packs if not p.isdigit()])
    async with open_client(project, target, workspace.packs) as client:
        plan = await make_plan(client, workspace, target, packs, target_observation(project, target, io.err))
    _print_drift(plan, io.out, Style(color_enabled(io.out)))
    # the contract of plan --detailed-exitcode: 2 when something differs (manual changes included)
    return ExitCode.CHANGES if options.detailed_exitcode and plan.has_changes else ExitCode.OK


def _print_drift(plan: Plan, out: TextIO, style: Style) -> None:
    for pack in plan.packs:
        if pack.create_pack is not None:
            out.write(f"{pack.slug}: not on the account\n")
            continue
        lines = []
        for change in pack.changes:
            if change.kind == "manual":
                lines.append(
                    f"  ! {change.field}: the account has {change.live_value!r}, the file {change.desired_value!r}"
                )
            if change.remove is not None:
                ref = change.remove
                what = "an older version of " + change.key if change.kind == "replace" else "a template the file lacks"
                lines.append(style(f"  + #{ref.id} [{ref.class_name}] ({what}): {printable(ref.text)}", "green"))
            if change.kind == "create" and change.create is not None:
                lines.append(style(f"  - [{change.create.class_name}] {change.create.key}: not on the account", "red"))
        if lines:
            out.write(f"{pack.slug} (#{pack.live_id}, {pack.file}): the account differs\n" + "\n".join(lines) + "\n")
    if not plan.has_changes:
        out.write("No drift: the account holds exactly what the files declare.\n")


async def read_for_import(
    client: AstriaClient, summary: Mapping[str, Any], seen: Observation | None = None
) -> ImportedPack:
    """Read one pack's detail, templates and the names of the tunes their tags reference, and
    reconstruct its file (with what was sent to a template where the account does not show it back)."""
    pack_id = int(summary["id"])
    detail, read = await gather_all(client.get_pack(pack_id), client.pack_templates(pack_id))
    templates = [(seen or Observation()).as_sent(t) for t in read]

    async def name_of(tune_id: int) -> tuple[int, str | None]:
        try:
            tune = await client.get_tune(tune_id)
        except NotFound:
            return tune_id, None
        return tune_id, str(tune.get("name") or "") or None

    names = dict(await gather_all(*(name_of(t) for t in reference_tunes(summary, templates))))
    return reconstruct(
        {**summary, **{k: detail[k] for k in ("title", "token") if k in detail}}, detail, templates, names
    )
