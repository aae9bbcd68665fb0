"""`fmops registry`: publish, promote, rollback, show and resolve through the command."""

import json
from pathlib import Path

from fmops.core import manifest
from fmops.core.registry import resolve_for_pipeline

from tests.helpers import cli


def stage_output(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    manifest.write(str(path), stage="test", inputs={}, config={}, metrics={}, started_at=manifest.now())
    return path


def test_resolve_command_falls_back_then_follows_latest(tmp_path):
    root = tmp_path / "registry"
    result = cli(
        "registry",
        "resolve",
        "--root",
        str(root),
        "--name",
        "demo",
        "--pointer",
        "latest",
        "--fallback",
        "tiny",
        "--results-dir",
        str(tmp_path / "out"),
    )
    assert (result.returncode, result.stdout) == (0, "tiny\n")
    assert (tmp_path / "out" / "model").read_text() == "tiny"
    cli(
        "registry",
        "publish",
        "--root",
        str(root),
        "--name",
        "demo",
        "--source",
        str(stage_output(tmp_path / "a")),
        "--version",
        "v1",
        "--pointer",
        "latest",
    )
    result = cli("registry", "resolve", "--root", str(root), "--name", "demo", "--results-dir", str(tmp_path / "out"))
    assert (tmp_path / "out" / "model").read_text() == result.stdout.strip() == f"{root}/models/demo/v1"


def test_resolve_names_the_stable_model_to_continue_from_and_the_baseline(tmp_path):
    root, out = tmp_path / "registry", tmp_path / "out"
    cli("registry", "resolve", "--root", str(root), "--name", "demo", "--fallback", "tiny", "--results-dir", str(out))
    assert [(out / name).read_text() for name in ("continue-from", "baseline")] == ["tiny", ""]
    source = stage_output(tmp_path / "a")
    (source / "stable").mkdir()
    (source / "stable" / "config.json").write_text("{}")
    cli(
        "registry",
        "publish",
        "--root",
        str(root),
        "--name",
        "demo",
        "--source",
        str(source),
        "--version",
        "v1",
        "--pointer",
        "latest",
    )
    cli("registry", "resolve", "--root", str(root), "--name", "demo", "--fallback", "tiny", "--results-dir", str(out))
    version = f"{root}/models/demo/v1"
    assert [(out / name).read_text() for name in ("continue-from", "baseline")] == [f"{version}/stable", version]
    cli(
        "registry",
        "publish",
        "--root",
        str(root),
        "--name",
        "demo",
        "--source",
        str(stage_output(tmp_path / "b")),
        "--version",
        "v2",
        "--pointer",
        "latest",
    )
    cli("registry", "resolve", "--root", str(root), "--name", "demo", "--results-dir", str(out))
    assert (out / "continue-from").read_text() == f"{root}/models/demo/v2"  # no stable model: the version itself


def test_resolve_without_pointer_or_fallback_is_bad_input(tmp_path):
    result = cli("registry", "resolve", "--root", str(tmp_path), "--name", "demo")
    assert result.returncode == 2
    assert result.stderr == f"fmops registry: error: {tmp_path}/models/demo: no 'latest' pointer and no --fallback\n"
    assert resolve_for_pipeline(root=str(tmp_path), name="demo", pointer="production", fallback="tiny") == "tiny"


def test_publish_promote_rollback_show(tmp_path):
    root = str(tmp_path / "registry")
    for version in ("v1", "v2"):
        result = cli(
            "registry",
            "publish",
            "--root",
            root,
            "--name",
            "demo",
            "--version",
            version,
            "--source",
            str(stage_output(tmp_path / version)),
        )
        assert result.stdout == f"{root}/models/demo/{version}\n"
    assert json.loads(cli("registry", "promote", "--root", root, "--name", "demo", "--version", "v1").stdout) == {
        "version": "v1",
        "previous": None,
    }
    cli("registry", "promote", "--root", root, "--name", "demo", "--version", "v2")
    assert json.loads(cli("registry", "rollback", "--root", root, "--name", "demo").stdout)["version"] == "v1"
    shown = json.loads(cli("registry", "show", "--root", root, "--name", "demo").stdout)
    # the command's publish moves a pointer only when --pointer names one
    assert shown == {"latest": None, "production": {"version": "v1", "previous": "v2"}}


def test_missing_flags_are_bad_input(tmp_path):
    for action, message in [
        ("publish", "registry publish: --source is required"),
        ("promote", "registry promote: --version is required"),
    ]:
        result = cli("registry", action, "--root", str(tmp_path), "--name", "demo")
        assert (result.returncode, result.stderr) == (2, f"fmops registry: error: {message}\n")
