"""Plans for people: text for terminals and logs, Markdown for pull requests, JSON for tools."""

from __future__ import annotations

import difflib
import html
import json
from collections.abc import Callable
from typing import Any, TextIO

from packsync.desired.identity import canonical_params
from packsync.facts import format_mc
from packsync.plan.model import CHANGE_KINDS, Change, ChangeKind, Finding, PackPlan, Plan
from packsync.term import Style, color_enabled, json_text, printable

MARKDOWN_LIMIT = 65_000
SYMBOLS = {"create": "+", "replace": "-/+", "remove": "-", "manual": "!"}
COLOURS = {"create": "green", "replace": "yellow", "remove": "red", "manual": "cyan"}


def word_diff(
    old: str, new: str, mark: Callable[[str, str], str], plain: Callable[[str], str] = lambda text: text
) -> str:
    """``new`` with the words that changed marked: mark("del", text) and mark("ins", text);
    ``plain`` escapes the words that stayed."""
    a, b = old.split(), new.split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(plain(" ".join(a[i1:i2])))
            continue
        removed = mark("del", " ".join(a[i1:i2])) if op in ("replace", "delete") else ""
        added = mark("ins", " ".join(b[j1:j2])) if op in ("replace", "insert") else ""
        out.append(removed + added)
    return " ".join(out)


def param_changes(change: Change) -> list[tuple[str, Any, Any]]:
    """(name, live, files) for each parameter that differs; a default shows as (default)."""
    old = dict(canonical_params(dict(change.remove.params))) if change.remove else {}
    new = dict(canonical_params(dict(change.create.params))) if change.create else {}
    names = [n for n in new if old.get(n) != new[n]] + [n for n in old if n not in new]
    return [(n, old.get(n), new.get(n)) for n in names]


def _value(value: Any) -> str:
    return "(default)" if value is None else printable(json.dumps(value, ensure_ascii=False))


_COUNT_WORDS: tuple[tuple[ChangeKind, str], ...] = (
    ("create", "to create"),
    ("replace", "to replace"),
    ("remove", "to remove"),
    ("manual", "manual"),
)


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        return "No changes. The account matches the pack files."
    parts = []
    if plan.packs_to_create:
        parts.append(f"{plan.packs_to_create} pack(s) to create")
    for kind, word in _COUNT_WORDS[:3]:
        n = plan.count(kind)
        if n:
            parts.append(f"{n} template(s) {word}")
    if plan.count("manual"):
        parts.append(f"{plan.count('manual')} manual change(s)")
    return "Plan: " + ", ".join(parts) + "."


def spend_line(plan: Plan) -> str:
    if not plan.new_images:
        return ""
    cost = plan.new_cost_mc
    priced = f", costing {format_mc(cost)}" if cost is not None else " (cost not known until they exist)"
    return f"The new templates will generate {plan.new_images:,} image(s){priced}."


def finding_places(finding: Finding) -> str:
    """Where a preflight finding applies: each use's file:line, pack and class."""
    return ", ".join(f"{u.source} ({u.pack}, class {u.class_name})" for u in finding.uses)


PREFLIGHT_BLOCKS = "Reference tune errors: apply sends nothing until they are fixed."


def preflight_failure(plan: Plan) -> str:
    """The one-line error of a plan whose reference tunes are wrong."""
    count = len(plan.preflight_errors)
    return f"{count} reference tune problem(s), listed under 'Reference tunes' (JSON: preflight); apply sends nothing"


# -- text ---------------------------------------------------------------------


def render_text(plan: Plan, out: TextIO, style: Style, *, verbose: bool = True) -> None:
    out.write(f"packsync plan for target {style(plan.target, 'bold')}\n")
    for pack in plan.packs:
        if not pack.has_changes:
            continue
        out.write("\n")
        _pack_text(pack, plan.on_remove, out, style)
    if plan.undeclared:
        out.write(
            f"\n{len(plan.undeclared)} pack(s) on the account are not in the pack files and are not touched: "
            + ", ".join(printable(str(p.get("slug"))) for p in plan.undeclared[:10])
            + (" ..." if len(plan.undeclared) > 10 else "")
            + "\n"
        )
    unverified = unverified_line(plan)
    if unverified:
        out.write("\n" + style(unverified, "yellow") + "\n")
    _preflight_text(plan, out, style)
    out.write("\n" + style(summary_line(plan), "bold") + "\n")
    spend = spend_line(plan)
    if spend:
        out.write(spend + "\n")
    for refusal in plan.refusals:
        out.write(style(f"REFUSED: {refusal.message} (allow with {refusal.flag})", "red") + "\n")
    if plan.preflight_errors:
        out.write(style(PREFLIGHT_BLOCKS, "red") + "\n")


def _preflight_text(plan: Plan, out: TextIO, style: Style) -> None:
    if not plan.preflight:
        return
    out.write("\nReference tunes:\n")
    for finding in plan.preflight:
        word = style("ERROR", "red", "bold") if finding.severity == "error" else style("WARNING", "yellow", "bold")
        out.write(f"  {word} {printable(finding_places(finding))}:\n      {printable(finding.message)}\n")


PACK_FIELDS = ("subtitle", "model.preset")  # the pack fields an account may not report


def unverified_line(plan: Plan) -> str:
    """Once per plan: what the files set that the account does not show back."""
    names = {n for p in plan.packs for n in p.unverified}
    fields = [n for n in PACK_FIELDS if n in names]
    params = sorted(names - set(fields))
    lines = []
    if params:
        lines.append(
            f"This account does not show back {', '.join(params)}: where no record of what was sent exists, "
            "a change to them in the files cannot be seen or verified; force a template's recreation with "
            "--replace PACK/KEY."
        )
    if fields:
        lines.append(
            f"This account does not report the pack field(s) {', '.join(fields)}: no plan can show a change "
            "to them; check them in the Astria web UI."
        )
    return "\n".join(lines)


def common_params(pack: PackPlan) -> list[tuple[str, Any]]:
    """Parameters shared by every template a pack's plan creates, replacements included: shown
    once, in the order of the first, instead of on every template."""
    specs = [c.create for c in pack.changes if c.create is not None]
    if len(specs) < 2:
        return []
    shared = set(specs[0].params)
    for spec in specs[1:]:
        shared &= set(spec.params)
    return [p for p in specs[0].params if p in shared]


def _params_line(params: Any) -> str:
    return "  ".join(f"{n}={_value(v)}" for n, v in params)


def pack_counts(pack: PackPlan) -> str:
    """``3 to create, 1 to remove, 12 new images`` for one pack."""
    parts = [f"{len(pack.of_kind(kind))} {word}" for kind, word in _COUNT_WORDS if pack.of_kind(kind)]
    if pack.new_images:
        parts.append(f"{pack.new_images:,} new images")
    return ", ".join(parts)


def _pack_text(pack: PackPlan, on_remove: str, out: TextIO, style: Style) -> None:
    counts = pack_counts(pack)
    if pack.create_pack is not None:
        out.write(style(f"+ pack {pack.slug}", "green", "bold") + f" (new: {counts})  {pack.file}\n")
    else:
        out.write(style(f"~ pack {pack.slug}", "yellow", "bold") + f" #{pack.live_id} ({counts})  {pack.file}\n")
    for note in pack.notes:
        out.write(style(f"      note: {printable(note)}\n", "yellow"))
    shared = common_params(pack)
    if shared:
        out.write(style(f"      every new template: {_params_line(shared)}\n", "dim"))
    for change in pack.changes:
        symbol = style(f"{SYMBOLS[change.kind]:>3}", COLOURS[change.kind])
        if change.kind == "manual":
            out.write(
                f"  {symbol} {change.field}: {_value(change.live_value)} -> {_value(change.desired_value)}"
                f"  (manual: change it in the Astria web UI)\n"
            )
            continue
        if change.kind == "remove":
            assert change.remove is not None
            ref = change.remove
            how = "delete" if on_remove == "delete" else "detach"
            out.write(f"  {symbol} [{ref.class_name}] #{ref.id} ({how}; {change.reason})\n")
            out.write(style(f"        {printable(ref.text)}\n", "dim"))
            continue
        spec = change.create
        assert spec is not None
        where = style(str(spec.source), "dim")
        if change.kind == "create":
            out.write(f"  {symbol} [{spec.class_name}] {style(spec.key, 'bold')}  {where}\n")
            out.write(f"        {printable(spec.text)}\n")
            own = [p for p in spec.params if p not in shared]
            if own:
                out.write(style(f"        {_params_line(own)}\n", "dim"))
            continue
        old = change.remove
        assert old is not None
        out.write(f"  {symbol} [{spec.class_name}] {style(spec.key, 'bold')} replaces #{old.id}  {where}\n")
        if old.text != spec.text:

            def mark(kind: str, words: str) -> str:
                # The markers stay on a terminal too: colour alone is lost on a colour-blind
                # reader, a copied log and a pager that strips escapes.
                return style(f"[-{words}-]", "red") if kind == "del" else style(f"{{+{words}+}}", "green")

            out.write(f"        {word_diff(printable(old.text), printable(spec.text), mark)}\n")
        for name, old, new in param_changes(change):
            out.write(f"        {name}: {_value(old)} -> {_value(new)}\n")


# -- markdown -------------------------------------------------------------------

MARKER = "<!-- packsync-plan -->"


def _md_escape(text: str) -> str:
    return html.escape(printable(text), quote=False).replace("|", "\\|")


def _pack_markdown(pack: PackPlan, on_remove: str) -> str:
    lines = []
    verb = "new pack" if pack.create_pack is not None else f"#{pack.live_id}"
    counts = ", ".join(f"{len(pack.of_kind(k))} {k}" for k in CHANGE_KINDS if pack.of_kind(k))
    lines.append(f"<details><summary><b>{_md_escape(pack.slug)}</b> ({verb}): {counts or 'pack only'}</summary>\n")
    lines.append(f"File: `{_md_escape(pack.file)}`\n")
    for note in pack.notes:
        lines.append(f"> ⚠️ {_md_escape(note)}\n")
    shared = common_params(pack)
    if shared:
        every = ", ".join(f"`{n}={_md_escape(_value(v))}`" for n, v in shared)
        lines.append(f"Every new template: {every}\n")
    for change in pack.changes:
        if change.kind == "manual":
            lines.append(
                f"- ⚠️ **manual** `{change.field}`: {_md_escape(_value(change.live_value))} → "
                f"{_md_escape(_value(change.desired_value))} — change it in the Astria web UI"
            )
        elif change.kind == "remove":
            assert change.remove is not None
            how = "delete" if on_remove == "delete" else "detach"
            lines.append(
                f"- ➖ **remove** #{change.remove.id} [{change.remove.class_name}] ({how}; {change.reason}): "
                f"{_md_escape(change.remove.text)}"
            )
        elif change.kind == "create":
            assert change.create is not None
            spec = change.create
            params = ", ".join(f"`{n}={_md_escape(_value(v))}`" for n, v in spec.params if (n, v) not in shared)
            lines.append(
                f"- ➕ **create** `{_md_escape(spec.key)}` [{spec.class_name}] ({_md_escape(str(spec.source))}): "
                f"{_md_escape(spec.text)}" + (f" — {params}" if params else "")
            )
        else:
            assert change.create is not None and change.remove is not None
            spec = change.create

            def mark(kind: str, words: str) -> str:
                return f"<del>{_md_escape(words)}</del>" if kind == "del" else f"<ins>{_md_escape(words)}</ins>"

            text = (
                word_diff(change.remove.text, spec.text, mark, _md_escape)
                if change.remove.text != spec.text
                else _md_escape(spec.text)
            )
            lines.append(
                f"- 🔁 **replace** `{_md_escape(spec.key)}` [{spec.class_name}] #{change.remove.id} "
                f"({_md_escape(str(spec.source))}): {text}"
            )
            rows = param_changes(change)
            if rows:
                lines.append("")
                lines.append("  | parameter | live | files |")
                lines.append("  | --- | --- | --- |")
                for name, old, new in rows:
                    lines.append(f"  | `{name}` | {_md_escape(_value(old))} | {_md_escape(_value(new))} |")
                lines.append("")
    lines.append("\n</details>\n")
    return "\n".join(lines)


def markdown_head(plan: Plan, max_rows: int | None = None) -> str:
    """Title, summary, refusals and the per-pack table (at most ``max_rows`` rows)."""
    head = [f"### packsync plan: `{_md_escape(plan.target)}`", ""]
    head.append(f"**{summary_line(plan)}** {spend_line(plan)}".rstrip())
    head.append("")
    for refusal in plan.refusals:
        head.append(f"> ⛔ **Refused:** {_md_escape(refusal.message)} (allow with `{refusal.flag}`)")
    for finding in plan.preflight:
        word = "⛔ **Reference tune error**" if finding.severity == "error" else "⚠️ **Reference tune warning**"
        # one quote each: consecutive quoted lines would run together into one paragraph
        head += ["", f"> {word} ({_md_escape(finding_places(finding))}): {_md_escape(finding.message)}"]
    if plan.preflight_errors:
        head += ["", f"> **{PREFLIGHT_BLOCKS}**"]
    if plan.refusals or plan.preflight:
        head.append("")
    unverified = unverified_line(plan)
    if unverified:
        head += [f"> ⚠️ {_md_escape(unverified)}", ""]
    changed = plan.changed_packs
    if changed:
        head.append("| pack | create | replace | remove | manual | new images |")
        head.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        rows = changed if max_rows is None else changed[:max_rows]
        for pack in rows:
            name = _md_escape(pack.slug) + (" (new)" if pack.create_pack is not None else "")
            head.append(
                f"| {name} | {len(pack.of_kind('create'))} | {len(pack.of_kind('replace'))} | "
                f"{len(pack.of_kind('remove'))} | {len(pack.of_kind('manual'))} | {pack.new_images:,} |"
            )
        if len(rows) < len(changed):
            head.append(f"| _and {len(changed) - len(rows)} more pack(s)_ | | | | | |")
        head.append("")
    return "\n".join(head) + "\n"


def markdown_sections(plan: Plan) -> list[tuple[str, str]]:
    """(pack slug, its collapsible section) for every changed pack."""
    return [(p.slug, _pack_markdown(p, plan.on_remove)) for p in plan.changed_packs]


def render_markdown(plan: Plan, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment. Over ``limit`` characters, whole packs are summarised, never cut."""
    text = MARKER + "\n" + markdown_head(plan)
    sections = [section for _, section in markdown_sections(plan)]

    def footer_of(hidden: int) -> str:
        if not hidden:
            return ""
        return (
            f"\n_{hidden} pack(s) not shown in detail to stay within GitHub's comment limit; "
            "run `packsync plan` for the full plan._\n"
        )

    shown = 0
    for section in sections:
        remaining = len(sections) - shown - 1
        if len(text) + len(section) + len(footer_of(remaining)) > limit:
            break
        text += section
        shown += 1
    return text + footer_of(len(sections) - shown)


# -- JSON -----------------------------------------------------------------------


def render_json(plan: Plan) -> str:
    return json_text(plan.to_json()) + "\n"


def _text(plan: Plan, out: TextIO) -> None:
    render_text(plan, out, Style(color_enabled(out)))


def _json(plan: Plan, out: TextIO) -> None:
    out.write(render_json(plan))


def _markdown(plan: Plan, out: TextIO) -> None:
    out.write(render_markdown(plan))


# The plan's output formats; the command line's --format choices are these names.
PLAN_FORMATS: dict[str, Callable[[Plan, TextIO], None]] = {"text": _text, "json": _json, "markdown": _markdown}
