"""Property: on a random account, `import --all` into an empty packs dir gives an empty plan and formatted files."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packsync.identity import canonical_params
from packsync.model import GENERATION_PARAMS
from tests.engine.conftest import Project

TUNE_IDS = (910001, 910002, 910003)
CLASS_NAMES = ("man", "woman", "dog", "Man Tune!")
WORDS = (
    "portrait", "of", "a", "studio", "soft", "light", "café", "日本", "🎉", '"quoted"', "it's", "back\\slash",
    "colon:", "#hash", "50%", "{x}", "line\nbreak", "-dash", "null", "true", "4:5", "*star*", "[list]",
)  # fmt: skip
CHARACTERISTICS = ("{{eye_color}}", "{{hair}}", "{{Fur_2}}")
WEIGHTS = ("1", "1", "1", "0.8", "1.5", "2", "0.50", "3")

_counter = itertools.count()


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
    text: str
    params: dict[str, Any]


@dataclass
class PackSpec:
    title: str
    model_type: str
    token: str
    templates: list[Template] = field(default_factory=list)


@dataclass
class Account:
    tunes: dict[int, str]
    packs: list[PackSpec]


@st.composite
def templates(draw: st.DrawFn, tunes: dict[int, str], pack: PackSpec) -> Template:
    tune = draw(st.sampled_from(sorted(tunes)))
    tagged = draw(st.sampled_from(sorted(tunes))) if draw(st.integers(0, 4)) == 0 else tune
    kind = pack.model_type if draw(st.integers(0, 5)) else "lora"
    weight = draw(st.sampled_from(WEIGHTS))
    token = pack.token if draw(st.integers(0, 5)) else "ohwx"
    tag = f"<{kind}:{tagged}:{weight}> {token} {tunes[tagged]}"
    parts = draw(st.lists(st.sampled_from(WORDS + CHARACTERISTICS), max_size=8))
    parts.insert(draw(st.integers(0, len(parts))), tag)
    text = draw(st.sampled_from([" ", ", ", " "])).join(parts)
    if draw(st.integers(0, 6)) == 0:
        text = f" {text}\n"  # surrounding whitespace: the server keeps it, identity does not
    return Template(tune, text, draw(params()))


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    count = draw(st.integers(1, 3))
    tunes = {TUNE_IDS[i]: draw(st.sampled_from(CLASS_NAMES)) for i in range(count)}
    packs = []
    for _ in range(draw(st.integers(1, 3))):
        pack = PackSpec(
            title=draw(st.sampled_from(["Headshots", "Pets", "Pets", "Ünïcödé: #1", "a b"])),
            model_type=draw(st.sampled_from(["lora", "lora", "faceid", "pti"])),
            token=draw(st.sampled_from(["ohwx", "ohwx", "sks"])),
        )
        seen: set[tuple[int, str, Any]] = set()
        for _ in range(draw(st.integers(0, 12))):
            template = draw(templates(tunes, pack))
            # identical templates in one pack are a note, not a round trip: the property keeps them apart
            identity = (template.tune, template.text.strip(), canonical_params(template.params))
            if identity not in seen:
                seen.add(identity)
                pack.templates.append(template)
        packs.append(pack)
    return Account(tunes, packs)


def build(project: Project, account: Account) -> None:
    sandbox = project.sandbox
    sandbox.reset()
    sandbox.seed_tunes(*({"id": tune_id, "name": name} for tune_id, name in account.tunes.items()))
    with sandbox.http() as http:
        for spec in account.packs:
            body = {"title": spec.title, "base_tune_id": 1504944, "model_type": spec.model_type, "token": spec.token}
            response = http.post("/packs", json={"pack": body})
            assert response.status_code == 201, response.text
            pack_id = response.json()["id"]
            for t in spec.templates:
                prompt = {"text": t.text, "pack_id": pack_id, **t.params}
                created = http.post(f"/tunes/{t.tune}/prompts", json={"prompt": prompt})
                assert created.status_code == 201, (prompt, created.text)


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
def test_import_of_a_random_account_round_trips(project: Project, account: Account) -> None:
    build(project, account)
    example = fresh_project(project)
    done = example.run("import", "--all")
    assert done.code == 0, done.out + done.err
    written = list(Path(example.root / "packs").glob("*.yaml"))
    assert len(written) == sum(1 for p in account.packs if p.templates)
    plan = example.plan("--detailed-exitcode")
    assert plan.code == 0, f"import:\n{done.out}\nplan:\n{plan.out}{plan.err}"
    if written:
        fmt = example.run("fmt", "--check")
        assert fmt.code == 0, fmt.out + fmt.err
        validate = example.run("validate")
        assert validate.code == 0, validate.out + validate.err
