"""The semantic rules of pack files, pinned: each diagnostic's place, rule and message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from packsync.desired.check import PackChecker, claim_of
from packsync.packfiles.loader import load_text
from packsync.packfiles.rules import RULES
from tests.conftest import FIXTURES

HEAD = """\
slug: demo
title: Demo
model: {base_tune_id: 1, model_type: lora}
classes:
  man: {tune_id: 2}
  woman: {tune_id: 3}
"""
BODY = HEAD.split("\n", 2)[2]  # everything after the slug and the title
A = "prompts:\n  - key: a\n    text: '{{subject}}'\n"
OTHER = A.replace("'{{subject}}'", "'{{subject}}, other'")  # A on the same tunes would be one template to Astria

CASES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "slug-title-mismatch": (
        "slug: other\ntitle: Café Demo\n" + BODY + A,
        [
            (
                "p.yaml:1:7",
                "slug-title-mismatch",
                'slug "other" is not the slug the server derives from the title "Café Demo", which is "cafe-demo": '
                'use slug "cafe-demo", or pin the existing pack with id',
            )
        ],
    ),
    "pinned-slug-is-free": ("slug: other\nid: 5\ntitle: Café Demo\n" + BODY + A, []),
    "characteristic-reserved": (
        HEAD + "characteristics:\n  subject: {description: x}\n" + A,
        [
            (
                "p.yaml:8:3",
                "characteristic-reserved",
                "`subject` is packsync's own placeholder (the class's tune tag) and cannot be declared",
            )
        ],
    ),
    "prompts-empty": (HEAD + "prompts: []\n", [("p.yaml:7:10", "prompts-empty", "the pack has no prompts")]),
    "prompt-key-duplicate": (
        HEAD
        + "prompts:\n  - key: b\n    text: '{{subject}} x'\n  - key: a\n    text: '{{subject}} y'\n"
        + "  - key: a\n    text: '{{subject}} z'\n",
        [
            (
                "p.yaml:12:10",
                "prompt-key-duplicate",
                'prompt key "a" is already used by the prompt at line 10; keys must be unique in a pack',
            )
        ],
    ),
    "prompt-class-unknown": (
        HEAD + "prompts:\n  - key: a\n    classes: [man, wman, horse]\n    text: '{{subject}} x'\n",
        [
            ("p.yaml:9:20", "prompt-class-unknown", 'class "wman" is not a class of this pack; did you mean "woman"?'),
            (
                "p.yaml:9:26",
                "prompt-class-unknown",
                'class "horse" is not a class of this pack; the pack\'s classes are: man, woman',
            ),
        ],
    ),
    "placeholders": (
        HEAD
        + "characteristics:\n  eye_color: {description: e}\nprompts:\n  - key: a\n"
        + "    text: '{{ subject }} {{eye_colour}} {{eye color}} {{ eye_color }} {{mood}} {{eye_color}}'\n",
        [
            ("p.yaml:11:11", "placeholder-malformed", "write {{subject}} without spaces inside the braces"),
            (
                "p.yaml:11:11",
                "placeholder-undeclared",
                'placeholder {{eye_colour}} is not declared under characteristics; did you mean "eye_color"?',
            ),
            (
                "p.yaml:11:11",
                "placeholder-malformed",
                "{{eye color}} is not a valid placeholder; names are letters, digits and _",
            ),
            ("p.yaml:11:11", "placeholder-malformed", "write {{eye_color}} without spaces inside the braces"),
            ("p.yaml:11:11", "placeholder-undeclared", "placeholder {{mood}} is not declared under characteristics"),
        ],
    ),
    "prompt-no-subject": (
        HEAD
        + "prompts:\n  - key: a\n    text: 'no subject here'\n  - key: b\n    text: 'a literal <lora:9:1> tag'\n"
        + "  - key: c\n    text: '{{ subjec }}'\n",
        [
            (
                "p.yaml:9:11",
                "prompt-no-subject",
                "the text references no fine-tuned model: add {{subject}} "
                "(or a literal <lora:ID:1> or <faceid:ID> tag); Astria rejects such a template",
            ),
            ("p.yaml:13:11", "placeholder-malformed", "write {{subjec}} without spaces inside the braces"),
            (
                "p.yaml:13:11",
                "prompt-no-subject",
                "the text references no fine-tuned model: add {{subject}} "
                "(or a literal <lora:ID:1> or <faceid:ID> tag); Astria rejects such a template",
            ),
            # the literal tag is the same for both classes, and both are created on the base model (A9)
            (
                "p.yaml:10:5",
                "prompt-dedup",
                'prompt "b" (class woman) has the same tune, text and seed as prompt "b" (class man, '
                "p.yaml:10:5): Astria would answer its create with the other template; give one of them a "
                "distinct seed",
            ),
        ],
    ),
    "characteristic-unused": (
        HEAD
        + "characteristics:\n  hair: {description: h}\n  eyes: {description: e}\n"
        + "prompts:\n  - key: a\n    text: '{{subject}} {{eyes}}'\n",
        [("p.yaml:8:3", "characteristic-unused", 'characteristic "hair" is declared but no prompt uses {{hair}}')],
    ),
    "super-resolution-in-a-prompt": (
        HEAD
        + "prompts:\n  - key: a\n    text: '{{subject}} x'\n    hires_fix: true\n"
        + "  - key: b\n    text: '{{subject}} y'\n    inpaint_faces: true\n    super_resolution: true\n",
        [
            (
                "p.yaml:10:16",
                "param-needs-super-resolution",
                'hires_fix needs super_resolution: true (prompt "a" would be rejected)',
            )
        ],
    ),
    "super-resolution-in-the-defaults-once": (
        HEAD
        + "defaults: {hires_fix: true, inpaint_faces: true}\n"
        + "prompts:\n  - key: a\n    text: '{{subject}} x'\n  - key: b\n    text: '{{subject}} y'\n"
        + "  - key: c\n    text: '{{subject}} z'\n    super_resolution: true\n",
        [
            (
                "p.yaml:7:44",
                "param-needs-super-resolution",
                "inpaint_faces needs super_resolution: true "
                "(every prompt that does not set super_resolution: true itself would be rejected)",
            ),
            (
                "p.yaml:7:23",
                "param-needs-super-resolution",
                "hires_fix needs super_resolution: true "
                "(every prompt that does not set super_resolution: true itself would be rejected)",
            ),
        ],
    ),
    "super-resolution-turned-off-by-a-prompt": (
        HEAD
        + "defaults: {inpaint_faces: true, super_resolution: true}\n"
        + "prompts:\n  - key: a\n    text: '{{subject}} x'\n    super_resolution: false\n",
        [
            (
                "p.yaml:11:23",
                "param-needs-super-resolution",
                'inpaint_faces needs super_resolution: true (prompt "a" would be rejected)',
            )
        ],
    ),
    "size-pair-in-the-defaults-once": (
        HEAD
        + "defaults: {w: 512}\nprompts:\n  - key: a\n    text: '{{subject}} x'\n  - key: b\n    text: '{{subject}} y'\n"
        + "  - key: c\n    text: '{{subject}} z'\n    h: 512\n",
        [("p.yaml:7:15", "param-size-pair", "w is set without h; set both, or use aspect_ratio")],
    ),
    "size-pair-in-a-prompt": (
        HEAD
        + "prompts:\n  - key: a\n    text: '{{subject}} x'\n    h: 512\n"
        + "  - key: b\n    text: '{{subject}} y'\n    w: 512\n    h: 512\n",
        [("p.yaml:10:8", "param-size-pair", "h is set without w; set both, or use aspect_ratio")],
    ),
    "prompt-duplicate-one-class": (
        HEAD
        + "prompts:\n  - key: a\n    text: '{{subject}} x'\n"
        + "  - key: b\n    classes: [woman]\n    text: '{{subject}} x'\n",
        [
            (
                "p.yaml:10:5",
                "prompt-duplicate",
                'prompt "b" expands to the same template as prompt "a" (line 8) for class woman: '
                "same text and parameters",
            )
        ],
    ),
    "prompt-duplicate-every-class": (
        HEAD
        + "prompts:\n  - key: a\n    text: '{{subject}} x'\n"
        + "  - key: b\n    text: ' {{subject}} x '\n    num_images: 1\n",
        [
            (
                "p.yaml:10:5",
                "prompt-duplicate",
                'prompt "b" expands to the same template as prompt "a" (line 8) for classes man, woman: '
                "same text and parameters",
            )
        ],
    ),
    "prompt-duplicate-two-pairs": (
        HEAD
        + "prompts:\n  - key: a\n    text: '{{subject}} x'\n  - key: b\n    text: '{{subject}} x'\n"
        + "  - key: c\n    text: '{{subject}} y'\n  - key: d\n    classes: [man]\n    text: '{{subject}} y'\n",
        [
            (
                "p.yaml:10:5",
                "prompt-duplicate",
                'prompt "b" expands to the same template as prompt "a" (line 8) for classes man, woman: '
                "same text and parameters",
            ),
            (
                "p.yaml:14:5",
                "prompt-duplicate",
                'prompt "d" expands to the same template as prompt "c" (line 12) for class man: '
                "same text and parameters",
            ),
        ],
    ),
    "invisible-and-control-characters-the-first-of-each-string": (
        HEAD
        + "prompts:\n  - key: a\n"
        + '    text: "{{subject}} tab\\there\\nnewline \\x07 bell \\x08 backspace"\n'
        + '    negative_prompt: "ok \\u202e rtl \\u202e again"\n',
        [
            ("p.yaml:9:11", "text-control-character", "control character U+0007 at offset 29; remove it"),
            (
                "p.yaml:10:22",
                "text-bidi-character",
                "invisible bidirectional character U+202E at offset 3; "
                "it can make the text read differently from what is sent",
            ),
        ],
    ),
    "invisible-then-control-characters": (
        HEAD
        + "prompts:\n  - key: a\n"
        + '    text: "{{subject}} \\u202e rtl"\n'
        + '    negative_prompt: "a \\x07 bell"\n',
        [
            (
                "p.yaml:9:11",
                "text-bidi-character",
                "invisible bidirectional character U+202E at offset 12; "
                "it can make the text read differently from what is sent",
            ),
            ("p.yaml:10:22", "text-control-character", "control character U+0007 at offset 2; remove it"),
        ],
    ),
    "a-merged-value-overridden-is-not-checked-the-rest-is": (
        HEAD
        + 'defaults:\n  <<: {negative_prompt: "old \\x07"}\n  negative_prompt: "new"\n'
        + 'prompts:\n  - key: a\n    text: "{{subject}} \\x07 bell"\n',
        [("p.yaml:12:11", "text-control-character", "control character U+0007 at offset 12; remove it")],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_rule_reports_its_place_and_message(name: str) -> None:
    text, wanted = CASES[name]
    doc = load_text(text, "p.yaml").document
    assert doc is not None
    pack, found = PackChecker().check_document(doc)
    assert [(str(d.location), d.rule, d.message) for d in found] == wanted
    for d in found:
        assert d.severity is RULES[d.rule].severity
    # a pack comes out exactly when nothing is an error
    assert (pack is not None) == all(not d.is_error for d in found)
    if pack is not None:
        assert pack.slug == doc.data["slug"]


EXPECT = re.compile(rb"^# expect: ([a-z0-9-]+) (\d+)\s*$", re.MULTILINE)


@pytest.mark.parametrize("path", sorted((FIXTURES / "invalid").glob("*.y*ml")), ids=lambda p: p.name)
def test_the_must_fail_fixtures_in_process(path: Path) -> None:
    """The acceptance fixtures, checked without a subprocess (as validate checks them)."""
    wanted = {(m.group(1).decode(), int(m.group(2))) for m in EXPECT.finditer(path.read_bytes())}
    result = PackChecker().check_files([(path, path.name)])
    assert {(d.rule, d.location.line) for d in result.diagnostics} == wanted
    assert result.files == 1
    assert len(result.packs) == (0 if result.errors else 1)


@pytest.mark.parametrize("path", sorted((FIXTURES / "valid").glob("*.y*ml")), ids=lambda p: p.name)
def test_the_must_pass_fixtures_in_process(path: Path) -> None:
    result = PackChecker().check_files([(path, path.name)])
    assert result.diagnostics == [] and result.files == 1
    (pack,) = result.packs
    assert pack.path == path.name and pack.prompts


def test_files_are_counted_checked_on_their_own_and_across(tmp_path: Path) -> None:
    files = {
        "a.yaml": HEAD + "id: 7\n" + A,
        "b.yaml": HEAD + "id: 7\n" + A,  # the same slug and id
        "c.yaml": HEAD.replace("slug: demo", "slug: broken") + "prompts:\n  - key: a\n    text: 5\n",
        "d.yaml": "slug: [unclosed\n",
        "e.yaml": HEAD.replace("slug: demo", "slug: fine").replace("title: Demo", "title: Fine") + OTHER,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = PackChecker().check_files((tmp_path / name, name) for name in files)
    assert result.files == 5
    assert [p.slug for p in result.packs] == ["demo", "demo", "fine"]
    assert [(str(d.location), d.rule, d.message) for d in result.diagnostics] == [
        ("b.yaml:1:7", "slug-duplicate", 'slug "demo" is already declared by a.yaml; each pack needs its own slug'),
        ("b.yaml:7:5", "id-duplicate", "pack id 7 is already pinned by a.yaml"),
        ("c.yaml:9:11", "schema-type", "prompts[0].text must be a string, not an integer (5)"),
        ("d.yaml:1:7", "yaml-syntax", "did not find expected ',' or ']'"),
    ]
    assert result.errors == result.diagnostics and result.warnings == []


def test_a_file_claims_its_slug_and_a_pinned_id_only_when_both_have_the_right_type() -> None:
    def claim(text: str) -> list[tuple[str, str, int | None, str | None]]:
        doc = load_text(text, "p.yaml").document
        assert doc is not None, text
        return [
            (c.slug, str(c.location), c.id, None if c.id_location is None else str(c.id_location))
            for c in claim_of(doc)
        ]

    assert claim("slug: a\nid: 3\n") == [("a", "p.yaml:1:7", 3, "p.yaml:2:5")]
    assert claim("slug: a\nid: true\n") == [("a", "p.yaml:1:7", None, None)]
    assert claim("slug: a\nid: '3'\n") == [("a", "p.yaml:1:7", None, None)]
    assert claim("slug: a\n") == [("a", "p.yaml:1:7", None, None)]
    assert claim("slug: ''\nid: 3\n") == []
    assert claim("slug: 5\nid: 3\n") == []


def test_a_duplicate_id_without_a_duplicate_slug_points_at_the_id(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HEAD + "id: 7\n" + A)
    (tmp_path / "b.yaml").write_text(HEAD.replace("slug: demo", "slug: other\nid: 7") + A)
    result = PackChecker().check_files((p, p.name) for p in sorted(tmp_path.iterdir()))
    assert [(str(d.location), d.rule) for d in result.diagnostics] == [("b.yaml:2:5", "id-duplicate")]
    (tmp_path / "b.yaml").write_text(HEAD.replace("slug: demo", "slug: other\nid: 8") + OTHER)
    result = PackChecker().check_files((p, p.name) for p in sorted(tmp_path.iterdir()))
    assert result.diagnostics == []  # two pinned ids, each its own


def test_an_unknown_key_is_told_the_names_the_schema_allows_there() -> None:
    text = HEAD + "defaults: {sed: 1}\nprompts:\n  - key: a\n    text: '{{subject}}'\n    sed: 2\n    clases: [man]\n"
    doc = load_text(text, "p.yaml").document
    assert doc is not None
    _, found = PackChecker().check_document(doc)
    messages = {(d.location.line, d.message) for d in found if d.rule == "schema-unknown-key"}
    assert {line for line, _ in messages} == {7, 11, 12}
    for line, word in ((7, "seed"), (11, "seed"), (12, "classes")):
        (message,) = [m for at, m in messages if at == line]
        assert f'did you mean "{word}"?' in message, message
