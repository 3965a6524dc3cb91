"""Templates are compared on what the account shows of them (no network): the echo profile, the
record of what was sent, parameters filled by the account, and the state file that keeps both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packsync.apply.converge import not_sticking
from packsync.astria.echo import EchoProfile, TargetState, load_state, state_path
from packsync.astria.objects import LiveTemplate
from packsync.plan.model import Change, LiveRef, PackPlan, Plan, Source, TemplateSpec
from packsync.plan.observe import Observation, find_match, match_templates

TEXT = "<lora:10:1> ohwx man, studio"
WANT = (("num_images", 4), ("super_resolution", True), ("seed", 7))
SPARSE_ANSWER = {"id": 5, "text": TEXT, "num_images": 4, "seed": 7, "cfg_scale": None, "scheduler": "dpm++2m_karras"}


def live_template(**changed: Any) -> LiveTemplate:
    """The sparse answer for #5, with ``changed`` fields, as the client hands it on."""
    return LiveTemplate.parse({**SPARSE_ANSWER, **changed})


SPARSE = live_template()


def recorded(**params: Any) -> Observation:
    state = TargetState()
    state.record(5, {"text": TEXT, **params})
    return Observation(state)


def test_a_parameter_the_account_does_not_show_is_never_a_difference_without_a_record() -> None:
    seen = Observation()
    assert seen.differences(WANT, SPARSE) == []
    assert seen.unverifiable(WANT, SPARSE) == ["super_resolution"]


def test_the_record_of_what_was_sent_covers_what_the_account_does_not_show() -> None:
    seen = recorded(num_images=4, super_resolution=True, seed=7)
    assert seen.differences(WANT, SPARSE) == [] and seen.unverifiable(WANT, SPARSE) == []
    # the files change super_resolution: seen from the record, though the account shows nothing
    assert seen.differences((("num_images", 4), ("seed", 7)), SPARSE) == ["super_resolution"]
    assert seen.differences((*WANT, ("inpaint_faces", True)), SPARSE) == ["inpaint_faces"]


def test_a_record_counts_only_for_the_template_it_was_made_for() -> None:
    seen = recorded(num_images=4, seed=7)  # super_resolution was not sent to #5 ...
    other = live_template(text=TEXT + " again")  # ... but #5 is now another template (an emptied sandbox)
    assert seen.differences(WANT, other) == []


def test_parameters_the_account_fills_are_not_differences_when_the_files_leave_them_out() -> None:
    seen = Observation.echoing_all()
    live = live_template(backend_version=0, super_resolution=True)
    assert seen.differences(WANT, live) == []
    assert seen.differences((*WANT, ("scheduler", "euler")), live) == ["scheduler"]


def test_a_parameter_left_out_is_compared_only_where_the_account_shows_nothing_for_it() -> None:
    live = live_template(super_resolution=True, cfg_scale=3.5)
    assert Observation().differences(WANT, live) == []  # unknown: it may be the account's fill
    profile = EchoProfile()
    profile.learn({"text": TEXT}, {"text": TEXT, "cfg_scale": None})  # seen: left out, reads back null
    assert Observation(TargetState(profile=profile)).differences(WANT, live) == ["cfg_scale"]
    profile.learn({"text": TEXT}, {"text": TEXT, "cfg_scale": 3.5})  # seen filled once: never compared again
    assert Observation(TargetState(profile=profile)).differences(WANT, live) == []


def test_the_profile_learns_echoed_normalized_and_absent_parameters() -> None:
    profile = EchoProfile()
    sent = {"text": TEXT, "num_images": 4, "steps": 30, "super_resolution": True}
    read = {"text": TEXT, "num_images": 4, "steps": 25, "scheduler": "euler_a"}
    changed = profile.learn(sent, read)
    assert {"num_images", "steps", "super_resolution", "scheduler"} <= set(changed)
    assert profile.of("num_images").sent == "echoed"
    assert profile.of("steps").sent == "normalized" and profile.expected("steps", 30) == 25
    assert profile.of("super_resolution").sent == "absent" and profile.unshown() == ["super_resolution"]
    assert profile.of("scheduler").omitted == "filled"
    assert profile.learn(sent, read) == []  # nothing new the second time
    seen = Observation(TargetState(profile=profile))
    assert seen.differences((("num_images", 4), ("steps", 30)), LiveTemplate.parse({**read, "id": 1})) == []


def test_the_state_file_round_trips_and_is_not_believed_when_it_is_not_ours(tmp_path: Path) -> None:
    state = load_state(tmp_path, "prod", "acct")
    assert state.problem is None and not state.sent
    state.record(12, {"text": TEXT, "super_resolution": True, "num_images": 1})
    state.profile.learn({"text": TEXT, "super_resolution": True}, {"text": TEXT})
    state.save()
    again = load_state(tmp_path, "prod", "acct")
    assert again.sent_to(12, TEXT) is not None and again.sent_to(12, TEXT).params == {"super_resolution": True}
    assert again.profile.unshown() == ["super_resolution"]
    assert (tmp_path / ".packsync" / ".gitignore").exists()
    assert load_state(tmp_path, "prod", "another account").problem is not None
    path = state_path(tmp_path, "prod")
    for broken in ("{not json", json.dumps([1]), json.dumps({"version": 99}), "\udcff"):
        path.write_text(broken, errors="surrogateescape")
        found = load_state(tmp_path, "prod", "acct")
        assert found.problem is not None and not found.sent
    hostile = {"version": 1, "account": "acct", "profile": {"params": {"bogus": {}, "seed": {"sent": "nope"}}}}
    hostile["sent"] = {"x": {}, "3": {"text": 5, "params": {}}, "4": {"text": TEXT, "params": {"evil": 1}}}
    path.write_text(json.dumps(hostile))
    found = load_state(tmp_path, "prod", "acct")
    assert found.problem is None and list(found.sent) == [4] and found.sent[4].params == {}
    assert "bogus" not in found.profile.params and found.profile.of("seed").sent is None


def test_matching_keeps_the_template_this_project_sent_and_never_merges_variants() -> None:
    seen = recorded(num_images=4, super_resolution=True, seed=7)
    older = live_template(id=2)
    live = [older, SPARSE, live_template(id=9, video_model="kling")]
    found = match_templates([(TEXT, WANT)], live, seen)
    assert found.kept[0].id == 5  # the recorded one, though #2 is older
    assert [t.id for t, _ in found.copies] == [2] and [t.id for t, _ in found.variants] == [9]
    assert found.variants[0][0].unmodeled == {"video_model": "kling"}
    assert find_match(TEXT, WANT, live, seen, exclude={2, 5}) == live[2]


def test_a_created_template_that_does_not_read_back_is_named_with_what_did_not_stick() -> None:
    spec = TemplateSpec("man", 10, "studio", TEXT, (("cfg_scale", 7),), Source("packs/a.yaml", 12))
    ref = LiveRef(5, "man", TEXT, (("cfg_scale", 3.5),), "f")
    after = Plan("t", packs=[PackPlan("a", "A", "packs/a.yaml", 1, changes=[Change("replace", spec, ref)])])
    seen = Observation.echoing_all()
    sent = {"text": TEXT, "cfg_scale": 7, "num_images": 4, "seed": 7}
    lines = not_sticking(after, {5: sent}, {5: live_template(cfg_scale=3.5)}, seen)
    assert lines == [
        "packs/a.yaml:12: a: template #5, created by this apply, does not keep what was sent: "
        "cfg_scale reads 3.5 (sent 7)"
    ]
    assert not_sticking(after, {6: {"text": TEXT}}, {}, seen) == []  # not created by this apply: not its concern
    rewritten = {5: live_template(text="<lora:10:1> ohwx man studio")}
    assert "another text" in not_sticking(after, {5: {"text": TEXT}}, rewritten, seen)[0]


def test_a_lost_answer_is_read_back_on_a_rising_schedule_until_it_shows(monkeypatch: Any) -> None:
    import asyncio

    from packsync.apply.applier import settle

    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    answers = iter([False, False, True])

    async def look() -> bool:
        return next(answers)

    assert asyncio.run(settle(look, (5, 15, 30, 60, 90))) is True
    assert slept == [5, 10, 15]  # read at 5, 15 and 30 s, then no more
    slept.clear()

    async def never() -> bool:
        return False

    assert asyncio.run(settle(never, (5, 15, 30, 60, 90))) is False and sum(slept) == 90


def test_the_lost_answer_schedule_is_configurable_and_checked() -> None:
    import pytest

    from packsync.astria.connect import lost_answer_waits
    from packsync.astria.errors import ConfigError
    from packsync.astria.settings import LOST_ANSWER_WAITS

    assert lost_answer_waits({}) == LOST_ANSWER_WAITS == (5, 15, 30, 60, 90)
    assert lost_answer_waits({"PACKSYNC_LOST_ANSWER_WAITS": "1, 2.5,4"}) == (1, 2.5, 4)
    for bad in ("soon", "5,,6", "9,3", "-1", "nan"):
        with pytest.raises(ConfigError, match="PACKSYNC_LOST_ANSWER_WAITS"):
            lost_answer_waits({"PACKSYNC_LOST_ANSWER_WAITS": bad})
