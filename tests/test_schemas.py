"""The schemas themselves: valid, documented, strict, and shipped in the wheel."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from packsync.packfiles.schema import PACK_SCHEMA, PROJECT_SCHEMA, load_schema
from tests.conftest import ROOT

SCHEMAS = [PACK_SCHEMA, PROJECT_SCHEMA]
ALL_SCHEMAS = [*SCHEMAS, "plan.schema.json"]


def object_schemas(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield path, node
        for key, value in node.items():
            if key in ("examples", "enum", "const", "default"):
                continue
            yield from object_schemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from object_schemas(value, f"{path}/{i}")


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_schema_is_valid_json_schema_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_every_property_has_a_description(name: str) -> None:
    schema = load_schema(name)
    missing = [
        f"{path}/properties/{prop}"
        for path, node in object_schemas(schema)
        for prop, sub in node.get("properties", {}).items()
        if "description" not in sub
    ]
    assert missing == []


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_object_rejects_unknown_keys(name: str) -> None:
    schema = load_schema(name)
    loose = [
        path
        for path, node in object_schemas(schema)
        if "additionalProperties" not in node
        and node.get("unevaluatedProperties") is not False
        # generationParams is only used through a $ref next to unevaluatedProperties: false
        and not path.endswith("/generationParams")
    ]
    assert loose == []


def test_pre_commit_hook_definition() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "packsync-validate")
    assert hook["entry"] == "packsync validate"
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    for path in ["packs/a.yaml", "packs/sub/b.yml", "packsync.yaml", "repo/packs/c.yaml"]:
        assert files.search(path), path
    for path in ["README.md", "packs/notes.txt", ".github/workflows/ci.yaml"]:
        assert not files.search(path), path
    fmt = next(h for h in hooks if h["id"] == "packsync-fmt")
    assert fmt["entry"] == "packsync fmt"
    assert re.compile(fmt["files"]).search("packs/a.yaml")
    assert not re.compile(fmt["files"]).search("packsync.yaml")


@pytest.mark.slow
def test_wheel_ships_the_schemas_and_uses_them(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("packsync-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert {"packsync/schemas/pack.schema.json", "packsync/schemas/packsync.schema.json"} <= names
    where = subprocess.run(
        [sys.executable, "-c", "from packsync.packfiles.schema import schema_dir; print(schema_dir())"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where) == tmp_path / "site" / "packsync" / "schemas"
    # what the installed wheel writes into a user's repository is exactly the shipped schemas
    subprocess.run(
        [sys.executable, "-m", "packsync", "schema", "--write", str(tmp_path / "repo" / "schemas")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        check=True,
    )
    for name in SCHEMAS:
        assert (tmp_path / "repo" / "schemas" / name).read_bytes() == (ROOT / "schemas" / name).read_bytes()
