"""Safety limits: what apply refuses (exit 3) unless a flag allows it."""

from __future__ import annotations

import re

from tests.engine.conftest import Project


def drop_prompts(project: Project, name: str, keys: list[str]) -> None:
    path = project.pack_file(name)
    text = path.read_text()
    for key in keys:
        start = text.index(f"  - key: {key}\n")
        nxt = text.find("\n  - key:", start + 5)
        text = text[:start] + (text[nxt + 1 :] if nxt != -1 else "")
    path.write_text(text)


def keys_of(project: Project, name: str) -> list[str]:
    return re.findall(r"^  - key: (\S+)$", project.pack_file(name).read_text(), re.MULTILINE)


def writes(project: Project) -> int:
    return sum(1 for e in project.sandbox.requests()["log"] if e["method"] != "GET")


def setup_applied(project: Project) -> None:
    assert project.apply().code == 0
    project.sandbox.admin("DELETE", "requests")


def test_removing_more_than_the_share_is_refused(project: Project) -> None:
    setup_applied(project)
    drop_prompts(project, "pet-portraits.yaml", keys_of(project, "pet-portraits.yaml")[:8])
    plan = project.plan()
    assert "REFUSED: pack pet-portraits: removing" in plan.out
    assert "(allow with --allow-mass-removal)" in plan.out
    done = project.apply()
    assert done.code == 3
    assert "exceeds the policy's 30%" in done.err
    assert writes(project) == 0
    assert project.apply("--allow-mass-removal").code == 0
    assert project.plan("--detailed-exitcode").code == 0


def test_removing_more_than_the_count_is_refused(project: Project) -> None:
    setup_applied(project)
    (project.root / "packsync.yaml").write_text(
        (project.root / "packsync.yaml").read_text() + "policy:\n  max_remove_count: 1\n"
    )
    drop_prompts(project, "corporate-headshots.yaml", keys_of(project, "corporate-headshots.yaml")[:2])
    done = project.apply()
    assert done.code == 3
    assert "exceeds the policy's 1" in done.err
    assert writes(project) == 0


def test_any_removal_in_a_protected_pack_is_refused(project: Project) -> None:
    setup_applied(project)
    project.edit("pet-portraits.yaml", "title: Pet Portraits\n", "title: Pet Portraits\nprotect: true\n")
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4243\n")  # a replace removes the old one
    done = project.apply()
    assert done.code == 3
    assert "is protected" in done.err
    assert writes(project) == 0
    assert project.apply("--allow-protected").code == 0


def test_emptying_a_pack_is_refused(project: Project) -> None:
    setup_applied(project)
    text = project.pack_file("pet-portraits.yaml").read_text()
    project.pack_file("pet-portraits.yaml").write_text(text[: text.index("prompts:\n")] + "prompts: []\n")
    done = project.apply()
    assert done.code == 3
    assert "declares no prompts but has 30 live templates" in done.err
    assert writes(project) == 0
    done = project.apply("--allow-empty", "--allow-mass-removal")
    assert done.code == 0, done.err
    assert project.templates("pet-portraits") == []


def test_the_image_budget_is_enforced(project: Project) -> None:
    (project.root / "packsync.yaml").write_text(
        (project.root / "packsync.yaml").read_text() + "policy:\n  max_images: 100\n"
    )
    plan = project.plan()
    assert "REFUSED: the new templates would generate 324 images; the policy's budget is 100" in plan.out
    done = project.apply()
    assert done.code == 3
    assert writes(project) == 0
    assert project.apply("--allow-over-budget").code == 0


def test_removing_duplicates_is_not_a_mass_removal(project: Project) -> None:
    setup_applied(project)
    with project.sandbox.http() as http:
        for template in project.templates("pet-portraits")[:12]:
            body = {
                k: template[k]
                for k in ("text", "num_images", "negative_prompt", "seed", "super_resolution")
                if template[k] is not None
            }
            body.update(
                {k: template[k] for k in ("aspect_ratio", "cfg_scale", "color_grading") if template[k] is not None}
            )
            http.post(
                f"/tunes/{template['tune_id']}/prompts", json={"prompt": {**body, "pack_id": template["pack_id"]}}
            )
    done = project.apply()
    assert done.code == 0, done.err
    assert len(project.templates("pet-portraits")) == 30


def test_replacing_every_template_counts_toward_the_removal_limits(project: Project) -> None:
    """A churn that replaces every template (a value the account stores differently, or an edit
    of a shared default) is refused like a mass removal, never paid for silently."""
    setup_applied(project)
    project.edit("pet-portraits.yaml", "  num_images: 4\n", "  num_images: 3\n")
    plan = project.plan_json()
    assert plan["summary"]["templates_to_replace"] == 28  # one prompt sets its own num_images
    assert plan["summary"]["templates_to_remove"] == 0
    done = project.apply()
    assert done.code == 3
    assert "pack pet-portraits: replacing 28 of 30 live templates (93%) exceeds the policy's 30%" in done.err
    assert writes(project) == 0
    assert project.apply("--allow-mass-removal").code == 0
    assert project.plan("--detailed-exitcode").code == 0


def test_replaces_and_removes_add_up_toward_the_count(project: Project) -> None:
    setup_applied(project)
    (project.root / "packsync.yaml").write_text(
        (project.root / "packsync.yaml").read_text() + "policy:\n  max_remove_count: 2\n"
    )
    keys = keys_of(project, "pet-portraits.yaml")
    project.edit("pet-portraits.yaml", "    seed: 4242\n", "    seed: 4243\n")  # a replace per class: 2
    assert project.apply("--allow-mass-removal").code == 0
    drop_prompts(project, "pet-portraits.yaml", keys[-1:])  # and now a removal on top of a replace
    project.edit("pet-portraits.yaml", "    seed: 4243\n", "    seed: 4244\n")
    done = project.apply()
    assert done.code == 3
    assert "removing or replacing" in done.err and "exceeds the policy's 2" in done.err
