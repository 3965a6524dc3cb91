"""``conclude_experiment``: the losers' prompts go, the experiment is closed, every other byte
of the file stays; a layout the line edit cannot handle is rewritten, never left wrong."""

from __future__ import annotations

import difflib

import pytest

from packsync.packfiles.edit import EditError, conclude_experiment
from packsync.packfiles.loader import load_text
from tests.conftest import run_packsync

HEAD = """# yaml-language-server: $schema=../schemas/pack.schema.json
# Headshots: the pack of the year.
slug: heads
title: Heads
model: { base_tune_id: 1504944, model_type: lora }
classes:
  man: { tune_id: 690204 }
prompts:
"""
PROMPTS = {
    "a": '  # the classic one\n  - key: a\n    text: "{{subject}}, window light"  # trailing words\n    seed: 1\n',
    "b": '  - key: b\n    text: "{{subject}}, warm window light"\n    seed: 2\n',
    "c": '\n  # the moody one\n  - key: c\n    text: "{{subject}}, moody light"\n    seed: 3\n',
    "d": '  - key: d\n    text: "{{subject}}, studio"\n',
}


def pack_text(order: str = "abcd", experiment: str = "", tail: str = "") -> str:
    body = "".join(PROMPTS[k] for k in order)
    experiments = experiment or (
        "experiments:\n  # is warmer better?\n  - name: warmer\n    control: a\n    variants: [b, c]\n"
        "    min_effect: 0.05  # five points\n"
    )
    return HEAD + body + experiments + tail


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def data(text: str) -> dict:  # type: ignore[type-arg]
    doc = load_text(text, "p.yaml").document
    assert doc is not None
    return doc.data


def test_a_variant_wins_the_control_and_the_other_variant_go_and_nothing_else_moves() -> None:
    before = pack_text()
    after = conclude_experiment(before, "p.yaml", "warmer", "b")
    assert [p["key"] for p in data(after)["prompts"]] == ["b", "d"]
    (entry,) = data(after)["experiments"]
    assert (entry["status"], entry["winner"], entry["min_effect"]) == ("concluded", "b", 0.05)
    removed = [line[1:] for line in changed_lines(before, after) if line.startswith("-")]
    added = [line[1:] for line in changed_lines(before, after) if line.startswith("+")]
    assert removed == [*PROMPTS["a"].splitlines(), *PROMPTS["c"].splitlines()[1:]]  # with the comments above each
    assert added == ["    status: concluded", "    winner: b"]
    assert "# is warmer better?" in after and "# five points" in after and "# trailing words" not in after
    assert after.startswith(HEAD)


def test_the_control_wins_and_the_last_prompt_can_go() -> None:
    before = pack_text("dbca", experiment="experiments:\n  - name: warmer\n    control: d\n    variants: [a]\n")
    after = conclude_experiment(before, "p.yaml", "warmer", "d")
    assert [p["key"] for p in data(after)["prompts"]] == ["d", "b", "c"]
    assert "the classic one" not in after and "the moody one" in after
    assert after.endswith("    variants: [a]\n    status: concluded\n    winner: d\n")


def test_an_existing_status_line_is_replaced_in_place_keeping_its_comment() -> None:
    experiment = "experiments:\n  - name: warmer\n    control: a\n    variants: [b]\n    status: running  # go\n"
    after = conclude_experiment(pack_text("ab", experiment), "p.yaml", "warmer", "a")
    assert "    status: concluded  # go\n    winner: a\n" in after


def test_a_key_after_the_experiments_and_footer_comments_are_kept() -> None:
    experiment = "experiments:\n  - name: warmer\n    control: a\n    variants:\n      - b\n"
    before = pack_text("ab", experiment, tail="\n# the end\nsubtitle: more\n")
    after = conclude_experiment(before, "p.yaml", "warmer", "b")
    assert after.endswith("      - b\n    status: concluded\n    winner: b\n\n# the end\nsubtitle: more\n")
    assert data(after)["subtitle"] == "more"


def test_a_flow_style_file_is_rewritten_with_its_comments() -> None:
    before = (
        HEAD.replace("prompts:\n", "")
        + "# the prompts\n"
        + 'prompts: [{key: a, text: "{{subject}}, a", seed: 1}, {key: b, text: "{{subject}}, b", seed: 2}]\n'
        + "experiments: [{name: warmer, control: a, variants: [b]}]\n"
    )
    after = conclude_experiment(before, "p.yaml", "warmer", "b")
    assert [p["key"] for p in data(after)["prompts"]] == ["b"]
    assert data(after)["experiments"][0]["winner"] == "b" and "# Headshots: the pack of the year." in after


def test_the_concluded_file_is_valid_and_concluding_again_changes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    after = conclude_experiment(pack_text(), "p.yaml", "warmer", "c")
    file = tmp_path / "packs" / "heads.yaml"
    file.parent.mkdir()
    file.write_text(after.replace("../schemas/pack.schema.json", "x"))
    done = run_packsync("validate", str(file))
    assert done.code == 0, done.out + done.err
    assert conclude_experiment(after, "p.yaml", "warmer", "c") == after


@pytest.mark.parametrize(
    ("name", "winner", "said"),
    [
        ("cooler", "a", 'no experiment is named "cooler" (its experiments: warmer)'),
        ("warmer", "d", 'p.yaml:25: "d" is not an arm of experiment "warmer" (its arms: a, b, c)'),
    ],
)
def test_what_cannot_be_concluded_is_one_clear_error(name: str, winner: str, said: str) -> None:
    with pytest.raises(EditError, match=said.replace("(", r"\(").replace(")", r"\)")):
        conclude_experiment(pack_text(), "p.yaml", name, winner)


def test_an_experiment_concluded_on_another_winner_is_refused() -> None:
    after = conclude_experiment(pack_text(), "p.yaml", "warmer", "b")
    with pytest.raises(EditError, match='already concluded on "b"'):
        conclude_experiment(after, "p.yaml", "warmer", "a")
