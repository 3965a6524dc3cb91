"""``packsync validate`` through the real command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PACKS, ROOT, run_packsync, with_packs

TEXT_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<rule>[a-z0-9-]+) (?P<message>.+)$")

BAD_PROMPT = """\
slug: demo
title: Demo
model: {base_tune_id: 1, model_type: lora}
classes:
  man: {tune_id: 2}
prompts:
  - key: one
    text: "{{subject}} one"
  - key: two
    text: "{{subject}} two"
    sed: 4
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    with_packs(tmp_path)
    return tmp_path


def test_valid_packs_print_nothing_and_say_so(project: Path) -> None:
    done = run_packsync("validate", cwd=project)
    assert done.code == 0, done.out + done.err
    assert done.out == ""
    assert "all valid" in done.err


def test_text_format_is_file_line_col_rule_message(project: Path) -> None:
    (project / "packs" / "bad.yaml").write_text(BAD_PROMPT)
    done = run_packsync("validate", cwd=project)
    assert done.code == 1
    lines = done.out.splitlines()
    assert len(lines) == 1
    match = TEXT_LINE.match(lines[0])
    assert match, lines[0]
    assert match["file"] == "packs/bad.yaml"
    assert (match["line"], match["col"], match["rule"]) == ("11", "5", "schema-unknown-key")
    assert 'did you mean "seed"?' in match["message"]
    assert "1 error" in done.err


def test_github_format_emits_workflow_annotations(project: Path) -> None:
    (project / "packs" / "bad.yaml").write_text(BAD_PROMPT)
    done = run_packsync("validate", "--format", "github", cwd=project)
    assert done.code == 1
    assert done.out.startswith(
        '::error file=packs/bad.yaml,line=11,col=5,title=packsync schema-unknown-key::unknown key "sed"'
    )


def test_github_format_escapes_newlines_and_percent(tmp_path: Path) -> None:
    from io import StringIO

    from packsync.packfiles.diagnostics import Location, make
    from packsync.packfiles.reporters import report_github

    out, err = StringIO(), StringIO()
    diag = make("schema-invalid", Location("a,b:c.yaml", 3, 4), "100% wrong\nsecond line")
    report_github([diag], 1, out, err)
    assert out.getvalue() == (
        "::error file=a%2Cb%3Ac.yaml,line=3,col=4,title=packsync schema-invalid::100%25 wrong%0Asecond line\n"
    )


def test_json_format(project: Path) -> None:
    (project / "packs" / "bad.yaml").write_text(BAD_PROMPT)
    done = run_packsync("validate", "--format", "json", cwd=project)
    document = json.loads(done.out)
    assert document["version"] == 1
    assert document["valid"] is False
    assert document["files"] == 3
    assert document["errors"] == 1
    assert document["diagnostics"][0] == {
        "file": "packs/bad.yaml",
        "line": 11,
        "col": 5,
        "rule": "schema-unknown-key",
        "severity": "error",
        "message": 'unknown key "sed" in prompts[1]; did you mean "seed"?',
    }


def test_warnings_fail_only_with_strict(project: Path) -> None:
    text = (project / "packs" / "pet-portraits.yaml").read_text()
    text = text.replace("characteristics:\n", 'characteristics:\n  unused_thing: { description: "never used" }\n', 1)
    (project / "packs" / "pet-portraits.yaml").write_text(text)
    relaxed = run_packsync("validate", cwd=project)
    assert relaxed.code == 0
    assert "characteristic-unused warning:" in relaxed.out
    strict = run_packsync("validate", "--strict", cwd=project)
    assert strict.code == 1


def test_every_file_is_reported_not_just_the_first(project: Path) -> None:
    (project / "packs" / "a.yaml").write_text(BAD_PROMPT)
    (project / "packs" / "b.yaml").write_text(BAD_PROMPT.replace("slug: demo", "slug: other").replace("sed", "sedd"))
    done = run_packsync("validate", cwd=project)
    files = {line.split(":")[0] for line in done.out.splitlines()}
    assert files == {"packs/a.yaml", "packs/b.yaml"}
    assert "slug-title-mismatch" in done.out  # b's slug "other" is not derived from "Demo"


def test_missing_path_is_reported_as_unreadable(project: Path) -> None:
    done = run_packsync("validate", "packs/nope.yaml", cwd=project)
    assert done.code == 1
    assert "packs/nope.yaml: file-unreadable no such file" in done.out


def test_no_packs_directory_is_a_clear_error(tmp_path: Path) -> None:
    done = run_packsync("validate", cwd=tmp_path)
    assert done.code == 1
    assert "no packs directory" in done.err
    assert "Traceback" not in done.err


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "packs").mkdir()
    done = run_packsync("validate", cwd=tmp_path)
    assert done.code == 1
    assert "no pack files" in done.err


def test_project_file_sets_the_packs_directory_and_is_checked(project: Path) -> None:
    (project / "packs").rename(project / "prompts")
    (project / "packsync.yaml").write_text(
        "packs_dir: prompts\ndefault_target: prod\ntargets:\n  sandbox: {url: sandbox}\n"
    )
    done = run_packsync("validate", cwd=project)
    assert done.code == 1
    assert done.out.splitlines() == [
        'packsync.yaml:2:17: target-unknown default_target "prod" is not defined under targets (defined: sandbox)'
    ]


def test_project_file_schema_errors_are_reported(project: Path) -> None:
    (project / "packsync.yaml").write_text("pack_dir: packs\n")
    done = run_packsync("validate", cwd=project)
    assert done.code == 1
    assert 'packsync.yaml:1:1: schema-unknown-key unknown key "pack_dir"; did you mean "packs_dir"?' in done.out


def test_missing_packs_dir_in_project_file(tmp_path: Path) -> None:
    (tmp_path / "packsync.yaml").write_text("packs_dir: nowhere\n")
    done = run_packsync("validate", "--project", str(tmp_path), str(PACKS))
    assert done.code == 1
    assert "packs-dir-missing" in done.out


def test_project_file_given_as_a_path_is_not_checked_as_a_pack(project: Path) -> None:
    (project / "packsync.yaml").write_text("packs_dir: packs\n")
    done = run_packsync("validate", "packsync.yaml", "packs/pet-portraits.yaml", cwd=project)
    assert done.code == 0, done.out


def test_a_project_file_alone_is_checked_and_passes(project: Path) -> None:
    (project / "packsync.yaml").write_text("default_target: local\ntargets:\n  local: {url: sandbox}\n")
    done = run_packsync("validate", "packsync.yaml", cwd=project)
    assert done.code == 0, done.out + done.err
    assert "1 file checked" in done.err
    (project / "packsync.yaml").write_text("default_target: nowhere\n")
    done = run_packsync("validate", "packsync.yaml", cwd=project)
    assert done.code == 1 and "packsync.yaml:1:17: target-unknown" in done.out


def test_another_directorys_project_file_is_checked_as_that_project(project: Path) -> None:
    other = project / "other"
    (other / "packs").mkdir(parents=True)
    (other / "packsync.yaml").write_text("default_target: nowhere\n")
    done = run_packsync("validate", "other/packsync.yaml", cwd=project)
    assert done.code == 1
    assert done.out.startswith("other/packsync.yaml:1:17: target-unknown"), done.out


def test_validate_imports_nothing_networked(project: Path) -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['packsync', 'validate']\n"
        "try:\n"
        "    runpy.run_module('packsync', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'httpx', 'httpcore', 'socket', 'ssl', 'urllib3', 'requests', 'http', 'jsonschema'})\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_no_colour_when_not_a_terminal(project: Path) -> None:
    (project / "packs" / "bad.yaml").write_text(BAD_PROMPT)
    done = run_packsync("validate", cwd=project, env={"NO_COLOR": ""})
    assert "\x1b[" not in done.out + done.err


def test_style_respects_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from packsync.term import color_enabled

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert color_enabled(Tty())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "")
    assert not color_enabled(Tty())  # type: ignore[arg-type]


def test_python_dash_m_and_version() -> None:
    done = run_packsync("--version")
    assert done.code == 0
    assert done.out.startswith("packsync, version ")


def test_usage_error_is_exit_2_with_a_message() -> None:
    done = run_packsync("validate", "--format", "xml")
    assert done.code == 2
    assert "Invalid value for '--format'" in done.err


def test_readme_lists_every_rule_id() -> None:
    from packsync.packfiles.rules import RULES

    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Rules\n", 1)[1].split("\n## ", 1)[0]
    table = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.MULTILINE))
    assert table == set(RULES)
