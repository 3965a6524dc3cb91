"""preview: prompts run on test tunes through the pack flow, images on a contact sheet."""

from __future__ import annotations

import re
from pathlib import Path

from tests.engine.conftest import Project


def make_test_tunes(project: Project) -> dict[str, int]:
    with project.sandbox.http() as http:
        made = {}
        for name in ("dog", "cat"):
            tune = http.post(
                "/tunes",
                json={
                    "tune": {"title": f"test {name}", "name": name, "branch": "fast", "image_urls": ["https://x/1.jpg"]}
                },
            ).json()
            made[name] = tune["id"]
        return made


def test_preview_of_a_changed_prompt_shows_both_versions_and_leaves_the_pack_alone(
    project: Project, tmp_path: Path
) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    live_before = {t["id"] for t in project.templates("pet-portraits")}
    tunes = make_test_tunes(project)
    project.edit(
        "pet-portraits.yaml",
        "sitting in a carpet of fallen orange and red leaves",
        "lying in a carpet of golden leaves",
    )
    sheet = tmp_path / "sheet.html"
    done = project.run(
        "preview",
        "pet-portraits",
        "--tune-ids",
        f"{tunes['dog']},{tunes['cat']}",
        "--changed",
        "--out",
        str(sheet),
        "--timeout",
        "20",
    )
    assert done.code == 0, done.out + done.err
    assert "The preview will generate 16 image(s), about $0.40." in done.out  # 2 versions x 2 tunes x 4 images
    page = sheet.read_text()
    assert page.count("<tr><td><b>autumn-park</b>") == 2  # one row per test tune
    assert page.count("data:image/png;base64,") == 16  # every image embedded: the page stands alone
    assert "sitting in a carpet" in page and "lying in a carpet" in page  # account version beside the files' one
    assert {t["id"] for t in project.templates("pet-portraits")} == live_before  # the live pack was not touched
    assert project.templates_exist("pet-portraits-preview")


def test_preview_of_chosen_unchanged_prompts_runs_the_live_templates(project: Project, tmp_path: Path) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    sheet = tmp_path / "sheet.html"
    done = project.run(
        "preview",
        "pet-portraits",
        "--tune-ids",
        str(tunes["dog"]),
        "--prompt",
        "royal-throne",
        "--out",
        str(sheet),
        "--timeout",
        "20",
    )
    assert done.code == 0, done.out + done.err
    page = sheet.read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "same as the account" in page
    assert not project.templates_exist("pet-portraits-preview")
    with project.sandbox.http() as http:
        runs = http.get("/prompts", params={"tune_id": tunes["dog"]}).json()
    assert len(runs) == 1 and runs[0]["orig_prompt_id"] is not None  # it came from the pack flow


def test_preview_respects_the_image_budget(project: Project) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    (project.root / "packsync.yaml").write_text(
        (project.root / "packsync.yaml").read_text() + "policy:\n  max_images: 10\n"
    )
    done = project.run("preview", "pet-portraits", "--tune-ids", str(tunes["dog"]))
    assert done.code == 3
    assert re.search(r"the preview would generate \d+ images; the policy's budget is 10", done.err)


def test_preview_on_a_tune_that_does_not_exist(project: Project) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    done = project.run("preview", "pet-portraits", "--tune-ids", "999999", "--prompt", "royal-throne")
    assert done.code == 1
    assert "Traceback" not in done.err
