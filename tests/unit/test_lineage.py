"""Lineage without a server: an earlier template is named by its own text or by the text of a
prompt generated from it, the newest version winning, and nothing is guessed."""

from __future__ import annotations

import json
from pathlib import Path

from packsync.astria.echo import Retired, TargetState, load_state, state_path
from packsync.feedback.lineage import Version, attribute

V1 = Version("autumn", "dog", "<lora:11:1> ohwx dog with {{fur_color}} sitting in leaves", "aaa1111", "2026-10-01")
V2 = Version("autumn", "dog", "<lora:11:1> ohwx dog with {{fur_color}} lying in leaves", "bbb2222", "2026-11-01")
OTHER = Version("beach", "dog", "<lora:11:1> ohwx dog on a beach", "aaa1111", "2026-10-01")


def test_a_template_is_named_by_its_sent_text_or_by_a_generated_prompt() -> None:
    found = attribute(
        {
            7: ("<lora:11:1> ohwx dog with {{fur_color}} sitting in leaves", ""),
            8: (None, "<lora:90412:1> ohwx dog with ginger fur sitting in leaves"),  # the customer's tune
            9: (None, "<lora:90412:1> ohwx dog with ginger fur sitting in snow"),  # no version says this
            10: (None, "<faceid:90412:1> ohwx dog on a beach"),  # another tag kind is another text
        },
        [V2, V1, OTHER],
    )
    assert (found[7].version, found[7].how) == (V1, "sent")
    assert (found[8].version, found[8].how) == (V1, "generated")
    assert 9 not in found and 10 not in found


def test_the_newest_version_with_the_text_names_the_key() -> None:
    renamed = Version("autumn-leaves", "dog", V1.text, "ccc3333", "2026-12-01")
    found = attribute({7: (V1.text, ""), 8: (None, "<lora:5:1> ohwx dog with x sitting in leaves")}, [renamed, V2, V1])
    assert found[7].version.key == found[8].version.key == "autumn-leaves"


def test_a_removed_templates_text_is_kept_for_lineage_and_bounded() -> None:
    import packsync.astria.echo as echo

    state = TargetState()
    state.record(5, {"text": "a"})
    state.record(6, {"text": "b"})
    state.retire(5, "shown text", "pets", "autumn", "dog")
    state.retire(7, " never sent ")  # removed, not created here: the text it showed
    assert 5 not in state.sent and state.texts() == {5: "a", 6: "b", 7: "never sent"}
    assert (state.retired[5].key, state.retired[5].class_name, state.retired[7].key) == ("autumn", "dog", "")
    assert TargetState(retired={}).to_json()["retired"] == {}
    echo.MAX_RETIRED, before = 2, echo.MAX_RETIRED
    try:
        for tid in (10, 11, 12):
            state.record(tid, {"text": str(tid)})
        for tid in (10, 11, 12):
            state.retire(tid, "")
        assert sorted(state.retired) == [11, 12]  # the oldest go first
    finally:
        echo.MAX_RETIRED = before


def test_the_retired_texts_survive_the_state_file(tmp_path: Path) -> None:
    state = load_state(tmp_path, "prod", "acct")
    state.record(5, {"text": "a"})
    state.retire(5, "a", "pets", "autumn", "dog")
    state.save()
    again = load_state(tmp_path, "prod", "acct")
    assert again.texts() == {5: "a"} and again.retired == state.retired
    path = state_path(tmp_path, "prod")
    data = json.loads(path.read_text())
    data["retired"] = {"6": {"text": 5}, "x": {"text": "b"}, "7": "old form", "8": {"text": "c", "key": "k"}}
    path.write_text(json.dumps(data))
    assert load_state(tmp_path, "prod", "acct").retired == {8: Retired("c", "", "k", "")}  # the rest is not believed
