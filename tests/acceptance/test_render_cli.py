"""``packsync render``: the exact templates that would be sent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import PACKS, run_packsync


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """A project holding the tests' copies of the example packs."""
    shutil.copytree(PACKS, tmp_path / "packs")
    return tmp_path


def test_render_by_slug_expands_subject_and_defaults(here: Path) -> None:
    done = run_packsync("render", "corporate-headshots", "--format", "json", cwd=here)
    assert done.code == 0, done.err
    document = json.loads(done.out)
    assert document["pack"] == "corporate-headshots"
    first = document["templates"][0]
    assert first["class"] == "man"
    assert first["request"]["path"] == "/tunes/1504944/prompts"  # a lora pack posts on its base model (A9)
    body = first["request"]["body"]["prompt"]
    assert "<lora:690204:1> ohwx man" in body["text"]
    assert "{{subject}}" not in body["text"]
    assert body["num_images"] == 4  # from defaults
    assert body["super_resolution"] is True
    assert "key" not in body  # a key is never sent


def test_render_one_class_and_fill_a_characteristic(here: Path) -> None:
    done = run_packsync(
        "render", "packs/corporate-headshots.yaml", "--class", "woman", "--set", "eye_color=green eyes", cwd=here
    )
    assert done.code == 0, done.err
    assert "class woman" in done.out
    assert "class man" not in done.out
    assert "green eyes" in done.out
    assert "{{eye_color}}" not in done.out
    assert "<lora:690205:1> ohwx woman" in done.out


def test_prompt_overrides_beat_defaults(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "slug: p\ntitle: P\nmodel: {base_tune_id: 1, model_type: lora, token: sks}\n"
        "classes:\n  dog: {tune_id: 7, weight: 0.8}\n"
        "defaults: {num_images: 4, seed: 1}\n"
        'prompts:\n  - key: a\n    text: "{{subject}} in a park"\n    num_images: 2\n'
    )
    done = run_packsync("render", str(pack), "--format", "json")
    assert done.code == 0, done.err
    body = json.loads(done.out)["templates"][0]["request"]["body"]["prompt"]
    assert body == {"text": "<lora:7:0.8> sks dog in a park", "num_images": 2, "seed": 1}


def test_render_chosen_prompts_only(here: Path) -> None:
    done = run_packsync("render", "pet-portraits", "--prompt", "autumn-park", "--format", "json", cwd=here)
    assert done.code == 0, done.err
    rows = json.loads(done.out)["templates"]
    assert [(r["key"], r["class"]) for r in rows] == [("autumn-park", "dog"), ("autumn-park", "cat")]
    done = run_packsync("render", "pet-portraits", "--prompt", "nope", cwd=here)
    assert done.code == 1 and 'no prompt with key "nope"' in done.err


def test_unknown_pack_class_and_characteristic_are_clear_errors(here: Path) -> None:
    assert "no pack with slug" in run_packsync("render", "nope", cwd=here).err
    done = run_packsync("render", "pet-portraits", "--class", "horse", cwd=here)
    assert done.code == 1 and 'has no class "horse"' in done.err
    done = run_packsync("render", "pet-portraits", "--set", "mood=happy", cwd=here)
    assert done.code == 1 and '"mood" is not a characteristic' in done.err
    done = run_packsync("render", "pet-portraits", "--set", "oops", cwd=here)
    assert done.code == 1 and "NAME=VALUE" in done.err


def test_render_of_an_invalid_pack_shows_why(tmp_path: Path) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text("slug: p\ntitle: P\n")
    done = run_packsync("render", str(pack))
    assert done.code == 1
    assert "schema-required" in done.err
    assert "Traceback" not in done.err
