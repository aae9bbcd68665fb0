"""Registry names and versions are single path segments: a name or version given on the command line, or read
back from a pointer file, that could leave `<root>/models/<name>/` or break a manifest is refused with one line
(exit 2) before anything is read or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmops.core import registry
from fmops.core.errors import InputError

from tests.helpers import cli
from tests.unit.core.test_registry_command import stage_output

HOSTILE = ["../../x", "..", ".", "a/b", "v1'\n  - name: evil", 'v1"', "v1\n", "", "-p", "x" * 129]
RULE = "not a registry name (a letter or digit, then up to 127 letters, digits, '.', '_' or '-')"


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def refused(*args: str) -> str:
    result = cli("registry", *args)
    assert (result.returncode, result.stdout, result.stderr.count("\n")) == (2, "", 1), result
    return result.stderr


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_is_refused_before_any_write(tmp_path, name):
    source = stage_output(tmp_path / "source")
    before = files_under(tmp_path)
    message = refused("publish", "--root", str(tmp_path / "r" / "s"), f"--name={name}", "--source", str(source))
    assert (
        message
        == f"fmops registry: error: model name {json.dumps(name)[:77]}{'...' if len(name) > 75 else ''}: {RULE}\n"
    )
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("version", [value for value in HOSTILE if value])  # '' means "a new version"
def test_a_hostile_version_is_refused_before_any_write(tmp_path, version):
    source, root = stage_output(tmp_path / "source"), str(tmp_path / "registry")
    before = files_under(tmp_path)
    message = refused("publish", "--root", root, "--name", "demo", "--source", str(source), f"--version={version}")
    assert message.startswith("fmops registry: error: version ") and message.endswith(f": {RULE}\n")
    assert files_under(tmp_path) == before
    assert refused("promote", "--root", root, "--name", "demo", f"--version={version}") == message


def planted(tmp_path: Path, pointer: str, record: dict) -> tuple[str, Path]:
    """A registry with one good version v1 and `pointer` holding `record`; (root, the pointer file)."""
    root = tmp_path / "registry"
    source = stage_output(tmp_path / "source")
    assert cli("registry", "publish", "--root", str(root), "--name", "demo", "--source", str(source), "--version", "v1")
    path = root / "models" / "demo" / pointer
    path.write_text(json.dumps(record))
    return str(root), path


@pytest.mark.parametrize("version", ["../x", "../../../etc", "v1'\n  - name: evil\n", 'v1"', "v1/../../x"])
def test_a_hostile_pointer_version_is_refused_by_every_reader(tmp_path, version):
    root, path = planted(tmp_path, "latest", {"version": version, "previous": None})
    expected = f"fmops registry: error: {path}: field 'version': {json.dumps(version)}: {RULE}\n"
    out = tmp_path / "out"
    assert refused("resolve", "--root", root, "--name", "demo", "--results-dir", str(out)) == expected
    assert not out.exists()
    assert refused("show", "--root", root, "--name", "demo") == expected
    # a stage given the pointer as its model or baseline follows it through registry.resolve
    with pytest.raises(InputError) as refusal:
        registry.resolve(str(path))
    assert f"fmops registry: error: {refusal.value}\n" == expected


def test_a_hostile_previous_version_is_refused_before_rollback(tmp_path):
    root, path = planted(tmp_path, "production", {"version": "v1", "previous": "../../elsewhere"})
    expected = f"fmops registry: error: {path}: field 'previous': \"../../elsewhere\": {RULE}\n"
    assert refused("rollback", "--root", root, "--name", "demo") == expected
    assert json.loads(path.read_text())["version"] == "v1"


def test_ordinary_names_and_versions_still_work(tmp_path):
    root = str(tmp_path / "registry")
    source = stage_output(tmp_path / "source")
    args = ("--root", root, "--name", "llama-3.1_8b", "--source", str(source), "--version", "v20261127-120000")
    result = cli("registry", "publish", *args, "--pointer", "latest")
    assert (result.returncode, result.stdout) == (0, f"{root}/models/llama-3.1_8b/v20261127-120000\n")
