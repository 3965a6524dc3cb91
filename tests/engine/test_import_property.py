"""Property: whatever an account holds, `import` writes only files that validate, and they describe it exactly.

For any account — hostile slugs, titles, tokens, model types, texts and parameter
values included — every pack that has templates is either written, and then the
files validate, ``fmt --check`` passes and ``plan --detailed-exitcode`` exits 0, or
skipped by name with exit 1: exactly when it holds a value no pack file can hold
(the strategies know which values those are). Checked offline on ``reconstruct``
with the plan's own diff (many examples, and values a database cannot even store),
and end to end through the command line against the sandbox.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packsync.desired.check import PackChecker
from packsync.desired.identity import canonical_params
from packsync.desired.reconstruct import file_slug, reconstruct
from packsync.desired.state import desired_state
from packsync.facts import GENERATION_PARAMS, PROMPT_PARAM_DEFAULTS
from packsync.packfiles.writer import write_pack
from packsync.plan.diff import LiveState, diff_pack
from tests.engine.conftest import Project
from tests.sandbox.support import in_sandbox

TUNE_IDS = (910001, 910002, 910003)
CLASS_NAMES = ("man", "woman", "dog", "Man Tune!", "9lives", "日本", "x" * 80, "")
WORDS = (
    "portrait", "of", "a", "studio", "soft", "light", "café", "日本", "🎉", '"quoted"', "it's", "back\\slash",
    "colon:", "#hash", "50%", "{x}", "line\nbreak", "-dash", "null", "true", "4:5", "*star*", "[list]",
)  # fmt: skip
CHARACTERISTICS = ("{{eye_color}}", "{{hair}}", "{{Fur_2}}")
WEIGHTS = ("1", "1", "1", "0.8", "1.5", "2", "0.50", "3")
MODEL_TYPES = ("lora", "faceid", "pti")
TAG_OF = {"lora": "lora", "faceid": "faceid", "pti": "lora"}  # an SDXL (pti) pack's texts use <lora:...>

_counter = itertools.count()


@dataclass(frozen=True)
class V:
    """A value an account can hold, and whether a pack file can describe a pack that holds it."""

    value: Any
    holdable: bool = True


# -- what an account can hold (the hostile values first in each list, as hypothesis shrinks towards them) --

SLUGS = ("../../etc/evil", "UPPER_Case", "", "x" * 250, "a--b", "-lead", "con", "日本", "a\x00b", "etc-evil", "ok")
TITLES = (
    V("T" * 201, False), V("", False), V("ding\x07", False), V("cr\rhere", False),
    V("T" * 200), V("tab\there"), V("\u202eevil"), V("  spaced  "), V("line\nbreak"), V("\u2028sep"), V("\ufffe"),
    V("Headshots"), V("Pets"), V("Ünïcödé: #1"), V("a b"),
)  # fmt: skip
SUBTITLES = (None, "s" * 501, "\x01", "fine subtitle")  # one that does not fit is left out: always holdable
TOKENS = (V("my token", False), V("", False), V("t" * 51, False), V("ohwx"), V("ohwx"), V("sks"), V("Tok_1"))
# null is a checkpoint pack: its texts here keep their tags literally
PACK_MODEL_TYPES = (V(None), V("sdxl", False), V("lora"), V("lora"), V("faceid"), V("pti"))
PRESETS = (None, "bogus", "flux-lora-fast")  # one that does not fit is left out
# SDXL 1.0: a Flux base refuses negative prompts and cfg_scale 5 and up, which the parameters draw
BASE_TUNE_IDS = (V(None, False), V(0, False), V(666678), V(666678))
# Inserted into a text with words after it, so that stripping the text does not remove it.
FRAGMENTS = (
    V("\x07", False), V("\r", False), V("\x85", False), V("\x7f", False), V("{{subject}}", False),
    V("{{ spaced }}", False), V("{{}}", False), V("{{" + "n" * 51 + "}}", False), V("x" * 10_001, False),
    V("{{" + "n" * 50 + "}}"), V("\ufffe"), V("\u2028"), V("\u202e"), V("\t"),
)  # fmt: skip
TEXTS = (V("no tag here", False), V("   ", False))  # instead of the whole text
PARAMS = (
    V(("w", 16384), False), V(("seed", 2**33), False), V(("style", "Watercolor"), False),
    V(("num_images", 0), False), V(("num_images", 9), False), V(("cfg_scale", 20), False), V(("steps", 51), False),
    V(("negative_prompt", "a\x02b"), False), V(("negative_prompt", "n" * 10_001), False),
    V(("denoising_strength", 1.5), False), V(("inpaint_faces", True), False),
    V(("backend_version", 2)),  # no file can hold it, but it is the account's setting: left out, not compared
    V(("w", 8192)), V(("ar", "portrait")), V(("negative_prompt", "\u2028 \uffff")),
)  # fmt: skip
# Only a server can send these: a database (the sandbox's SQLite) cannot store a lone surrogate.
OFFLINE_TITLES = (V("\ud800", False),)
OFFLINE_FRAGMENTS = (V("\udfff", False),)
OFFLINE_PARAMS = (
    V(("cfg_scale", math.nan), False), V(("seed", "forty-two"), False), V(("super_resolution", 1), False),
    V(("num_images", 2.0)), V(("cfg_scale", 7.0)),
    V(("seed", "42")), V(("cfg_scale", "3.5")),  # numeric strings are their numbers (as Rails sends decimals)
)  # fmt: skip


# Valid values for each generation parameter (schemas/pack.schema.json, Astria's ranges).
def _param_values(name: str) -> st.SearchStrategy[Any]:
    sizes = st.integers(1, 1024).map(lambda n: n * 8)
    table: dict[str, st.SearchStrategy[Any]] = {
        "num_images": st.integers(1, 8),
        "negative_prompt": st.sampled_from(["", "blurry", 'no "text", # or\nwatermark 🙅', "lowres, {{hair}}"]),
        "seed": st.one_of(st.sampled_from([0, 1, 2**32]), st.integers(0, 2**32)),
        "cfg_scale": st.sampled_from([0, 3.5, 7, 7.0, 12.25, 15]),
        "steps": st.integers(0, 50),
        "super_resolution": st.booleans(),
        "inpaint_faces": st.booleans(),
        "hires_fix": st.booleans(),
        "face_correct": st.booleans(),
        "face_swap": st.booleans(),
        "w": sizes,
        "h": sizes,
        "aspect_ratio": st.sampled_from(["1:1", "16:9", "9:16", "21:9", "9:21", "3:2", "2:3", "5:4", "4:5", "4:3"]),
        "resolution": st.sampled_from(["1K", "2K", "4K"]),
        "scheduler": st.sampled_from(["euler", "euler_a", "dpm++2m_karras", "dpm++sde_karras", "lcm", "tcd"]),
        "style": st.sampled_from([None, "Cinematic", "Comic book", "Line art"]),
        "color_grading": st.sampled_from(["Film Velvia", "Film Portra", "Ektar"]),
        "film_grain": st.booleans(),
        "backend_version": st.sampled_from([None, 1]),
        "denoising_strength": st.sampled_from([0, 0.25, 0.5, 0.8, 1, 1.0]),
        "use_lpw": st.booleans(),
        "prompt_expansion": st.booleans(),
    }
    assert set(table) == set(GENERATION_PARAMS)
    return table[name]


@st.composite
def params(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(GENERATION_PARAMS), max_size=6, unique=True))
    out = {name: draw(_param_values(name)) for name in names}
    if not out.get("super_resolution"):  # the server refuses these without super_resolution
        for name in ("inpaint_faces", "hires_fix"):
            if out.get(name):
                out[name] = False
    return out


@dataclass
class Template:
    tune: int
    text: str  # what the template is created with, through the API
    params: dict[str, Any]
    final_text: str  # what the account holds in the end (a hostile value set where the API cannot)
    final_params: dict[str, Any]
    holdable: bool = True

    @property
    def hostile(self) -> bool:
        return (self.final_text, self.final_params) != (self.text, self.params)


@dataclass
class PackSpec:
    slug: str
    title: V
    subtitle: str | None
    model_type: V
    token: V
    preset: str | None
    base_tune_id: V
    templates: list[Template] = field(default_factory=list)

    @property
    def holdable(self) -> bool:
        # a faceid pack never writes its token (its texts are "<faceid:ID:1> class"): any token will do
        token = () if self.model_type.value == "faceid" else (self.token,)
        fields = (self.title, self.model_type, *token, self.base_tune_id)
        return all(f.holdable for f in fields) and all(t.holdable for t in self.templates)


@dataclass
class Account:
    tunes: dict[int, str]
    packs: list[PackSpec]


def pick(draw: st.DrawFn, values: tuple[V, ...], one_in: int = 8) -> V:
    """Mostly a value a pack file can hold; now and then any value, so that most packs are still written."""
    if draw(st.integers(0, one_in - 1)) == 0:
        return draw(st.sampled_from(values))
    return draw(st.sampled_from([v for v in values if v.holdable]))


def _hostile_template(
    draw: st.DrawFn, text: str, given: dict[str, Any], offline: bool
) -> tuple[str, dict[str, Any], bool]:
    """The text and parameters the account ends up with: mostly as created, else with one hostile value."""
    kind = draw(st.sampled_from(["none"] * 40 + ["fragment", "fragment", "text", "param", "param"]))
    if kind == "fragment":
        choice = draw(st.sampled_from(FRAGMENTS + (OFFLINE_FRAGMENTS if offline else ())))
        return f"{text} {choice.value} end", given, choice.holdable
    if kind == "text":
        choice = draw(st.sampled_from(TEXTS))
        return choice.value, given, choice.holdable
    if kind == "param":
        choice = draw(st.sampled_from(PARAMS + (OFFLINE_PARAMS if offline else ())))
        name, value = choice.value
        changed = {**given, name: value}
        if name == "inpaint_faces":
            changed["super_resolution"] = False
        return text, changed, choice.holdable
    return text, given, True


@st.composite
def templates(draw: st.DrawFn, tunes: dict[int, str], pack: PackSpec, offline: bool) -> Template:
    tune = draw(st.sampled_from(sorted(tunes)))
    tagged = draw(st.sampled_from(sorted(tunes))) if draw(st.integers(0, 4)) == 0 else tune
    model_type = pack.model_type.value if pack.model_type.value in MODEL_TYPES else "lora"
    kind = TAG_OF[model_type] if draw(st.integers(0, 5)) else "lora"
    weight = draw(st.sampled_from(WEIGHTS))
    token = pack.token.value if draw(st.integers(0, 5)) else "ohwx"
    tag = f"<{kind}:{tagged}:{weight}> {token} {tunes[tagged]}"
    parts = draw(st.lists(st.sampled_from(WORDS + CHARACTERISTICS), max_size=8))
    parts.insert(draw(st.integers(0, len(parts))), tag)
    text = draw(st.sampled_from([" ", ", ", " "])).join(parts)
    if draw(st.integers(0, 6)) == 0:
        text = f" {text}\n"  # surrounding whitespace: the server keeps it, identity does not
    given = draw(params())
    final_text, final_params, holdable = _hostile_template(draw, text, given, offline)
    return Template(tune, text, given, final_text, final_params, holdable)


@st.composite
def accounts(draw: st.DrawFn, offline: bool = False) -> Account:
    count = draw(st.integers(1, 3))
    tunes = {TUNE_IDS[i]: draw(st.sampled_from(CLASS_NAMES)) for i in range(count)}
    packs = []
    # templates alike in tune, text and seed are one to Astria, across packs too (it dedups them on a
    # tune, A5): no account holds two, and the property keeps them apart. The tune is the one a pack
    # file creates them on (A9): the pack's base model, which all these packs share, but for a
    # checkpoint pack's templates (on their own tune)
    seen: set[tuple[int | str, str, Any]] = set()
    for _ in range(draw(st.integers(1, 3))):
        pack = PackSpec(
            slug=draw(st.sampled_from(SLUGS)),
            title=pick(draw, TITLES + (OFFLINE_TITLES if offline else ()), 4),
            subtitle=draw(st.sampled_from(SUBTITLES)),
            model_type=pick(draw, PACK_MODEL_TYPES),
            token=pick(draw, TOKENS),
            preset=draw(st.sampled_from(PRESETS)),
            base_tune_id=pick(draw, BASE_TUNE_IDS),
        )
        for _ in range(draw(st.integers(0, 8))):
            template = draw(templates(tunes, pack, offline))
            # templates alike in tune, text and seed are one to Astria (and identical ones a note, not a
            # round trip): the property keeps them apart
            seed = dict(canonical_params(template.final_params)).get("seed")
            post = template.tune if pack.model_type.value is None else "base"
            identity = (post, template.final_text.strip(), json.dumps(seed))
            if identity not in seen:
                seen.add(identity)
                pack.templates.append(template)
        packs.append(pack)
    return Account(tunes, packs)


# -- offline: reconstruct, the real checker and the plan's diff ---------------------------------------------


def served(template: Template, template_id: int) -> dict[str, Any]:
    """A template as the API shows it: every parameter, the server's defaults filled in."""
    return {
        "id": template_id,
        "tune_id": template.tune,
        "text": template.final_text,
        **PROMPT_PARAM_DEFAULTS,
        **template.final_params,
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    account=accounts(offline=True),
    unreported=st.lists(st.sets(st.sampled_from(["title", "model_type", "token", "base_tune_id"])), min_size=3),
)
def test_reconstruct_writes_a_valid_file_that_plans_empty_or_says_why_not(
    account: Account, unreported: list[set[str]]
) -> None:
    checker = PackChecker()
    for pack_id, spec in enumerate(account.packs, start=1):
        given = {
            "title": spec.title,
            "token": spec.token,
            "model_type": spec.model_type,
            "base_tune_id": spec.base_tune_id,
        }
        # a field the server does not report is not compared by plan: any value will do, but a base model
        summary: dict[str, Any] = {"id": pack_id, "slug": spec.slug}
        summary.update((k, v.value) for k, v in given.items() if k not in unreported[pack_id - 1])
        reported = {k: v for k, v in given.items() if k not in unreported[pack_id - 1]}
        if "model_type" in reported and spec.model_type.value == "faceid":
            reported.pop("token", None)  # a faceid pack never writes its token: any token will do
        holdable = all(t.holdable for t in spec.templates) and all(v.holdable for v in reported.values())
        holdable = holdable and "base_tune_id" not in unreported[pack_id - 1]
        detail = {**summary, "subtitle": spec.subtitle, "preset": spec.preset}
        live = [served(t, 100 * pack_id + n) for n, t in enumerate(spec.templates)]
        names = {tune: (name or None) for tune, name in account.tunes.items()}
        imported = reconstruct(summary, detail, live, names)
        if not spec.templates:
            assert imported.empty
            continue
        assert bool(imported.blockers) == (not holdable), (spec, summary, imported.blockers)
        if imported.blockers:
            continue
        pack = imported.with_slug(file_slug(imported, ()))
        text = write_pack(pack.data)
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "p.yaml"
            path.write_text(text, encoding="utf-8")
            result = checker.check_files([(path, "p.yaml")])
        assert result.errors == [], (text, result.errors)
        (model,) = result.packs
        (desired,) = desired_state([model])
        plan = diff_pack(desired, LiveState(summary, live, detail))
        assert plan.create_pack is None and plan.changes == [], (text, plan.changes)


# -- end to end: the sandbox and the command line -----------------------------------------------------------


def sql(project: Project, statement: str, *args: Any) -> None:
    in_sandbox(project.sandbox, lambda store: store.db.execute(statement, args))


def build(project: Project, account: Account) -> dict[int, PackSpec]:
    """The account in the sandbox: through the API, then the values the API refuses (a web UI's edits) by SQL."""
    sandbox = project.sandbox
    sandbox.reset()
    sandbox.seed_tunes(*({"id": tune_id, "name": name} for tune_id, name in account.tunes.items()))
    by_id: dict[int, PackSpec] = {}
    hostile: list[tuple[int, Template]] = []
    with sandbox.http() as http:
        for spec in account.packs:
            body = {"title": "created", "base_tune_id": 1504944, "model_type": "lora"}
            response = http.post("/packs", json={"pack": body})
            assert response.status_code == 201, response.text
            pack_id = response.json()["id"]
            by_id[pack_id] = spec
            for t in spec.templates:
                prompt = {"text": t.text, "pack_id": pack_id, **t.params}
                created = http.post(f"/tunes/{t.tune}/prompts", json={"prompt": prompt})
                assert created.status_code == 201, (prompt, created.text)
                if t.hostile:
                    hostile.append((created.json()["id"], t))
    for pack_id, spec in by_id.items():
        sql(
            project,
            "UPDATE packs SET title = ?, subtitle = ?, token = ?, model_type = ?, preset = ?, base_tune_id = ? "
            "WHERE id = ?",
            spec.title.value,
            spec.subtitle,
            spec.token.value,
            spec.model_type.value,
            spec.preset,
            spec.base_tune_id.value,
            pack_id,
        )
        sql(project, "UPDATE OR IGNORE packs SET slug = ? WHERE id = ?", spec.slug, pack_id)  # slugs are unique
    for prompt_id, t in hostile:
        rest = {k: v for k, v in t.final_params.items() if k != "num_images"}
        sql(
            project,
            "UPDATE prompts SET text = ?, params = ?, num_images = ? WHERE id = ?",
            t.final_text,
            json.dumps(rest),
            t.final_params.get("num_images", 1),
            prompt_id,
        )
    return by_id


def fresh_project(project: Project) -> Project:
    root = project.root / f"example-{next(_counter)}"
    (root / "packs").mkdir(parents=True)
    (root / "packsync.yaml").write_text((project.root / "packsync.yaml").read_text())
    return Project(root, project.sandbox)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(account=accounts())
def test_import_of_a_random_account_writes_valid_files_that_plan_empty(project: Project, account: Account) -> None:
    by_id = build(project, account)
    example = fresh_project(project)
    done = example.run("import", "--all")
    expected = {pack_id for pack_id, spec in by_id.items() if spec.templates and spec.holdable}
    skipped = {pack_id for pack_id, spec in by_id.items() if spec.templates and not spec.holdable}
    assert done.code == (1 if skipped else 0), done.out + done.err
    assert "Traceback" not in done.err and "internal error" not in done.err, done.err
    for pack_id in skipped:
        assert f"(#{pack_id}): a pack file cannot describe it" in done.err, (pack_id, done.err)
    written = list(Path(example.root / "packs").glob("*.yaml"))
    assert {json_id(path) for path in written} == expected, done.out + done.err
    plan = example.plan("--detailed-exitcode")
    assert plan.code == 0, f"import:\n{done.out}{done.err}\nplan:\n{plan.out}{plan.err}"
    if written:
        validate = example.run("validate")
        assert validate.code == 0, done.out + validate.out + validate.err
        fmt = example.run("fmt", "--check")
        assert fmt.code == 0, fmt.out + fmt.err


def json_id(path: Path) -> int:
    from packsync.packfiles.loader import load_file

    loaded = load_file(path, path.name)
    assert loaded.document is not None, loaded.diagnostics
    pack_id: int = loaded.document.data["id"]
    return pack_id
