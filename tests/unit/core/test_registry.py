"""The registry: versions, atomic pointers, rollback, resolve."""

import json
from pathlib import Path

import pytest
from fmops.core import manifest, registry
from fmops.core.errors import InputError


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
    assert registry.set_pointer(root, "demo", "production", "v2") == {"version": "v2", "previous": "v1"}
    assert registry.rollback(root, "demo") == {"version": "v1", "previous": "v2"}
    assert registry.resolve(f"{root}/models/demo/production") == f"{root}/models/demo/v1"
    assert registry.resolve(f"{root}/models/demo/v2") == f"{root}/models/demo/v2"
    assert not list(Path(root, "models", "demo").glob(".*.tmp"))


def test_a_new_version_is_named_by_time_and_never_overwritten(tmp_path):
    root = str(tmp_path / "registry")
    target = registry.publish(root, "demo", str(stage_output(tmp_path / "a", "a")), pointer=None)
    assert Path(target).name.startswith("v") and registry.read_pointer(root, "demo", "latest") is None
    with pytest.raises(InputError, match="version already exists"):
        registry.publish(root, "demo", str(tmp_path / "a"), version=Path(target).name)


def test_publish_copies_the_evaluation_and_writes_the_manifest_last(tmp_path, copied):
    root = str(tmp_path / "registry")
    evaluation = stage_output(tmp_path / "eval", "e")
    target = Path(
        registry.publish(root, "demo", str(stage_output(tmp_path / "m", "m")), version="v1", evaluation=str(evaluation))
    )
    assert (target / "evaluation" / "manifest.json").is_file()
    model_files = [p.relative_to(target).as_posix() for p in copied if "evaluation" not in p.parts]
    assert model_files == ["config.json", "manifest.json"]


def test_incomplete_outputs_are_refused(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "metrics.json").write_text("{}")
    with pytest.raises(InputError, match="incomplete fmops output"):
        registry.publish(str(tmp_path / "r"), "demo", str(tmp_path / "half"))
    with pytest.raises(InputError, match="incomplete evaluation output"):
        registry.publish(
            str(tmp_path / "r"), "demo", str(stage_output(tmp_path / "m", "m")), evaluation=str(tmp_path / "half")
        )
    with pytest.raises(InputError, match="no complete model version there"):
        registry.set_pointer(str(tmp_path / "r"), "demo", "production", "v9")
    with pytest.raises(InputError, match="must be one of latest, production"):
        registry.set_pointer(str(tmp_path / "r"), "demo", "staging", "v9")
    with pytest.raises(InputError, match="no previous version to roll back to"):
        registry.rollback(str(tmp_path / "r"), "demo")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{oops", "pointer file is not JSON"),
        ('{"previous": "v1"}', "field 'version': missing or not a string"),
    ],
)
def test_a_corrupt_pointer_is_bad_input(tmp_path, text, message):
    pointer = tmp_path / "r" / "models" / "demo" / "latest"
    pointer.parent.mkdir(parents=True)
    pointer.write_text(text)
    with pytest.raises(InputError, match=message) as error:
        registry.read_pointer(str(tmp_path / "r"), "demo", "latest")
    assert str(error.value).startswith(str(pointer))
