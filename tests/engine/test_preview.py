"""preview: prompts run on test tunes through the pack flow, images on a contact sheet."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from packsync.commands.preview import TIME_SCALE_ENV
from packsync.sandbox.embedded import EmbeddedSandbox
from tests.conftest import PACKS, run_packsync
from tests.engine.conftest import REALISTIC, SCALE, Project, auth, listed, preview


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
    project: Project, tmp_path: Path, mode: str
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
    done = preview(
        project,
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
    # 2 versions x 2 tunes x 4 images, and the files' version created in the preview pack for each class: a
    # template create renders its num_images and is charged (Part A A5)
    assert (
        "The preview will generate 24 image(s) (16 in its runs, 8 rendering the 2 new template(s) of the preview "
        "pack), about $0.60." in done.out
    )
    page = sheet.read_text()
    assert page.count("<tr><td><b>autumn-park</b>") == 2  # one row per test tune
    assert page.count("data:image/png;base64,") == 16  # every image embedded: the page stands alone
    assert "sitting in a carpet" in page and "lying in a carpet" in page  # account version beside the files' one
    assert {t["id"] for t in project.templates("pet-portraits")} == live_before  # the live pack was not touched
    assert project.templates_exist("pet-portraits-preview")


def test_preview_of_chosen_unchanged_prompts_runs_the_live_templates(
    project: Project, tmp_path: Path, mode: str
) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    sheet = tmp_path / "sheet.html"
    done = preview(
        project,
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
        runs = listed(http, f"/tunes/{tunes['dog']}/prompts")  # the nested listing: the top-level filter may be ignored
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


def test_the_budget_counts_the_template_renders_of_the_preview_pack(project: Project) -> None:
    """A changed prompt's files' version is created in the preview pack first, and a create renders (A5)."""
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    config = project.root / "packsync.yaml"
    config.write_text(config.read_text() + "policy:\n  max_images: 10\n")
    project.edit("pet-portraits.yaml", "sitting in a carpet of fallen", "lying in a carpet of fallen")
    done = preview(project, "pet-portraits", "--tune-ids", str(tunes["dog"]), "--changed")
    assert done.code == 3, done.out + done.err  # the runs alone: 2 versions x 4 images = 8, within the budget
    assert "The preview will generate 12 image(s) (8 in its runs, 4 rendering the 1 new template(s) of " in done.out
    assert "the preview would generate 12 images; the policy's budget is 10" in done.err
    assert not project.templates_exist("pet-portraits-preview")  # refused before anything was created

    allowed = preview(project, "pet-portraits", "--tune-ids", str(tunes["dog"]), "--changed", "--allow-over-budget")
    assert allowed.code == 0, allowed.out + allowed.err
    again = preview(project, "pet-portraits", "--tune-ids", str(tunes["dog"]), "--changed")
    assert again.code == 0, again.out + again.err
    assert "The preview will generate 8 image(s), about $0.20." in again.out  # the template is there now


def run_then(
    monkeypatch: pytest.MonkeyPatch, after: Any = None, answer: dict[str, Any] | None = None, before: Any = None
) -> None:
    """Make each pack run of the preview call ``before(pack_ref)`` just before it is sent and ``after(pack_ref)``
    once it is answered, and (with ``answer``) answer that instead."""
    from packsync.astria.client import AstriaClient

    original = AstriaClient.run_pack

    async def run_pack(self: AstriaClient, ref: int | str, tune: Any) -> dict[str, Any]:
        if before is not None:
            before(ref)
        got = await original(self, ref, tune)
        if after is not None:
            after(ref)
        return got if answer is None else answer

    monkeypatch.setattr(AstriaClient, "run_pack", run_pack)


def test_a_run_answered_without_ids_is_found_by_its_prompts(
    project: Project, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain pack's run answers {"status": 201, "message": "Prompts created"} (A6): no ids to go by."""
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    run_then(monkeypatch, answer={"status": 201, "message": "Prompts created"})
    done = preview(project, "pet-portraits", "--tune-ids", f"{tunes['dog']},{tunes['cat']}", "--prompt", "autumn-park")
    assert done.code == 0, done.out + done.err
    assert ": 2 run(s), 8 image(s), 8 embedded" in done.out


def test_a_customers_run_of_the_same_pack_at_the_same_time_is_not_mixed_in(
    project: Project, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the mark, cloned from the same template, in the pack's listing, there first: but on the customer's
    tune. (Realistic: the customer's clones land while the preview's are still on their way.)"""
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    with project.sandbox.http() as http:
        spec = {"title": "customer dog", "name": "dog", "branch": "fast", "image_urls": ["https://x/1.jpg"]}
        customer = http.post("/tunes", json={"tune": spec}).json()["id"]

    def customer_runs(ref: int | str) -> None:
        with project.sandbox.http() as http:
            # The customer's images are not embeddable: the preview's sheet would say so if it took one.
            tune = {"tune_ids": [customer], "characteristics": {"fur_color": "[sandbox:broken-images]"}}
            http.post(f"/p/{ref}/tunes", json={"tune": tune}).raise_for_status()
        if mode == "realistic":
            project.sandbox.admin("POST", "clock", {"advance": 200})  # the customer's run lands; then the preview's

    run_then(monkeypatch, before=customer_runs)
    done = preview(project, "pet-portraits", "--tune-ids", str(tunes["dog"]), "--prompt", "autumn-park")
    assert done.code == 0, done.out + done.err
    assert ": 1 run(s), 4 image(s), 4 embedded" in done.out
    with project.sandbox.http() as http:
        theirs = listed(http, f"/tunes/{customer}/prompts")
        ours = listed(http, f"/tunes/{tunes['dog']}/prompts")
    assert len(ours) == 1 and theirs  # the customer's run did happen, beside the preview's
    assert {p["orig_prompt_id"] for p in ours} <= {p["orig_prompt_id"] for p in theirs}
    assert ours[0]["base_pack_id"] == theirs[0]["base_pack_id"]


def test_clones_that_appear_late_are_waited_for_through_404_503_and_429(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Realistic: the clones land 10-180 s after the answer; meanwhile the listings answer 404 and 503,
    and 429 to a poll within 5 s of the last one (here the test's own, right after the run)."""
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    project.sandbox.admin("POST", "settings", {"realism": sorted(REALISTIC), "time_scale": SCALE})
    nested = f"/tunes/{tunes['dog']}/prompts"

    def poll_first(ref: int | str) -> None:
        with project.sandbox.http() as http:
            assert http.get(nested, params={"limit": 120}).status_code == 404  # not there yet

    run_then(monkeypatch, after=poll_first)
    project.sandbox.admin("DELETE", "requests")
    done = preview(project, "pet-portraits", "--tune-ids", str(tunes["dog"]), "--prompt", "royal-throne")
    assert done.code == 0, done.out + done.err
    assert ": 1 run(s), 4 image(s), 4 embedded" in done.out
    answered = [r["status"] for r in project.sandbox.requests()["log"] if r["path"] == nested]
    assert 429 in answered and 404 in answered and answered[-1] == 200
    assert len(answered) < 60  # polled at least 5 s apart, backing off: not every 0.2 s for up to 180 s


def test_preview_on_a_tune_that_does_not_exist(project: Project) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    done = project.run("preview", "pet-portraits", "--tune-ids", "999999", "--prompt", "royal-throne")
    assert done.code == 1
    assert "Traceback" not in done.err


def test_preview_on_the_embedded_sandbox_embeds_every_image(tmp_path: Path) -> None:
    """The embedded sandbox stops with packsync: the images are fetched before it does."""
    root = tmp_path / "project"
    (root / "packs").mkdir(parents=True)
    shutil.copy(PACKS / "pet-portraits.yaml", root / "packs")
    (root / "packsync.yaml").write_text("targets: {local: {url: sandbox}}\n")
    applied = run_packsync("apply", "--auto-approve", cwd=root)
    assert applied.code == 0, applied.out + applied.err
    with EmbeddedSandbox(root) as sandbox, httpx.Client(base_url=sandbox.url, headers=auth(sandbox.key)) as http:
        tunes = [
            http.post(
                "/tunes",
                json={"tune": {"title": f"test {n}", "name": n, "branch": "fast", "image_urls": ["https://x/1.jpg"]}},
            ).json()["id"]
            for n in ("dog", "cat")
        ]
    sheet = tmp_path / "sheet.html"
    done = run_packsync(
        "preview",
        "pet-portraits",
        "--tune-ids",
        ",".join(map(str, tunes)),
        "--prompt",
        "royal-throne",
        "--prompt",
        "autumn-park",
        "--out",
        str(sheet),
        "--timeout",
        "30",
        cwd=root,
        env={TIME_SCALE_ENV: str(SCALE)},
    )
    page = sheet.read_text()
    assert page.count("<img alt='' src='data:image/png;base64,") == 16  # 2 prompts x 2 tunes x 4 images
    assert "127.0.0.1" not in page  # no link to the sandbox, gone once packsync exited
    assert done.code == 0, done.out + done.err
    assert f"Wrote {sheet}: 4 run(s), 16 image(s), 16 embedded" in done.out


def test_the_sheet_goes_to_the_ignored_state_directory_of_the_project_by_default(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = sorted(p.name for p in project.root.iterdir())
    done = preview(project, "pet-portraits", "--tune-ids", str(tunes["dog"]), "--prompt", "royal-throne")
    assert done.code == 0, done.out + done.err
    sheet = project.root / ".packsync" / "preview" / "pet-portraits.html"
    assert f"Wrote {sheet}: 1 run(s), 4 image(s), 4 embedded" in done.out
    assert sheet.read_text().count("data:image/png;base64,") == 4
    assert sorted(p.name for p in project.root.iterdir()) == sorted({*before, ".packsync"})
    assert list(elsewhere.iterdir()) == []  # not the current directory either
    assert (project.root / ".packsync" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_an_image_that_cannot_be_embedded_is_named_counted_and_shown_as_missing(
    project: Project, tmp_path: Path, mode: str
) -> None:
    project.edit("pet-portraits.yaml", "painterly fine-art photography", "painterly fine-art [sandbox:broken-images]")
    assert project.apply("--pack", "pet-portraits").code == 0
    tunes = make_test_tunes(project)
    sheet = tmp_path / "sheet.html"
    done = preview(
        project,
        "pet-portraits",
        "--tune-ids",
        str(tunes["dog"]),
        "--prompt",
        "royal-throne",
        "--prompt",
        "autumn-park",
        "--out",
        str(sheet),
        "--timeout",
        "20",
    )
    assert done.code == 1, done.out + done.err
    assert "2 run(s), 8 image(s), 4 embedded" in done.out
    assert "packsync: error: 4 of 8 image(s) could not be embedded" in done.err
    missing = [line for line in done.err.splitlines() if line.startswith("  royal-throne [dog]")]
    assert len(missing) == 4
    assert all(f'on test tune #{tunes["dog"]} "test dog" (on the account): ' in line for line in missing)
    assert all(
        re.search(r"http://127\.0\.0\.1:\d+/images/\d+/\d\.png: answered text/html, not an image$", m) for m in missing
    )
    page = sheet.read_text()  # written all the same, with a visible placeholder for each missing image
    assert page.count("data:image/png;base64,") == 4
    assert page.count("<div class='missing'>image not embedded: answered text/html, not an image") == 4
    assert "Traceback" not in done.err


def test_a_test_tune_of_a_class_the_pack_lacks_is_refused_by_name(project: Project) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    with project.sandbox.http() as http:
        man = http.post(
            "/tunes",
            json={"tune": {"title": "test man", "name": "man", "branch": "fast", "image_urls": ["https://x/1.jpg"]}},
        ).json()["id"]
    done = project.run("preview", "pet-portraits", "--tune-ids", str(man), "--prompt", "royal-throne")
    assert done.code == 1, done.out + done.err
    assert (
        f'packsync: error: test tune #{man} "test man" (class man) is not of a class of pack pet-portraits '
        "(its classes: cat, dog)"
    ) in done.err
    assert "0 run(s)" not in done.out
    with project.sandbox.http() as http:
        assert http.get(f"/tunes/{man}/prompts").json() == []  # nothing was run

    tunes = make_test_tunes(project)  # a dog-only prompt on a cat tune: nothing to run either
    done = project.run("preview", "pet-portraits", "--tune-ids", str(tunes["cat"]), "--prompt", "dog-catching-frisbee")
    assert done.code == 1
    assert "nothing to run: no chosen prompt of pack pet-portraits (dog-catching-frisbee) is for the class" in done.err


def test_without_tune_ids_the_targets_test_tunes_are_needed(project: Project) -> None:
    done = project.run("preview", "pet-portraits", "--prompt", "royal-throne")
    assert done.code == 1
    assert "no test tunes to run on: give --tune-ids ID,..., or list the account's test tunes under " in done.err
    assert "targets.test.test_tune_ids in packsync.yaml" in done.err


# -- characteristics: the values a preview's runs fill {{name}} with (A6) ----------------------------------

EXAMPLE = "golden fur with a white chest"  # fur_color's example in packs/pet-portraits.yaml


def tune_patches(project: Project) -> list[str]:
    """The paths of the PATCH /tunes/:id requests the sandbox answered since its log was cleared."""
    log = project.sandbox.requests()["log"]
    return [r["path"] for r in log if r["method"] == "PATCH" and r["path"].startswith("/tunes/")]


def record_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The body of every pack run the preview sends, as sent."""
    from packsync.astria.client import AstriaClient

    sent: list[dict[str, Any]] = []
    original = AstriaClient.run_pack

    async def run_pack(self: AstriaClient, ref: int | str, tune: Any) -> dict[str, Any]:
        sent.append(dict(tune))
        return await original(self, ref, tune)

    monkeypatch.setattr(AstriaClient, "run_pack", run_pack)
    return sent


def test_a_preview_fills_the_examples_sets_them_on_the_test_tune_once_and_sends_them(
    project: Project, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    dog = make_test_tunes(project)["dog"]
    sent = record_runs(monkeypatch)
    sheet = tmp_path / "sheet.html"
    project.sandbox.admin("DELETE", "requests")
    done = preview(project, "pet-portraits", "--tune-ids", str(dog), "--prompt", "autumn-park", "--out", str(sheet))
    assert done.code == 0, done.out + done.err
    assert f'fur_color = "{EXAMPLE}" (its example in ' in done.out
    assert f'Set characteristics on test tune #{dog} "test dog": fur_color\n' in done.out
    assert tune_patches(project) == [f"/tunes/{dog}"]  # once, before the run
    assert "The preview will generate 4 image(s), about $0.10." in done.out  # a PATCH costs nothing
    assert [body["characteristics"] for body in sent] == [{"fur_color": EXAMPLE}]
    with project.sandbox.http() as http:
        assert http.get(f"/tunes/{dog}").json()["characteristics"] == {"fur_color": EXAMPLE}
        (clone,) = listed(http, f"/tunes/{dog}/prompts")
    assert f"with {EXAMPLE} sitting in a carpet" in clone["text"] and "{{" not in clone["text"]
    assert html.escape(EXAMPLE) in sheet.read_text().split("<table>")[0]  # the sheet says what was filled in

    project.sandbox.admin("DELETE", "requests")
    again = preview(project, "pet-portraits", "--tune-ids", str(dog), "--prompt", "autumn-park")
    assert again.code == 0, again.out + again.err
    assert tune_patches(project) == []  # the tune holds the values already
    assert "Set characteristics" not in again.out
    assert [body["characteristics"] for body in sent[1:]] == [{"fur_color": EXAMPLE}]


def test_set_overrides_the_example_and_keeps_the_tunes_other_characteristics(
    project: Project, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert project.apply("--pack", "pet-portraits").code == 0
    dog = make_test_tunes(project)["dog"]
    with project.sandbox.http() as http:
        body = {"tune": {"characteristics": {"fur_color": EXAMPLE, "age": "3 years"}}}
        assert http.patch(f"/tunes/{dog}", json=body).status_code == 200
    sent = record_runs(monkeypatch)
    project.sandbox.admin("DELETE", "requests")
    wanted = "black fur with white socks"
    done = preview(
        project, "pet-portraits", "--tune-ids", str(dog), "--prompt", "autumn-park", "--set", f"fur_color={wanted}"
    )
    assert done.code == 0, done.out + done.err
    assert f'fur_color = "{wanted}" (--set)' in done.out
    assert f'Set characteristics on test tune #{dog} "test dog": fur_color\n' in done.out
    assert tune_patches(project) == [f"/tunes/{dog}"]
    assert [b["characteristics"] for b in sent] == [{"fur_color": wanted}]
    with project.sandbox.http() as http:
        assert http.get(f"/tunes/{dog}").json()["characteristics"] == {"fur_color": wanted, "age": "3 years"}
        (clone,) = listed(http, f"/tunes/{dog}/prompts")
    assert f"with {wanted} sitting in a carpet" in clone["text"] and EXAMPLE not in clone["text"]


def test_a_used_characteristic_without_an_example_or_set_fails_before_anything_costs(project: Project) -> None:
    project.edit("pet-portraits.yaml", f', example: "{EXAMPLE}"', "")
    assert project.apply("--pack", "pet-portraits").code == 0
    dog = make_test_tunes(project)["dog"]
    project.sandbox.admin("DELETE", "requests")
    done = preview(project, "pet-portraits", "--tune-ids", str(dog), "--prompt", "autumn-park")
    assert done.code == 1, done.out + done.err
    assert re.search(
        r"packsync: error: \S*pet-portraits\.yaml:\d+:\d+: characteristic fur_color, which prompt autumn-park uses, "
        r"has no example and no --set value: add example: to it, or give --set fur_color=VALUE\n",
        done.err,
    ), done.err
    log = project.sandbox.requests()["log"]
    assert [r for r in log if r["method"] != "GET"] == []  # no run, no template, no PATCH
    assert "Traceback" not in done.err

    unknown = preview(project, "pet-portraits", "--tune-ids", str(dog), "--prompt", "autumn-park", "--set", "fur=x")
    assert unknown.code == 1
    assert 'packsync: error: "fur" is not a characteristic of pack pet-portraits (declared: fur_color)' in unknown.err

    plain = preview(project, "pet-portraits", "--tune-ids", str(dog), "--prompt", "royal-throne")  # uses none
    assert plain.code == 0, plain.out + plain.err
    assert tune_patches(project) == []


def test_characteristics_that_do_not_stick_are_warned_about(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PATCH answer is data: the tune is read again, and values it does not hold are said to be missing."""
    from packsync.astria.client import AstriaClient

    assert project.apply("--pack", "pet-portraits").code == 0
    dog = make_test_tunes(project)["dog"]

    async def ignored(self: AstriaClient, tune_id: int, fields: Any) -> dict[str, Any]:
        return {"id": tune_id, **dict(fields)}  # answers as if it took them, and changes nothing

    monkeypatch.setattr(AstriaClient, "update_tune", ignored)
    done = preview(project, "pet-portraits", "--tune-ids", str(dog), "--prompt", "autumn-park")
    assert done.code == 0, done.out + done.err
    assert (
        f"packsync: warning: test tune #{dog} does not hold fur_color after it was set: the account filled "
        "the placeholders from elsewhere, and the preview's texts may show {{fur_color}}"
    ) in done.err
