"""The registry: versions, atomic pointers, rollback, resolve; and `fmops registry`, `fmops shards`."""

import json
from pathlib import Path

import pytest
from fmops.core import manifest, registry
from fmops.core.errors import InputError

from tests.helpers import fmops


def stage_output(path: Path, value: str) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"value": value}))
    manifest.write(str(path), stage="test", inputs={}, config={}, metrics={}, started_at=manifest.now())
    return path


def test_publish_promote_rollback(tmp_path):
    root = str(tmp_path / "registry")
    first = registry.publish(root, "demo", str(stage_output(tmp_path / "a", "a")), version="v1", pointer="latest")
    assert json.loads(Path(first, "config.json").read_text()) == {"value": "a"}
    registry.publish(root, "demo", str(stage_output(tmp_path / "b", "b")), version="v2", pointer="latest")
    assert registry.read_pointer(root, "demo", "latest") == {"version": "v2", "previous": "v1"}
    registry.set_pointer(root, "demo", "production", "v1")
    registry.set_pointer(root, "demo", "production", "v2")
    assert registry.rollback(root, "demo") == {"version": "v1", "previous": "v2"}
    assert registry.resolve(f"{root}/models/demo/production") == f"{root}/models/demo/v1"
    assert registry.resolve(f"{root}/models/demo/v2") == f"{root}/models/demo/v2"


def test_publish_copies_the_evaluation_and_writes_the_manifest_last(tmp_path):
    root = str(tmp_path / "registry")
    evaluation = stage_output(tmp_path / "eval", "e")
    target = Path(registry.publish(root, "demo", str(stage_output(tmp_path / "m", "m")), version="v1",
                                   evaluation=str(evaluation)))  # fmt: skip
    assert (target / "evaluation" / "manifest.json").is_file()
    assert (target / "manifest.json").stat().st_mtime_ns >= (target / "config.json").stat().st_mtime_ns


def test_incomplete_outputs_are_refused(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "metrics.json").write_text("{}")
    with pytest.raises(InputError, match="incomplete fmops output"):
        registry.publish(str(tmp_path / "r"), "demo", str(tmp_path / "half"))
    with pytest.raises(InputError, match="no complete model version there"):
        registry.set_pointer(str(tmp_path / "r"), "demo", "production", "v9")
    with pytest.raises(InputError, match="no previous version to roll back to"):
        registry.rollback(str(tmp_path / "r"), "demo")


def test_resolve_command_falls_back_then_follows_latest(tmp_path):
    root = tmp_path / "registry"
    result = fmops("registry", "resolve", "--root", str(root), "--name", "demo", "--pointer", "latest",
                   "--fallback", "tiny", "--results-dir", str(tmp_path / "out"))  # fmt: skip
    assert (tmp_path / "out" / "model").read_text() == "tiny"
    registry.publish(str(root), "demo", str(stage_output(tmp_path / "a", "a")), version="v1")
    fmops("registry", "resolve", "--root", str(root), "--name", "demo", "--pointer", "latest",
          "--results-dir", str(tmp_path / "out"))  # fmt: skip
    assert (tmp_path / "out" / "model").read_text() == f"{root}/models/demo/v1"
    assert result.returncode == 0


def test_shards_lists_new_ones_and_commit_advances_the_watermark(tmp_path):
    incoming, watermark = tmp_path / "incoming", tmp_path / "wm.json"
    incoming.mkdir()
    for name in ("2026-11-01.jsonl", "2026-11-02.jsonl", "notes.md"):
        (incoming / name).write_text('{"text": "x"}\n')
    fmops("shards", "list", "--incoming", str(incoming), "--watermark", str(watermark), "--results-dir", str(tmp_path))
    first = (tmp_path / "new-shards").read_text().split(",")
    assert [Path(p).name for p in first] == ["2026-11-01.jsonl", "2026-11-02.jsonl"]
    assert (tmp_path / "count").read_text() == "2"
    fmops("shards", "commit", "--watermark", str(watermark), "--shards", ",".join(first))
    (incoming / "2026-11-03.jsonl").write_text('{"text": "y"}\n')
    fmops("shards", "list", "--incoming", str(incoming), "--watermark", str(watermark), "--results-dir", str(tmp_path))
    assert [Path(p).name for p in (tmp_path / "new-shards").read_text().split(",")] == ["2026-11-03.jsonl"]


def test_corrupt_watermark_is_bad_input(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "wm.json").write_text("{not json")
    result = fmops("shards", "list", "--incoming", str(tmp_path / "in"), "--watermark", str(tmp_path / "wm.json"),
                   check=False)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"fmops shards: error: {tmp_path / 'wm.json'}: watermark is not JSON")
