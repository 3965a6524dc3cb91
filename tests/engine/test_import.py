"""``packsync import``: what it writes describes the account exactly (plan empty, valid, formatted), or says why not.

The law: on any account, ``import`` followed by ``plan --detailed-exitcode``
exits 0, ``fmt --check`` passes on what import wrote and ``validate`` passes.
Where the account holds something the format cannot express, the import output
lists it on a ``note:`` line when the file can do without it (plan does not
compare it), and otherwise skips the pack, naming it, with exit 1.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from packsync.packfiles.loader import load_file
from packsync.packfiles.safe_write import UnsafePath, atomic_write, inside, safe_file_name
from packsync.sandbox.realism import ACCOUNT_SCHEDULER
from tests.conftest import ROOT
from tests.engine.conftest import Done, Project
from tests.sandbox.support import in_sandbox

BASE_TUNE = 666678  # SDXL 1.0: the tests set negative prompts and cfg_scale 7, which Flux refuses
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# -- helpers -----------------------------------------------------------------


def create_pack(http: httpx.Client, title: str, **fields: Any) -> dict[str, Any]:
    body = {"title": title, "base_tune_id": BASE_TUNE, "model_type": "lora", **fields}
    response = http.post("/packs", json={"pack": body})
    assert response.status_code in (200, 201), response.text  # the realistic mode answers 200 (A3)
    result: dict[str, Any] = response.json()
    return result


def create_template(http: httpx.Client, tune_id: int, pack_id: int, text: str, **params: Any) -> dict[str, Any]:
    response = http.post(f"/tunes/{tune_id}/prompts", json={"prompt": {"text": text, "pack_id": pack_id, **params}})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def empty_packs_dir(project: Project) -> Path:
    packs = project.root / "packs"
    for path in packs.glob("*.yaml"):
        path.unlink()
    return packs


def notes(done: Done) -> list[str]:
    return [line.strip()[len("note: ") :] for line in done.out.splitlines() if line.strip().startswith("note: ")]


def own_notes(done: Done, mode: str) -> list[str]:
    """The notes of an import, less, in the realistic mode, those about the account's own backend_version,
    which it fills into every template a create left it out of (A5) and no file can hold."""
    found = notes(done)
    return found if mode == "default" else [n for n in found if "backend_version 0 is the account's setting" not in n]


def own_defaults(data: dict[str, Any], mode: str) -> dict[str, Any]:
    """An imported file's defaults, less, in the realistic mode, the account's own scheduler, which it
    shows on every template a create left it out of (A5): without a record, import writes what it shows."""
    defaults: dict[str, Any] = data.get("defaults", {})
    if mode == "default":
        return defaults
    return {k: v for k, v in defaults.items() if (k, v) != ("scheduler", ACCOUNT_SCHEDULER)}


def pack_data(project: Project, name: str) -> dict[str, Any]:
    loaded = load_file(project.pack_file(name), name)
    assert loaded.document is not None, loaded.diagnostics
    return loaded.document.data


def run_import(project: Project, *args: str) -> Done:
    done = project.run("import", *(args or ("--all",)))
    assert done.code == 0, done.out + done.err
    return done


def import_round_trip(project: Project, *args: str) -> Done:
    """Import, then check the law: plan empty (exit 0), validate ok, fmt --check ok."""
    done = run_import(project, *args)
    plan = project.plan("--detailed-exitcode")
    assert plan.code == 0, f"import:\n{done.out}\nplan:\n{plan.out}{plan.err}"
    assert "No changes" in plan.out
    validate = project.run("validate")
    assert validate.code == 0, validate.out + validate.err
    fmt = project.run("fmt", "--check")
    assert fmt.code == 0, fmt.out + fmt.err
    return done


def prompt_with(data: dict[str, Any], fragment: str) -> dict[str, Any]:
    found = [p for p in data["prompts"] if fragment in p["text"]]
    assert len(found) == 1, (fragment, [p["text"] for p in data["prompts"]])
    return found[0]


# -- 1. the example packs -----------------------------------------------------


def file_of(project: Project, pack_id: int) -> dict[str, Any]:
    """The data of the pack file that pins ``pack_id``."""
    found = [d for d in (pack_data(project, p.name) for p in (project.root / "packs").glob("*.yaml"))]
    (data,) = [d for d in found if d.get("id") == pack_id]
    return data


def test_import_of_the_applied_examples_round_trips(project: Project, mode: str) -> None:
    originals = {name: pack_data(project, name) for name in ("corporate-headshots.yaml", "pet-portraits.yaml")}
    applied = project.apply()
    assert applied.code == 0, applied.out + applied.err
    owned = {slug: project.own_pack(slug) for slug in ("corporate-headshots", "pet-portraits")}
    empty_packs_dir(project)
    assert (project.root / "packsync.yaml").exists()

    done = import_round_trip(project, "--all")
    assert "wrote" in done.out and "corporate-headshots" in done.out and "pet-portraits.yaml" in done.out
    assert notes(done) == []  # nothing the format cannot express

    # the realistic mode's gallery holds the slug corporate-headshots: the account's pack has another
    live_ids = {slug: int(pack["id"]) for slug, pack in owned.items() if pack is not None}
    data = file_of(project, live_ids["corporate-headshots"])  # pinned
    original = originals["corporate-headshots.yaml"]
    assert data["slug"] == owned["corporate-headshots"]["slug"]  # type: ignore[index]
    assert data["title"] == original["title"]
    assert data["classes"] == {"man": {"tune_id": 690204}, "woman": {"tune_id": 690205}}
    assert set(data["characteristics"]) == {"eye_color", "hair_style"}

    prompts = data["prompts"]
    for prompt in prompts:
        assert "{{subject}}" in prompt["text"], prompt
        assert "<lora:" not in prompt["text"], prompt
        # folded: a prompt for every class lists no classes; none lists both explicitly
        assert prompt.get("classes") in (None, ["man"], ["woman"]), prompt
    # the same prompts, with the same classes, as the files that were applied
    recovered = {p["text"]: p.get("classes") for p in prompts}
    assert recovered == {p["text"]: p.get("classes") for p in original["prompts"]}
    assert len(prompts) == len(original["prompts"])

    # what every prompt shares is in defaults, not repeated in each prompt
    defaults = data["defaults"]
    for name in ("super_resolution", "inpaint_faces"):
        assert defaults[name] == original["defaults"][name]
        assert all(name not in p for p in prompts)

    keys = [p["key"] for p in prompts]
    assert len(keys) == len(set(keys))
    for prompt in prompts:
        assert KEY_RE.match(prompt["key"]) and len(prompt["key"]) <= 100
        words = prompt["key"].split("-")
        assert words[0] in prompt["text"].lower(), prompt  # readable: made of the text's words

    pets = file_of(project, live_ids["pet-portraits"])
    assert pets["classes"] == {"dog": {"tune_id": 690310}, "cat": {"tune_id": 690311}}
    assert set(pets["characteristics"]) == {"fur_color"}
    assert {p["text"]: p.get("classes") for p in pets["prompts"]} == {
        p["text"]: p.get("classes") for p in originals["pet-portraits.yaml"]["prompts"]
    }


def test_import_by_slug_or_id_writes_only_those_packs(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    packs = empty_packs_dir(project)
    with project.sandbox.http() as http:
        pet_id = http.get("/p/pet-portraits").json()["id"]
    done = project.run("import", "--pack", str(pet_id))
    assert done.code == 0, done.err
    assert sorted(p.name for p in packs.glob("*.yaml")) == ["pet-portraits.yaml"]
    plan = project.plan("--detailed-exitcode")
    assert plan.code == 0, plan.out  # the other pack is undeclared: listed, never a change

    missing = project.run("import", "--pack", "no-such-pack")
    assert missing.code == 1 and "no-such-pack" in missing.err
    neither = project.run("import")
    assert neither.code == 1 and "--all" in neither.err


# -- 2. awkward accounts built by hand ----------------------------------------


@pytest.fixture
def hand(project: Project) -> Project:
    """The project with an empty packs directory, for accounts built through the API."""
    empty_packs_dir(project)
    return project


def test_a_tag_of_another_packs_tune_is_kept_literally(hand: Project, mode: str) -> None:
    with hand.sandbox.http() as http:
        people = create_pack(http, "People")
        dogs = create_pack(http, "Dogs")
        create_template(http, 690310, dogs["id"], "<lora:690310:1> ohwx dog in a park")
        create_template(http, 690204, people["id"], "<lora:690204:1> ohwx man walking a dog")
        create_template(http, 690204, people["id"], "<lora:690204:1> ohwx man with <lora:690310:0.5> ohwx dog")
        # created on the man's tune, but its only tag references the dog's: the account puts it under
        # class dog (A9), and so does import, never by the tune it sits on
        create_template(http, 690204, people["id"], "portrait with <lora:690310:1> ohwx dog beside him")
    import_round_trip(hand)
    data = pack_data(hand, "people.yaml")
    assert data["classes"] == {"man": {"tune_id": 690204}, "dog": {"tune_id": 690310}}
    assert prompt_with(data, "with <lora")["text"] == "{{subject}} with <lora:690310:0.5> ohwx dog"
    assert prompt_with(data, "beside him") == {
        "key": "beside-him",
        "classes": ["dog"],
        "text": "portrait with {{subject}} beside him",
    }
    assert prompt_with(data, "walking")["text"] == "{{subject}} walking a dog"
    assert pack_data(hand, "dogs.yaml")["prompts"][0]["text"] == "{{subject}} in a park"


# Default mode only: the realistic account shows w, h, denoising_strength, super_resolution and the
# other flags back to no one (sparse echo, A5), so no import can recover them from it.
def test_odd_parameters_round_trip(hand: Project) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Odd Params")
        tag = "<lora:690204:1> ohwx man"
        create_template(http, 690204, pack["id"], f"{tag} sized", w=512, h=768, num_images=3)
        create_template(http, 690204, pack["id"], f"{tag} float seven", cfg_scale=7.0, denoising_strength=0.5)
        create_template(http, 690204, pack["id"], f"{tag} int seven", cfg_scale=7, steps=0, seed=0)
        create_template(
            http,
            690204,
            pack["id"],
            f"{tag} explicit defaults",
            style=None,
            backend_version=1,
            super_resolution=False,
            inpaint_faces=False,
            face_correct=False,
            film_grain=False,
            use_lpw=False,
            prompt_expansion=False,
            num_images=1,
        )
        create_template(http, 690204, pack["id"], f"{tag} upscaled", super_resolution=True, hires_fix=True, seed=2**32)
        create_template(http, 690204, pack["id"], f"{tag} empty negative", negative_prompt="")
    import_round_trip(hand)
    data = pack_data(hand, "odd-params.yaml")
    assert "defaults" not in data  # nothing is shared by every prompt
    sized = prompt_with(data, "sized")
    assert (sized["w"], sized["h"], sized["num_images"]) == (512, 768, 3)
    float_seven = prompt_with(data, "float seven")
    assert float_seven["cfg_scale"] == 7 and type(float_seven["cfg_scale"]) is int
    assert float_seven["denoising_strength"] == 0.5
    int_seven = prompt_with(data, "int seven")
    assert (int_seven["seed"], int_seven["steps"], int_seven["cfg_scale"]) == (0, 0, 7)
    explicit = prompt_with(data, "explicit defaults")
    assert {k for k in explicit if k not in ("key", "text")} == {"backend_version"}
    upscaled = prompt_with(data, "upscaled")
    assert upscaled["seed"] == 2**32 and upscaled["super_resolution"] is True and upscaled["hires_fix"] is True
    assert "negative_prompt" not in prompt_with(data, "empty negative")  # empty and absent are the same


def test_unicode_quotes_and_placeholders_round_trip(hand: Project, mode: str) -> None:
    texts = [
        "ünïcödé portrait of <lora:690205:1> ohwx woman, 日本語の写真 🎉🦄, naïve café",
        "she said \"hello\" and 'bye' to <lora:690205:1> ohwx woman, back\\slash\\n, key: value # not a comment",
        "line one with <lora:690205:1> ohwx woman\nline two\n\n  indented line three\tand a tab",
        "<lora:690205:1> ohwx woman with {{eye_color}} and {{Hair_2}}, {{eye_color}} again, {single} braces",
        "- starts with a dash: <lora:690205:1> ohwx woman & *stars* | pipe > gt % [list] {map}",
        "true <lora:690205:1> ohwx woman yes no ~ 1e3 0x1F @at `tick`",
    ]
    with hand.sandbox.http() as http:
        pack = create_pack(http, 'Ünïcödé & Quotes: "#1"')
        for text in texts:
            # on the pack's base model (SDXL): a Flux one refuses negative prompts
            create_template(http, BASE_TUNE, pack["id"], text, negative_prompt='no "quotes" # here\nnor there 🙅')
    done = import_round_trip(hand)
    assert own_notes(done, mode) == []
    (path,) = (hand.root / "packs").glob("*.yaml")
    data = pack_data(hand, path.name)
    assert data["title"] == 'Ünïcödé & Quotes: "#1"'
    assert set(data["characteristics"]) == {"eye_color", "Hair_2"}
    assert own_defaults(data, mode) == {"negative_prompt": 'no "quotes" # here\nnor there 🙅'}
    expected = sorted(t.replace("<lora:690205:1> ohwx woman", "{{subject}}") for t in texts)
    assert sorted(p["text"] for p in data["prompts"]) == expected
    keys = [p["key"] for p in data["prompts"]]
    assert len(set(keys)) == len(keys) and all(KEY_RE.match(k) for k in keys)


def test_a_weight_in_the_tag_becomes_the_class_weight(hand: Project, mode: str) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Weighted")
        create_template(http, 690204, pack["id"], "<lora:690204:0.8> ohwx man one")
        create_template(http, 690204, pack["id"], "<lora:690204:0.8> ohwx man two")
        odd = create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man three")
        big = create_template(http, 690205, pack["id"], "<lora:690205:5> ohwx woman out of range")
        padded = create_template(http, 690205, pack["id"], "<lora:690205:0.50> ohwx woman padded")
    done = import_round_trip(hand)
    data = pack_data(hand, "weighted.yaml")
    # 5 and 0.50 cannot be a class weight (0-2, written back the same): literal, class weight 1
    assert data["classes"] == {"man": {"tune_id": 690204, "weight": 0.8}, "woman": {"tune_id": 690205}}
    assert prompt_with(data, "one")["text"] == "{{subject}} one"
    assert prompt_with(data, "three")["text"] == "<lora:690204:1> ohwx man three"
    assert prompt_with(data, "out of range")["text"] == "<lora:690205:5> ohwx woman out of range"
    for template in (odd, big, padded):
        assert any(f"#{template['id']}" in n and "literally" in n for n in notes(done)), done.out


def test_tunes_with_the_same_or_unusable_names(hand: Project, mode: str) -> None:
    hand.sandbox.seed_tunes(
        {"id": 800001, "name": "Man Tune!"}, {"id": 800002, "name": "9lives"}, {"id": 800003, "name": "x" * 80}
    )
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Names")
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man first")
        create_template(http, 700001, pack["id"], "<lora:700001:1> ohwx man second")  # also named "man"
        create_template(http, 800001, pack["id"], "<lora:800001:1> ohwx Man Tune! third")
        create_template(http, 800002, pack["id"], "<lora:800002:1> ohwx 9lives fourth")
        create_template(http, 800003, pack["id"], f"<lora:800003:1> ohwx {'x' * 80} fifth")
    done = import_round_trip(hand)
    data = pack_data(hand, "names.yaml")
    names = list(data["classes"])
    assert len(names) == 5 and names[0] == "man"
    assert [data["classes"][n]["tune_id"] for n in names] == [690204, 700001, 800001, 800002, 800003]
    assert all(re.match(r"^[a-z][a-z0-9_-]*$", n) and len(n) <= 50 for n in names), names
    assert prompt_with(data, "first")["text"] == "{{subject}} first"
    assert prompt_with(data, "second")["text"] == "<lora:700001:1> ohwx man second"
    for tune_id in (700001, 800001, 800002, 800003):
        assert any(n.startswith(f"tune {tune_id}: class named") for n in notes(done)), done.out


def test_a_tune_that_no_longer_exists(hand: Project, mode: str) -> None:
    hand.sandbox.seed_tunes({"id": 800010, "name": "ghost"})
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Haunted")
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man alive")
        create_template(http, 800010, pack["id"], "<lora:800010:1> ohwx ghost gone", seed=3)
        assert http.delete("/tunes/800010").status_code == 200
    done = run_import(hand)
    # the file holds the pack as it is; plan then says its class's tune is gone (the preflight), and
    # compares nothing else differently
    plan = hand.plan("--detailed-exitcode")
    assert plan.code == 1 and "No changes" in plan.out, plan.out + plan.err
    assert "reference tune 800010 does not exist on the account" in plan.out
    assert hand.run("validate").code == 0 and hand.run("fmt", "--check").code == 0
    data = pack_data(hand, "haunted.yaml")
    # the account still puts its template under class ghost (prompts_per_class): so does the file
    assert data["classes"]["ghost"] == {"tune_id": 800010}
    assert prompt_with(data, "gone") == {"key": "gone", "classes": ["ghost"], "text": "{{subject}} gone", "seed": 3}
    assert any("800010" in n and "no longer exists" in n for n in notes(done)), done.out


def test_a_pack_with_no_templates_is_listed_not_written(hand: Project, mode: str) -> None:
    with hand.sandbox.http() as http:
        create_pack(http, "Empty Shell")
        full = create_pack(http, "Full")
        create_template(http, 690204, full["id"], "<lora:690204:1> ohwx man")
    done = import_round_trip(hand)
    assert not (hand.root / "packs" / "empty-shell.yaml").exists()
    assert "empty-shell" in done.out
    assert any("no templates" in n for n in notes(done)), done.out
    # asked for by name: the same, and still exit 0
    again = hand.run("import", "--pack", "empty-shell")
    assert again.code == 0 and any("no templates" in n for n in notes(again))


# Default mode only: the realistic account dedups (text, seed) on a tune (A5), so identical copies
# cannot be made through its API.
def test_duplicate_identical_templates_are_folded_and_noted(hand: Project) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Twins")
        for cfg in (7, 7.0, 7):
            create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man twin", cfg_scale=cfg)
        create_template(http, 690205, pack["id"], "<lora:690205:1> ohwx woman twin", cfg_scale=7)
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man single")
    done = run_import(hand)
    data = pack_data(hand, "twins.yaml")
    twin = prompt_with(data, "twin")
    assert twin["text"] == "{{subject}} twin" and "classes" not in twin
    assert any("2 extra identical copies" in n for n in notes(done)), done.out
    assert hand.run("validate").code == 0
    assert hand.run("fmt", "--check").code == 0
    # The format cannot hold two identical prompts (prompt-duplicate), so the plan removes the copies, only them.
    plan = hand.plan_json()
    changes = [c for p in plan["packs"] for c in p["changes"]]
    assert len(changes) == 2 and all(c["kind"] == "remove" for c in changes), changes


def test_what_the_format_cannot_hold_is_noted_or_skips_the_pack(hand: Project, mode: str) -> None:
    """Kept literally and noted where a file can still describe the account; else the pack is skipped by name."""
    with hand.sandbox.http() as http:
        braces = create_pack(http, "Braces")
        # {{subject}} next to a brace would not read back: the tag stays literal, and the pack round-trips
        tight = create_template(http, 690205, braces["id"], "in braces {<lora:690205:1> ohwx woman}")
        create_template(http, 690205, braces["id"], "plain <lora:690205:1> ohwx woman")
        bad = create_pack(http, "Cannot Hold")
        literal = create_template(http, 690204, bad["id"], "<lora:690204:1> ohwx man as {{subject}} literally")
        spaced = create_template(http, 690204, bad["id"], "<lora:690204:1> ohwx man {{ eye_color }} and {{}}")
        control = create_template(http, 690204, bad["id"], "<lora:690204:1> ohwx man \x01 bell\r\n")
        delete = create_template(http, 690204, bad["id"], "<lora:690204:1> ohwx man \x7f del")
        negative = create_template(http, BASE_TUNE, bad["id"], "<lora:690204:1> ohwx man", negative_prompt="a\x02b")
        untyped = http.post("/packs", json={"pack": {"title": "Untyped", "base_tune_id": BASE_TUNE}}).json()
        create_template(http, 690204, untyped["id"], "<lora:690204:1> ohwx man untyped")
        odd = create_pack(http, "Odd Model")
        create_template(http, 690204, odd["id"], "<lora:690204:1> my token man odd")
    # set as in the web UI: a pack create may keep neither (A3)
    sql(hand, "UPDATE packs SET token = 'my token', preset = 'not-a-preset' WHERE id = ?", odd["id"])

    done = hand.run("import", "--all")
    assert done.code == 1, done.out + done.err
    assert "Traceback" not in done.err
    assert any(f"#{tight['id']}" in n and "literally" in n for n in notes(done)), done.out
    # a pack whose model_type is null is a checkpoint pack, which a file declares
    assert sorted(p.name for p in (hand.root / "packs").glob("*.yaml")) == ["braces.yaml", "untyped.yaml"]
    assert pack_data(hand, "untyped.yaml")["model"]["model_type"] == "checkpoint"

    def skipped(pack: dict[str, Any]) -> str:
        """The lines of stderr about one skipped pack."""
        head = f"packsync: error: skipped pack '{pack['slug']}' (#{pack['id']})"
        assert head in done.err, done.err
        return done.err.split(head, 1)[1].split("packsync: error:", 1)[0]

    cannot = skipped(bad)
    for template, words in (
        (literal, ("{{subject}}",)),
        (spaced, ("{{ eye_color }}",)),
        (spaced, ("{{}}",)),
        (control, ("U+0001",)),
        (delete, ("U+007F",)),
        (negative, ("negative_prompt", "U+0002")),
    ):
        assert any(f"#{template['id']}" in line and all(w in line for w in words) for line in cannot.splitlines())
    assert "token 'my token'" in skipped(odd)
    assert "web UI" in done.err

    # what was written validates, and describes the account: plan is empty
    assert hand.run("validate").code == 0
    plan = hand.plan("--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert prompt_with(pack_data(hand, "braces.yaml"), "in braces")["text"] == "in braces {<lora:690205:1> ohwx woman}"


def sql(project: Project, statement: str, *args: Any) -> None:
    """Change the sandbox's state where its API cannot: an account edited in the web UI, or another server."""
    in_sandbox(project.sandbox, lambda store: store.db.execute(statement, args))


def test_a_slug_the_format_cannot_hold_is_replaced_and_the_id_pinned(hand: Project, mode: str) -> None:
    made: dict[str, dict[str, Any]] = {}
    with hand.sandbox.http() as http:
        for title in ("Evil", "Real Etc Evil", "Upper", "Long", "Blank"):
            made[title] = create_pack(http, title)
            create_template(http, 690204, made[title]["id"], f"<lora:690204:1> ohwx man {title.lower()}")
    for title, slug in (
        ("Evil", "../../etc/evil"),
        ("Real Etc Evil", "etc-evil"),  # a valid slug keeps its name, whatever the others become
        ("Upper", "UPPER_Case"),
        ("Long", "x" * 250),
        ("Blank", ""),
    ):
        sql(hand, "UPDATE packs SET slug = ? WHERE id = ?", slug, made[title]["id"])
        made[title]["slug"] = slug
    done = import_round_trip(hand)
    by_id = {pack_data(hand, p.name)["id"]: (p.name, pack_data(hand, p.name)) for p in (hand.root / "packs").iterdir()}
    slugs = {title: by_id[pack["id"]][1]["slug"] for title, pack in made.items()}
    assert slugs["Real Etc Evil"] == "etc-evil" and by_id[made["Real Etc Evil"]["id"]][0] == "etc-evil.yaml"
    assert slugs["Evil"] == f"etc-evil-{made['Evil']['id']}"
    assert slugs["Upper"] == "upper-case"
    assert slugs["Long"] == "x" * 200
    assert slugs["Blank"] == "blank"  # from the title
    for title in ("Evil", "Upper", "Long", "Blank"):
        assert any(repr(made[title]["slug"])[:40] in n and "pinned" in n for n in notes(done)), (title, done.out)
    # the packs are found again by their ids: import --diff sees no drift
    assert hand.run("import", "--diff", "--detailed-exitcode").code == 0

    # a slug another file declares (a pinned pack may take any slug) is not taken again
    hand.edit("upper-case.yaml", "slug: upper-case", "slug: mine")
    with hand.sandbox.http() as http:
        taken = create_pack(http, "Mine")
        create_template(http, 690204, taken["id"], "<lora:690204:1> ohwx man mine")
    assert taken["slug"] == "mine"
    again = import_round_trip(hand, "--pack", "mine")
    assert pack_data(hand, f"mine-{taken['id']}.yaml")["slug"] == f"mine-{taken['id']}"
    assert any("'mine' is another file's slug" in n for n in notes(again)), again.out


# Default mode only: the realistic account does not show w, style or inpaint_faces back (sparse
# echo, A5), so it cannot hold the values of those cases where import sees them.
def test_a_value_the_format_cannot_hold_skips_that_pack_by_name(hand: Project) -> None:
    """Plan compares these with the account, so no file can say anything else: the pack is skipped, exit 1."""
    tag = "<lora:690204:1> ohwx man"
    cases: dict[str, tuple[str, tuple[Any, ...], str]] = {
        # name: (SQL on the pack (?1) or its template (?2), arguments, what the message says)
        "long-title": ("UPDATE packs SET title = ? WHERE id = ?1", ("T" * 201,), "201 characters"),
        "empty-title": ("UPDATE packs SET title = ? WHERE id = ?1", ("",), "title ''"),
        "bell-title": ("UPDATE packs SET title = ? WHERE id = ?1", ("ding\x07",), "U+0007"),
        "no-base": ("UPDATE packs SET base_tune_id = NULL WHERE id = ?1", (), "base_tune_id None"),
        "empty-token": ("UPDATE packs SET token = '' WHERE id = ?1", (), "token ''"),
        "odd-type": ("UPDATE packs SET model_type = 'sdxl' WHERE id = ?1", (), "model_type 'sdxl'"),
        "wide": ("UPDATE prompts SET params = json_set(params, '$.w', 16384) WHERE id = ?2", (), "w 16384"),
        "seed": ("UPDATE prompts SET params = json_set(params, '$.seed', 8589934592) WHERE id = ?2", (), "seed"),
        "style": ("UPDATE prompts SET params = json_set(params, '$.style', 'Watercolor') WHERE id = ?2", (), "style"),
        "none": ("UPDATE prompts SET num_images = 0 WHERE id = ?2", (), "num_images 0"),
        "inpaint": (
            "UPDATE prompts SET params = json_set(params, '$.inpaint_faces', json('true')) WHERE id = ?2",
            (),
            "super_resolution",
        ),
        "untagged": ("UPDATE prompts SET text = 'no tag at all' WHERE id = ?2", (), "tag"),
        "huge": ("UPDATE prompts SET text = ? WHERE id = ?2", (f"{tag} " + "x" * 10_000,), "characters"),
        "long-name": ("UPDATE prompts SET text = ? WHERE id = ?2", (f"{tag} {{{{{'n' * 51}}}}}",), "placeholder"),
        "empty-text": ("UPDATE prompts SET text = '  ' WHERE id = ?2", (), "empty"),
    }
    made: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    with hand.sandbox.http() as http:
        good = create_pack(http, "Good")
        create_template(http, 690204, good["id"], f"{tag} good")
        for name in cases:
            pack = create_pack(http, name)
            made[name] = (pack, create_template(http, 690204, pack["id"], f"{tag} {name}"))
    for name, (statement, args, _) in cases.items():
        pack, template = made[name]
        numbered = statement.replace("?1", str(pack["id"])).replace("?2", str(template["id"]))
        sql(hand, numbered, *args)

    done = hand.run("import", "--all")
    assert done.code == 1, done.out + done.err
    assert "Traceback" not in done.err and "internal error" not in done.err
    assert [p.name for p in (hand.root / "packs").glob("*.yaml")] == ["good.yaml"]
    for name, (_, _, words) in cases.items():
        head = f"packsync: error: skipped pack '{name}' (#{made[name][0]['id']})"
        assert head in done.err, (name, done.err)
        section = done.err.split(head, 1)[1].split("packsync: error:", 1)[0]
        assert words in section, (name, section)
    assert hand.run("validate").code == 0
    assert hand.plan("--detailed-exitcode").code == 0  # the skipped packs are undeclared: never a change


# Default mode only: the realistic account keeps no preset at pack creation and its detail shows
# neither preset nor subtitle (A3).
def test_a_subtitle_or_preset_that_does_not_fit_is_left_out(hand: Project) -> None:
    with hand.sandbox.http() as http:
        long_sub = create_pack(http, "Long Sub", subtitle="s" * 501, preset="flux-lora-fast")
        create_template(http, 690204, long_sub["id"], "<lora:690204:1> ohwx man long")
        odd = create_pack(http, "Odd Preset", subtitle="fine subtitle", preset="not-a-preset")
        create_template(http, 690204, odd["id"], "<lora:690204:1> ohwx man odd")
        bell = create_pack(http, "Bell Sub", subtitle="ding\x07")
        create_template(http, 690204, bell["id"], "<lora:690204:1> ohwx man bell")
    done = import_round_trip(hand)
    long_data, odd_data = pack_data(hand, "long-sub.yaml"), pack_data(hand, "odd-preset.yaml")
    assert "subtitle" not in long_data and long_data["model"]["preset"] == "flux-lora-fast"
    assert odd_data["subtitle"] == "fine subtitle" and "preset" not in odd_data["model"]
    assert "subtitle" not in pack_data(hand, "bell-sub.yaml")
    found = notes(done)
    assert any("subtitle" in n and "501 characters" in n and "left out" in n for n in found), done.out
    assert any("preset 'not-a-preset'" in n and "left out" in n for n in found), done.out
    assert any("subtitle" in n and "U+0007" in n for n in found), done.out


def test_characters_a_yaml_stream_cannot_hold_raw_round_trip(hand: Project, mode: str) -> None:
    texts = ["<lora:690204:1> ohwx man \ufffe nonchar", "<lora:690204:1> ohwx man \u2028 separator\u2029"]
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Odd Chars")
        for text in texts:
            create_template(http, BASE_TUNE, pack["id"], text, negative_prompt="\uffff")  # SDXL: not Flux
    import_round_trip(hand)
    data = pack_data(hand, "odd-chars.yaml")
    expected = [t.replace("<lora:690204:1> ohwx man", "{{subject}}").strip() for t in texts]  # U+2029 is a space
    assert sorted(p["text"] for p in data["prompts"]) == sorted(expected)
    assert own_defaults(data, mode) == {"negative_prompt": "\uffff"}


def test_a_derived_slug_cannot_leave_the_packs_directory(hand: Project, mode: str) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "../../etc/passwd")
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man")
        long_a = create_pack(http, "Z" * 150)
        create_template(http, 690204, long_a["id"], "<lora:690204:1> ohwx man a")
        long_b = create_pack(http, "Z" * 150 + " b")
        create_template(http, 690204, long_b["id"], "<lora:690204:1> ohwx man b")
    assert pack["slug"] == "etc-passwd"
    import_round_trip(hand)
    names = sorted(p.name for p in (hand.root / "packs").iterdir())
    # two slugs that share their first 100 characters get two files, neither overwriting the other
    assert len(names) == 3 and names[0] == "etc-passwd.yaml", names
    assert {pack_data(hand, name)["id"] for name in names[1:]} == {long_a["id"], long_b["id"]}
    assert all(len(name) <= 105 for name in names)


# -- 3. files are safe --------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("../x", "x.yaml"),
        ("/abs", "abs.yaml"),
        ("con", "con-pack.yaml"),
        ("a\x00b", "a-b.yaml"),
        ("", "pack.yaml"),
        ("..", "pack.yaml"),
        (".hidden", "hidden.yaml"),
        ("a/../../b", "a-b.yaml"),
        ("LPT1", "lpt1-pack.yaml"),
        ("x" * 500, "x" * 100 + ".yaml"),
    ],
)
def test_safe_file_name(slug: str, expected: str, tmp_path: Path) -> None:
    name = safe_file_name(slug)
    assert name == expected
    assert inside(tmp_path, name) == tmp_path.resolve() / name


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/etc/passwd", "a\\b", "a\x00b", "../x.yaml"])
def test_inside_refuses_names_that_leave_the_directory(name: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafePath):
        inside(tmp_path, name)


def test_inside_refuses_a_symlink(tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    outside = tmp_path / "outside.yaml"
    outside.write_text("secret\n")
    (packs / "evil.yaml").symlink_to(outside)
    with pytest.raises(UnsafePath):
        inside(packs, "evil.yaml")
    (packs / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    with pytest.raises(UnsafePath):
        inside(packs, "dangling.yaml")


def test_import_does_not_write_through_a_symlink(hand: Project, mode: str) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Linked")
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man")
    outside = hand.root / "outside.yaml"
    outside.write_text("secret\n")
    (hand.root / "packs" / "linked.yaml").symlink_to(outside)
    for args in (("--all",), ("--all", "--force")):
        done = hand.run("import", *args)
        assert done.code == 1 and "linked" in done.err
        assert outside.read_text() == "secret\n"


def test_an_existing_file_is_not_overwritten_without_force(hand: Project, mode: str) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Kept")
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man kept")
    path = hand.root / "packs" / "kept.yaml"
    path.write_text("# mine, not a pack\n")
    done = hand.run("import", "--all")
    assert done.code == 1
    assert "kept.yaml" in done.err and "--force" in done.err
    assert path.read_text() == "# mine, not a pack\n"

    forced = hand.run("import", "--all", "--force")
    assert forced.code == 0, forced.err
    assert pack_data(hand, "kept.yaml")["id"] == pack["id"]
    assert hand.plan("--detailed-exitcode").code == 0

    # a file that declares the pack (by its pinned id), under another name, is the one import finds
    path.rename(hand.root / "packs" / "renamed.yaml")
    again = hand.run("import", "--all")
    assert again.code == 1 and "renamed.yaml" in again.err and "declares this pack" in again.err
    assert not path.exists()
    assert hand.run("import", "--all", "--force").code == 0
    assert not path.exists() and (hand.root / "packs" / "renamed.yaml").exists()


def test_atomic_write_keeps_the_old_file_when_replacing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text("old content\n")

    def broken(*args: Any) -> None:
        raise OSError("disk full (simulated)")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", broken)
        with pytest.raises(OSError, match="simulated"):
            atomic_write(path, "new content\n" * 1000)
    assert path.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pack.yaml"]  # no temporary file left

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", broken)
        with pytest.raises(OSError, match="simulated"):
            atomic_write(path, "new content\n")
    assert path.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pack.yaml"]

    path.chmod(0o600)
    atomic_write(path, "new content\n")
    assert path.read_text() == "new content\n"
    assert path.stat().st_mode & 0o777 == 0o600  # the old file's mode is kept
    fresh = tmp_path / "fresh.yaml"
    atomic_write(fresh, "x\n")
    assert fresh.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.yaml", "pack.yaml"]


# -- 4. import --diff -----------------------------------------------------------


def test_import_diff_lists_drift_and_writes_nothing(project: Project, mode: str) -> None:
    assert project.apply().code == 0
    packs = project.root / "packs"

    def snapshot() -> dict[str, tuple[int, bytes]]:
        return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in packs.iterdir()}

    before = snapshot()
    clean = project.run("import", "--diff")
    assert clean.code == 0, clean.err
    assert "No drift" in clean.out

    headshots = project.own_pack("corporate-headshots")  # realistic: the gallery holds that slug
    assert headshots is not None
    with project.sandbox.http() as http:
        added = create_template(http, 690204, headshots["id"], "<lora:690204:1> ohwx man added in the web UI", seed=9)
    detached = next(t for t in project.templates("pet-portraits") if "frisbee" in t["text"])
    with project.sandbox.http() as http:
        response = http.patch(f"/prompts/{detached['id']}", json={"prompt": {"pack_id": None}})
        assert response.status_code == 200, response.text

    done = project.run("import", "--diff")
    assert done.code == 0, done.err
    assert f"#{added['id']} [man]" in done.out and "added in the web UI" in done.out
    assert "corporate-headshots" in done.out and "pet-portraits" in done.out
    assert "[dog] dog-catching-frisbee: not on the account" in done.out
    assert snapshot() == before  # nothing written: same files, same bytes, same mtimes

    only = project.run("import", "--diff", "--pack", "pet-portraits")
    assert only.code == 0 and "frisbee" in only.out and "added in the web UI" not in only.out
    assert snapshot() == before


def test_import_never_overwrites_the_file_of_another_pack(hand: Project, mode: str) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Kept")
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man kept")
    other = hand.root / "packs" / "kept.yaml"
    other.write_text("slug: something-else\ntitle: Something Else\n")
    done = hand.run("import", "--all", "--force")
    assert done.code == 0, done.err
    assert other.read_text() == "slug: something-else\ntitle: Something Else\n"
    assert pack_data(hand, "kept-2.yaml")["id"] == pack["id"]


def test_import_diff_detailed_exitcode_follows_plan(project: Project, mode: str) -> None:
    """Like ``plan --detailed-exitcode``: 0 when nothing differs, 2 when something does, 1 on error."""
    assert project.apply().code == 0
    clean = project.run("import", "--diff", "--detailed-exitcode")
    assert clean.code == 0, clean.out + clean.err
    assert "No drift" in clean.out
    assert project.run("import", "--diff").code == 0

    headshots = project.own_pack("corporate-headshots")  # realistic: the gallery holds that slug
    assert headshots is not None
    with project.sandbox.http() as http:
        create_template(http, 690204, headshots["id"], "<lora:690204:1> ohwx man added in the web UI")
    drift = project.run("import", "--diff", "--detailed-exitcode")
    assert drift.code == 2, drift.out + drift.err
    assert "added in the web UI" in drift.out and "Usage:" not in drift.err
    assert project.run("import", "--diff").code == 0  # without the flag, drift is not an error
    assert project.run("import", "--diff", "--detailed-exitcode", "--pack", "pet-portraits").code == 0

    missing = project.run("import", "--diff", "--detailed-exitcode", "--pack", "no-such-pack")
    assert missing.code == 1 and "no-such-pack" in missing.err
    project.edit("pet-portraits.yaml", "slug: pet-portraits", "slug: Not A Slug")
    invalid = project.run("import", "--diff", "--detailed-exitcode")
    assert invalid.code == 1 and "invalid" in invalid.err

    alone = project.run("import", "--all", "--detailed-exitcode")
    assert alone.code == 1 and "--diff" in alone.err and "Usage:" not in alone.err


# -- 5. the schema the files point editors at -------------------------------------


SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def schema_of(pack_file: Path) -> Path:
    """The file the editor line of a pack file points at, resolved from the pack file's directory."""
    match = SCHEMA_LINE.match(pack_file.read_text().splitlines()[0])
    assert match is not None, pack_file.read_text()[:200]
    return pack_file.parent / match.group(1)


def test_imported_files_point_at_the_schema_inside_the_project(hand: Project, tmp_path: Path, mode: str) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Editors")
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man in an editor")
    done = run_import(hand)
    written = hand.root / "packs" / "editors.yaml"
    schema = schema_of(written)
    assert schema.resolve().is_relative_to(hand.root.resolve()), schema  # not packsync's install location
    assert schema.read_bytes() == (ROOT / "schemas" / "pack.schema.json").read_bytes()
    assert (hand.root / "schemas" / "packsync.schema.json").read_bytes() == (
        ROOT / "schemas" / "packsync.schema.json"
    ).read_bytes()
    assert "schemas/pack.schema.json" in done.out
    # a teammate's clone, anywhere else: the line still leads to the schema
    clone = tmp_path / "elsewhere" / "deeper" / "clone"
    shutil.copytree(hand.root, clone)
    assert schema_of(clone / "packs" / "editors.yaml").read_bytes() == schema.read_bytes()

    # a schema file the project already has is never replaced by import; it says how to update it
    (hand.root / "schemas" / "pack.schema.json").write_text('{"title": "an older schema"}\n')
    with hand.sandbox.http() as http:
        other = create_pack(http, "Second")
        create_template(http, 690204, other["id"], "<lora:690204:1> ohwx man second")
    again = run_import(hand, "--pack", "second")
    assert (hand.root / "schemas" / "pack.schema.json").read_text() == '{"title": "an older schema"}\n'
    assert "packsync schema --write" in again.out


def test_the_schema_line_follows_the_packs_directory(hand: Project, mode: str) -> None:
    config = hand.root / "packsync.yaml"
    config.write_text(config.read_text() + "packs_dir: config/packs\n")
    (hand.root / "config" / "packs").mkdir(parents=True)
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Nested")
        create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man nested")
    run_import(hand)
    written = hand.root / "config" / "packs" / "nested.yaml"
    assert written.read_text().startswith("# yaml-language-server: $schema=../../schemas/pack.schema.json\n")
    assert schema_of(written).read_bytes() == (ROOT / "schemas" / "pack.schema.json").read_bytes()
    assert hand.plan("--detailed-exitcode").code == 0


# -- model types (astria-api.md A9) --------------------------------------------


def test_each_model_type_reads_back_as_its_subject(hand: Project, mode: str) -> None:
    """faceid texts are <faceid:ID:1> class (weightless and :1.0 tags kept literally), SDXL (pti)
    texts use <lora:...>, and a checkpoint pack (model_type null) has tagless token-class texts."""
    hand.sandbox.seed_tunes({"id": 800020, "name": "man", "token": "sks"})
    with hand.sandbox.http() as http:
        # on the pack's base model, a gallery one: faceid renders on nothing else (A9)
        faceid = create_pack(http, "Face Pack", model_type="faceid")
        create_template(http, BASE_TUNE, faceid["id"], "<faceid:690205:1> woman, studio light")
        create_template(http, BASE_TUNE, faceid["id"], "<faceid:690205> woman, weightless", seed=1)
        create_template(http, BASE_TUNE, faceid["id"], "<faceid:690205:1.0> woman, decimal", seed=2)
        sdxl = create_pack(http, "Sdxl Pack", model_type="pti")
        create_template(http, BASE_TUNE, sdxl["id"], "<lora:800020:0.8> sks man, on a beach")
        create_template(http, BASE_TUNE, sdxl["id"], "<lora:800020:0.8> sks man, in a loft")
    sql(hand, "UPDATE packs SET token = 'sks' WHERE id = ?", sdxl["id"])  # a pack create may not keep it (A3)
    import_round_trip(hand)
    face = pack_data(hand, "face-pack.yaml")
    assert face["model"] == {"base_tune_id": BASE_TUNE, "model_type": "faceid"}  # no token: faceid never writes it
    assert face["classes"] == {"woman": {"tune_id": 690205}}
    assert prompt_with(face, "studio light")["text"] == "{{subject}}, studio light"
    assert prompt_with(face, "weightless")["text"] == "<faceid:690205> woman, weightless"
    assert prompt_with(face, "decimal")["text"] == "<faceid:690205:1.0> woman, decimal"
    sdxl_data = pack_data(hand, "sdxl-pack.yaml")
    assert sdxl_data["model"]["model_type"] == "pti"
    assert sdxl_data["classes"] == {"man": {"tune_id": 800020, "weight": 0.8}}
    assert {p["text"] for p in sdxl_data["prompts"]} == {"{{subject}}, on a beach", "{{subject}}, in a loft"}


def test_a_lora_and_a_faceid_pack_import_their_classes_as_the_account_files_them(hand: Project, mode: str) -> None:
    """A9: the templates sit on the packs' base models; each class is the one prompts_per_class files a
    template under (default: the referenced tune's name; realistic: the word after the tag), its tune and
    weight are its tag's, never the tune the template sits on."""
    with hand.sandbox.http() as http:
        lora = create_pack(http, "Flux Lora", base_tune_id=1504944)
        create_template(http, 1504944, lora["id"], "<lora:690204:0.8> ohwx man, window light", cfg_scale=3)
        create_template(http, 1504944, lora["id"], "<lora:690205:1> ohwx woman, window light", cfg_scale=3)
        # one an earlier packsync made on its reference tune: the same class all the same
        create_template(http, 690205, lora["id"], "<lora:690205:1> ohwx woman, on the reference tune", cfg_scale=3)
        # tune 690204 is named man, the word after its tag is boy
        create_template(http, 1504944, lora["id"], "<lora:690204:0.8> ohwx boy, in a park", cfg_scale=3)
        face = create_pack(http, "Face Gallery", model_type="faceid")
        create_template(http, BASE_TUNE, face["id"], "<faceid:690205:1> woman, studio", cfg_scale=3)
        create_template(http, BASE_TUNE, face["id"], "<faceid:690204:1> man, studio", cfg_scale=3)
    import_round_trip(hand)
    lora_data = pack_data(hand, "flux-lora.yaml")
    classes = {"man": {"tune_id": 690204, "weight": 0.8}, "woman": {"tune_id": 690205}}
    assert prompt_with(lora_data, "window")["text"] == "{{subject}}, window light"
    assert prompt_with(lora_data, "reference tune") == {
        "key": "reference-tune",
        "classes": ["woman"],
        "text": "{{subject}}, on the reference tune",
    }
    if mode == "default":
        assert lora_data["classes"] == classes
        assert prompt_with(lora_data, "park")["text"] == "<lora:690204:0.8> ohwx boy, in a park"  # under man
    else:
        assert lora_data["classes"] == {**classes, "boy": {"tune_id": 690204, "weight": 0.8}}
        assert prompt_with(lora_data, "park") == {"key": "park", "classes": ["boy"], "text": "{{subject}}, in a park"}
    face_data = pack_data(hand, "face-gallery.yaml")
    assert face_data["model"] == {"base_tune_id": BASE_TUNE, "model_type": "faceid"}
    assert face_data["classes"] == {"woman": {"tune_id": 690205}, "man": {"tune_id": 690204}}
    assert [p["text"] for p in face_data["prompts"]] == ["{{subject}}, studio"]


def test_a_pack_detail_without_prompts_per_class_names_the_classes_after_the_tagged_tunes() -> None:
    """Where the detail does not place a template, its class is the name of the tune its tag references."""
    from packsync.desired.reconstruct import reconstruct

    summary = {"id": 7, "slug": "p", "title": "P", "model_type": "lora", "token": "ohwx", "base_tune_id": 1504944}
    templates = [
        {"id": 1, "tune_id": 1504944, "text": "<lora:690204:1> ohwx man, a"},
        {"id": 2, "tune_id": 1504944, "text": "<lora:690205:1> ohwx woman, a"},
        {"id": 3, "tune_id": 690204, "text": "<lora:690204:1> ohwx man, b"},
    ]
    names = {690204: "man", 690205: "woman"}
    prompts = [{"key": "prompt", "text": "{{subject}}, a"}, {"key": "b", "classes": ["man"], "text": "{{subject}}, b"}]
    for detail in ({}, {"prompts_per_class": {"man": [{"id": 1}]}}, {"prompts_per_class": "odd"}):
        imported = reconstruct(summary, detail, templates, names)
        assert imported.blockers == ()
        assert imported.data["classes"] == {"man": {"tune_id": 690204}, "woman": {"tune_id": 690205}}
        assert imported.data["prompts"] == prompts
        assert any("named after the tune their tag references" in n for n in imported.notes), imported.notes
    grouped = {"man": [{"id": 1}, {"id": 3}], "woman": [{"id": 2}]}
    placed = reconstruct(summary, {"prompts_per_class": grouped}, templates, {})
    assert placed.notes == () and placed.data["classes"] == {"man": {"tune_id": 690204}, "woman": {"tune_id": 690205}}
    assert placed.data["prompts"] == prompts


# Default mode only: the realistic account dedups (text, seed) on a tune (A5), so it cannot hold the
# two templates.
def test_a_pack_file_cannot_hold_two_templates_astria_takes_for_one(hand: Project) -> None:
    with hand.sandbox.http() as http:
        pack = create_pack(http, "Twice")
        first = create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man twice", num_images=1)
        second = create_template(http, 690204, pack["id"], "<lora:690204:1> ohwx man twice", num_images=3)
    done = hand.run("import", "--all")
    assert done.code == 1, done.out + done.err
    assert f"templates #{first['id']} and #{second['id']}: the same tune, text and seed" in done.err


def test_init_from_the_account_imports_its_packs_instead_of_the_example(
    tmp_path: Path, hand: Project, mode: str
) -> None:
    from tests.conftest import run_packsync
    from tests.sandbox_helpers import KEY

    sandbox = hand.sandbox
    with sandbox.http() as http:
        made = create_pack(http, "Made By Hand")
        create_template(http, BASE_TUNE, made["id"], "<lora:690204:1> ohwx man in a grey suit")
    root = tmp_path / "from-account"
    env = {"TEAM_ASTRIA_KEY": KEY}
    done = run_packsync(
        "init", str(root), "--from-account", "--url", sandbox.url, "--key-env", "TEAM_ASTRIA_KEY", env=env
    )
    assert done.code == 0, done.out + done.err
    project = (root / "packsync.yaml").read_text()
    assert "default_target: production" in project and f"url: {sandbox.url}" in project
    written = sorted(p.name for p in (root / "packs").glob("*.yaml"))
    assert "made-by-hand.yaml" in written and "example-headshots.yaml" not in written, done.out + done.err
    assert run_packsync("validate", cwd=root).code == 0
    assert run_packsync("plan", "--detailed-exitcode", cwd=root, env=env).code == 0
