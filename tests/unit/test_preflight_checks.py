"""The reference tune preflight's checks, on answers made up here and a fixed "now" (no network, no sleeping)."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from packsync.astria.errors import NotFound
from packsync.packfiles.schema import load_schema
from packsync.plan.formats import render_markdown, render_text
from packsync.plan.model import Finding, Plan, Source, TuneUse
from packsync.plan.preflight import MISSING, Unreadable, check_reference_tunes, check_tune, parse_timestamp, tune_uses
from packsync.term import Style

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
MAN = TuneUse("corporate-headshots", "man", Source("packs/corporate-headshots.yaml", 13))
OTHER_MAN = TuneUse("more-men", "man", Source("packs/more-men.yaml", 9))


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def tune(**fields: Any) -> dict[str, Any]:
    return {"id": 690204, "name": "man", "auto_extend": False, "expires_at": stamp(NOW + timedelta(days=20)), **fields}


def check(answer: Any, *uses: TuneUse) -> list[Finding]:
    return check_tune(690204, answer, list(uses or (MAN,)), NOW)


# -- timestamps ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05T14:32:40.363Z", datetime(2026, 12, 5, 14, 32, 40, 363000, timezone.utc)),
        ("2026-12-05T14:32:40Z", datetime(2026, 12, 5, 14, 32, 40, tzinfo=timezone.utc)),
        ("2026-12-05T16:32:40+02:00", datetime(2026, 12, 5, 14, 32, 40, tzinfo=timezone.utc)),
        ("2026-12-05T09:32:40-0500", datetime(2026, 12, 5, 14, 32, 40, tzinfo=timezone.utc)),
        ("2026-12-05 14:32:40.123456789", datetime(2026, 12, 5, 14, 32, 40, 123456, timezone.utc)),  # no zone: UTC
        ("2026-12-05", datetime(2026, 12, 5, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_the_api_may_write_are_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "soon",
        "2026-13-01T00:00:00Z",
        "2026-02-30",
        "0000-01-01",
        "2026-12-05T25:00:00Z",
        1764700000,
        True,
        {"at": "2026-12-05"},
        ["2026-12-05"],
        "2026-12-05T14:32:40Z" + "0" * 100,
        "9999-12-31T23:59:59-23:59",
    ],
)
def test_anything_else_is_not_a_timestamp_and_never_raises(value: Any) -> None:
    assert parse_timestamp(value) is None


# -- expiry ---------------------------------------------------------------------


def test_a_tune_expiring_within_seven_days_is_a_warning_with_its_date_and_days_left() -> None:
    (found,) = check(tune(expires_at=stamp(NOW + timedelta(days=3, hours=5))))
    assert found.severity == "warning" and found.days_left == 3 and found.uses == (MAN,)
    assert "reference tune 690204 (class man) expires on 2026-12-05 17:00 UTC (3 days left)" in found.message
    assert "auto_extend" in found.message and found.expires_at == stamp(NOW + timedelta(days=3, hours=5))


@pytest.mark.parametrize(
    ("left", "warned", "shown"),
    [
        (timedelta(days=7), True, "7 days left"),
        (timedelta(days=7, seconds=1), False, ""),
        (timedelta(days=1), True, "1 day left"),
        (timedelta(hours=3), True, "less than a day left"),
        (timedelta(days=30), False, ""),
    ],
)
def test_the_warning_starts_seven_days_before(left: timedelta, warned: bool, shown: str) -> None:
    found = check(tune(expires_at=stamp(NOW + left)))
    assert [f.severity for f in found] == (["warning"] if warned else [])
    assert all(shown in f.message for f in found)


@pytest.mark.parametrize(
    ("ago", "shown"), [(timedelta(days=2, hours=1), "2 days ago"), (timedelta(minutes=1), "less than a day ago")]
)
def test_a_tune_past_expires_at_is_an_error(ago: timedelta, shown: str) -> None:
    (found,) = check(tune(expires_at=stamp(NOW - ago)))
    assert found.severity == "error" and shown in found.message
    assert "deletes a tune 30 days after training unless auto_extend" in found.message


@pytest.mark.parametrize("expires", [stamp(NOW - timedelta(days=40)), stamp(NOW + timedelta(days=1))])
def test_auto_extend_means_no_expiry_finding(expires: str) -> None:
    assert check(tune(auto_extend=True, expires_at=expires)) == []


@pytest.mark.parametrize("value", ["true", 1, None])
def test_an_auto_extend_that_is_not_true_does_not_hide_the_expiry(value: Any) -> None:
    assert [f.severity for f in check(tune(auto_extend=value, expires_at=stamp(NOW + timedelta(days=2))))] == [
        "warning"
    ]


@pytest.mark.parametrize("fields", [{"expires_at": None}, {"expires_at": "next week"}, {"expires_at": 12}, {}])
def test_an_unknown_expiry_is_no_finding(fields: dict[str, Any]) -> None:
    answer = tune()
    answer.pop("expires_at")
    assert check({**answer, **fields}) == []


# -- existence, name, shape ---------------------------------------------------------


def test_a_missing_tune_is_an_error_for_each_use() -> None:
    (found,) = check(MISSING, MAN, OTHER_MAN)
    assert found.severity == "error" and found.uses == (MAN, OTHER_MAN)
    assert "reference tune 690204 does not exist on the account (GET /tunes/690204 answered 404" in found.message


def test_a_name_that_is_not_the_class_exactly_is_a_warning_naming_both() -> None:
    (found,) = check(tune(name="Man"))
    assert found.severity == "warning"
    assert "reference tune 690204 is named 'Man', not 'man' (the class)" in found.message
    assert "prompts_per_class" in found.message


def test_a_tune_two_classes_share_is_wrong_for_the_one_it_is_not_named_after() -> None:
    woman = TuneUse("other", "woman", Source("packs/other.yaml", 4))
    (found,) = check(tune(), MAN, woman)
    assert found.uses == (woman,) and "not 'woman'" in found.message


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ([tune()], "answered a list, not a tune"),
        ("man", "answered str, not a tune"),
        (None, "answered nothing, not a tune"),
        (tune(id=690205), "answered a tune with id 690205"),
        (tune(id="690204"), "answered a tune with id '690204'"),
        ({"name": "man"}, "answered a tune with id None"),
        (Unreadable("expected JSON, got text/html"), "something that is not a tune: expected JSON"),
    ],
)
def test_an_answer_that_is_not_that_tune_is_an_error_naming_it(answer: Any, shown: str) -> None:
    (found,) = check(answer)
    assert found.severity == "error" and "reference tune 690204" in found.message and shown in found.message


def test_control_characters_from_the_account_are_shown_escaped() -> None:
    hostile = "\x1b]0;pwned\x07man\u202e"
    (found,) = check(tune(name=hostile))
    assert hostile not in found.message and "\\x1b" in found.message  # in the message: as Python writes it
    raw = Finding("error", 1, f"reference tune 1 says {hostile}", (MAN,))  # and were one to get through
    text = io.StringIO()
    render_text(Plan(target="test", preflight=[raw]), text, Style(False))
    markdown = render_markdown(Plan(target="test", preflight=[raw]))
    for shown in (text.getvalue(), markdown):
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown


@pytest.mark.parametrize("name", [None, 7, ["man"]])
def test_a_name_that_is_not_a_string_is_an_error(name: Any) -> None:
    (found,) = check(tune(name=name))
    assert f"has no name ({name!r})" in found.message


def test_a_warning_is_said_once_for_every_pack_that_shares_the_tune() -> None:
    found = check(tune(expires_at=stamp(NOW + timedelta(days=2))), MAN, OTHER_MAN)
    assert [(f.severity, f.uses) for f in found] == [("warning", (MAN, OTHER_MAN))]


# -- reading ------------------------------------------------------------------------


class FakeClient:
    """Answers GET /tunes/:id from a dict; records what was asked and how many at once."""

    def __init__(self, answers: dict[int, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.at_once = 0
        self.most_at_once = 0

    async def request(self, method: str, path: str, **_: Any) -> Any:
        self.asked.append(f"{method} {path}")
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        await asyncio.sleep(0)
        self.at_once -= 1
        answer = self.answers[int(path.rsplit("/", 1)[1])]
        if answer is MISSING:
            raise NotFound(method, path, 404, "Tune not found")
        return answer


def _packs() -> list[Any]:
    from packsync.packfiles.diagnostics import Location
    from packsync.packfiles.pack import ModelConfig, Pack, PackClass

    def pack(slug: str, *classes: tuple[str, int, int]) -> Pack:
        return Pack(
            slug=slug,
            title=slug,
            model=ModelConfig(1504944, "lora"),
            classes=tuple(PackClass(n, t, location=Location(f"packs/{slug}.yaml", line, 3)) for n, t, line in classes),
            prompts=(),
            path=f"packs/{slug}.yaml",
        )

    return [pack("a", ("man", 1, 13), ("woman", 2, 14)), pack("b", ("man", 1, 9), ("dog", 3, 10))]


def test_each_tune_is_read_once_through_the_targets_mapping_and_together() -> None:
    client = FakeClient({1: tune(id=1), 20: {"id": 20, "name": "woman"}, 3: MISSING})
    found = asyncio.run(check_reference_tunes(client, _packs(), {2: 20}, now=lambda: NOW))  # type: ignore[arg-type]
    assert sorted(client.asked) == ["GET /tunes/1", "GET /tunes/20", "GET /tunes/3"]
    assert client.most_at_once == 3
    assert [(f.severity, f.tune_id, [str(u.source) for u in f.uses]) for f in found] == [
        ("error", 3, ["packs/b.yaml:10"])
    ]
    client.answers[20] = {"id": 20, "name": "Woman"}
    (mapped,) = asyncio.run(check_reference_tunes(client, _packs()[:1], {2: 20}, now=lambda: NOW))  # type: ignore[arg-type]
    assert mapped.tune_id == 20 and mapped.message.endswith("(the target's tune_ids maps the files' 2 to it)")


def test_no_classes_no_reads() -> None:
    client = FakeClient({})
    assert asyncio.run(check_reference_tunes(client, [], {})) == []  # type: ignore[arg-type]
    assert client.asked == []


def test_uses_keep_the_file_and_line_of_each_class() -> None:
    uses = tune_uses(_packs(), {})
    assert [(u.pack, u.class_name, str(u.source)) for u in uses[1]] == [
        ("a", "man", "packs/a.yaml:13"),
        ("b", "man", "packs/b.yaml:9"),
    ]


# -- shown ------------------------------------------------------------------------


def test_findings_show_in_text_markdown_and_json() -> None:
    warning, error = check(tune(expires_at=stamp(NOW + timedelta(days=2))), MAN)[0], check(MISSING, OTHER_MAN)[0]
    plan = Plan(target="test", preflight=[error, warning])
    text = io.StringIO()
    render_text(plan, text, Style(False))
    shown = text.getvalue()
    assert "Reference tunes:" in shown
    assert "ERROR packs/more-men.yaml:9 (more-men, class man):" in shown
    assert "WARNING packs/corporate-headshots.yaml:13 (corporate-headshots, class man):" in shown
    assert "apply sends nothing until they are fixed" in shown
    markdown = render_markdown(plan)
    assert "⛔ **Reference tune error** (packs/more-men.yaml:9 (more-men, class man))" in markdown
    assert "⚠️ **Reference tune warning**" in markdown and "2 days left" in markdown
    data = json.loads(json.dumps(plan.to_json()))
    Draft202012Validator(load_schema("plan.schema.json")).validate(data)
    assert [f["severity"] for f in data["preflight"]] == ["error", "warning"]
    assert data["preflight"][1]["days_left"] == 2
    assert data["preflight"][1]["uses"] == [
        {
            "pack": "corporate-headshots",
            "class": "man",
            "source": {"file": "packs/corporate-headshots.yaml", "line": 13},
        }
    ]
    # read back for showing (packsync comment); apply never takes them from the file
    assert Plan.from_json(data).preflight == [error, warning]


def test_a_plan_without_findings_says_nothing_of_them() -> None:
    text = io.StringIO()
    render_text(Plan(target="test"), text, Style(False))
    assert "Reference tunes" not in text.getvalue() and "Reference tune" not in render_markdown(Plan(target="test"))
