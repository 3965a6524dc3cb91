"""Answers from the account are checked before they are believed (no network)."""

from __future__ import annotations

from packsync.apply.applier import not_as_asked
from packsync.plan.model import Source, TemplateSpec

SPEC = TemplateSpec(
    "man", 10, "a", "<lora:10:1> ohwx man, studio", (("num_images", 4), ("style", "Cinematic")), Source("f")
)


def answer(**fields: object) -> dict[str, object]:
    return {"id": 99, "text": SPEC.text, "num_images": 4, "style": "Cinematic", **fields}


def test_the_new_template_asked_for_is_accepted() -> None:
    assert not_as_asked(SPEC, answer(), {1, 2}) is None
    assert not_as_asked(SPEC, answer(num_images=4.0, text=f"  {SPEC.text} "), set()) is None


def test_parameters_left_out_or_filled_by_the_account_prove_nothing() -> None:
    sparse = {"id": 99, "text": SPEC.text}
    assert not_as_asked(SPEC, sparse, set()) is None
    assert not_as_asked(SPEC, answer(scheduler="euler_a", backend_version="1"), set()) is None


def test_an_id_already_on_the_account_is_a_replay() -> None:
    why = not_as_asked(SPEC, answer(id=2), {1, 2})
    assert why is not None and "existing template #2" in why


def test_another_text_or_parameter_is_not_the_template_asked_for() -> None:
    why = not_as_asked(SPEC, answer(text="<lora:10:1> ohwx man, other"), set())
    assert why is not None and "text is not the one sent" in why
    why = not_as_asked(SPEC, answer(style="Anime"), set())
    assert why is not None and "style is not what was sent" in why
    why = not_as_asked(SPEC, answer(num_images=1), set())
    assert why is not None and "num_images" in why


def test_an_answer_created_well_before_the_request_is_an_existing_prompt() -> None:
    from datetime import datetime, timezone

    started = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    old = answer(created_at="2026-12-01T09:00:00.000Z")
    why = not_as_asked(SPEC, old, set(), started=started)
    assert why is not None and "distinct seed" in why
    # within the clock skew allowed, or a time that is no time: believed new
    assert not_as_asked(SPEC, answer(created_at="2026-12-02T11:57:00Z"), set(), started=started) is None
    assert not_as_asked(SPEC, answer(created_at="yesterday"), set(), started=started) is None
    assert not_as_asked(SPEC, answer(created_at="2026-12-02T11:00:00"), set(), started=started) is not None
