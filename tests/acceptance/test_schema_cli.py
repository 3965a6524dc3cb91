"""``packsync schema``: the schemas a user's repository keeps, byte for byte the ones packsync ships."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, run_packsync

SHIPPED = ROOT / "schemas"
NAMES = ("pack.schema.json", "packsync.schema.json")


def test_schema_prints_the_shipped_schemas(tmp_path: Path) -> None:
    pack = run_packsync("schema", cwd=tmp_path)
    assert pack.code == 0, pack.err
    assert pack.out == (SHIPPED / "pack.schema.json").read_text(encoding="utf-8")
    project = run_packsync("schema", "--kind", "project", cwd=tmp_path)
    assert project.code == 0, project.err
    assert project.out == (SHIPPED / "packsync.schema.json").read_text(encoding="utf-8")
    assert list(tmp_path.iterdir()) == []  # printing writes nothing


def test_schema_write_writes_both_files_and_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "somewhere" / "json"
    done = run_packsync("schema", "--write", str(target), cwd=tmp_path)
    assert done.code == 0, done.err
    for name in NAMES:
        assert (target / name).read_bytes() == (SHIPPED / name).read_bytes()
        assert name in done.out
    assert sorted(p.name for p in target.iterdir()) == sorted(NAMES)

    (target / "pack.schema.json").write_text("{}\n")  # an older or edited copy is brought up to date
    again = run_packsync("schema", "--write", str(target), cwd=tmp_path)
    assert again.code == 0, again.err
    assert (target / "pack.schema.json").read_bytes() == (SHIPPED / "pack.schema.json").read_bytes()
    assert "up to date" in again.out  # packsync.schema.json was not touched

    only = run_packsync("schema", "--write", str(tmp_path / "one"), "--kind", "pack", cwd=tmp_path)
    assert only.code == 0, only.err
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["pack.schema.json"]


def test_schema_write_defaults_to_the_projects_schemas_directory(tmp_path: Path) -> None:
    (tmp_path / "packsync.yaml").write_text("packs_dir: config/packs\n")
    (tmp_path / "config" / "packs").mkdir(parents=True)
    done = run_packsync("schema", "--write", "--project", str(tmp_path), cwd=ROOT.parent)
    assert done.code == 0, done.err
    for name in NAMES:
        assert (tmp_path / "schemas" / name).read_bytes() == (SHIPPED / name).read_bytes()


def test_schema_write_into_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory\n")
    done = run_packsync("schema", "--write", str(tmp_path / "taken"), cwd=tmp_path)
    assert done.code == 1
    assert done.err.startswith("packsync: error: ") and "taken" in done.err
    assert "Traceback" not in done.err and len(done.err.splitlines()) == 1
