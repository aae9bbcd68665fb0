"""The core library: error places, config loading (recipe, include, flags, --set), storage, manifests."""

import json
import os
import sys
from datetime import datetime

import fmops
import pytest
from fmops.core import config, manifest, storage
from fmops.core.errors import InputError, where


class Example(config.StageConfig):
    steps: int = 10
    lr: float = 1e-3
    name: str = "x"


def test_where_names_file_line_and_field():
    assert where("d.jsonl") == "d.jsonl"
    assert where("d.jsonl", 3) == "d.jsonl:3"
    assert where("d.jsonl", 3, "text") == "d.jsonl:3: field 'text'"
    assert where("d.json", field="version") == "d.json: field 'version'"


def test_config_precedence_defaults_file_flags_set(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("steps: 20\nlr: 0.5\n")
    loaded = config.load(Example, "none", str(file), ["lr=0.25"], steps=30, name=None)
    assert (loaded.steps, loaded.lr, loaded.name) == (30, 0.25, "x")


def test_set_values_are_yaml_and_a_later_set_wins(tmp_path):
    loaded = config.load(Example, "none", "", ["steps=5", "name=a=b", "steps=7"])
    assert (loaded.steps, loaded.name) == (7, "a=b")


def test_include_reads_the_base_beside_the_file_and_overrides_it(tmp_path):
    (tmp_path / "base.yaml").write_text("steps: 20\nlr: 0.5\n")
    (tmp_path / "big.yaml").write_text("include: base.yaml\nlr: 0.1\n")
    loaded = config.load(Example, "none", str(tmp_path / "big.yaml"))
    assert (loaded.steps, loaded.lr) == (20, 0.1)


def test_packaged_recipes_resolve_by_stage_and_name():
    uri = config.recipe_uri("sft", "8b-h100x8")
    assert uri and uri.endswith("recipes/sft/8b-h100x8.yaml")
    assert config.recipe_uri("sft", "no-such-recipe") is None
    assert config.recipe_uri("no-such-stage", "demo") is None


@pytest.mark.parametrize(
    ("text", "overrides", "flags", "message"),
    [
        ("stepz: 1\n", [], {}, "c.yaml: field 'stepz': unknown field"),
        ("steps: many\n", [], {}, "c.yaml: field 'steps': Input should be a valid integer"),
        ("steps: [1\n", [], {}, "c.yaml:2: not valid YAML"),
        ("- 1\n", [], {}, "c.yaml: expected a mapping of config fields"),
        ("{}\n", ["nme=y"], {}, "--set nme=y: field 'nme': unknown field"),
        ("{}\n", ["lr"], {}, "--set lr: expected KEY=VALUE"),
        ("{}\n", ["=1"], {}, "--set =1: expected KEY=VALUE"),
        ("{}\n", ["lr=fast"], {}, "--set lr=fast: field 'lr': Input should be a valid number"),
        ("{}\n", [], {"steps": "x"}, "command line: field 'steps': Input should be a valid integer"),
        ("include: missing.yaml\n", [], {}, "missing.yaml: config file does not exist"),
    ],
)
def test_config_errors_name_file_and_field(tmp_path, text, overrides, flags, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(InputError) as error:
        config.load(Example, "none", str(tmp_path / "c.yaml"), overrides, **flags)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"nope\.yaml: config file does not exist"):
        config.load(Example, "none", str(tmp_path / "nope.yaml"))


def test_atomic_write_and_directory_hash(tmp_path):
    storage.write_json(str(tmp_path / "d" / "a.json"), {"a": 1})
    before = storage.sha256(str(tmp_path / "d"))
    storage.atomic_write_text(str(tmp_path / "d" / "b.txt"), "b")
    assert storage.sha256(str(tmp_path / "d")) != before
    assert storage.read_json(f"file://{tmp_path}/d/a.json") == {"a": 1}
    assert not list((tmp_path / "d").glob(".*.tmp"))
    with pytest.raises(InputError, match="does not exist"):
        storage.sha256(str(tmp_path / "missing"))


def test_join_listdir_and_upload_writes_the_manifest_last(tmp_path, copied):
    assert storage.join("s3://b/x/", "/y/", "z") == "s3://b/x/y/z"
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    for name in ("manifest.json", "a.txt", "sub/b.txt", "sub/manifest.json"):
        (source / name).write_text(name)
    storage.upload_dir(source, str(tmp_path / "dst"))
    assert [p.relative_to(tmp_path / "dst").as_posix() for p in copied] == [
        "a.txt",
        "sub/b.txt",
        "sub/manifest.json",
        "manifest.json",
    ]
    assert (tmp_path / "dst" / "manifest.json").read_text() == "manifest.json"
    assert storage.listdir(str(tmp_path / "dst")) == ["a.txt", "manifest.json", "sub"]
    assert storage.listdir(str(tmp_path / "missing")) == []
    storage.upload_dir(source, str(source))  # onto itself: nothing to copy
    assert len(copied) == 4
    with storage.local_copy(str(tmp_path / "dst")) as local:
        assert local == tmp_path / "dst"


def test_read_json_record_refuses_what_is_not_the_expected_object(tmp_path):
    uri = str(tmp_path / "state.json")
    assert storage.read_json_record(uri, "watermark", "processed", list) is None
    wrong = "field 'processed': missing or not a list"
    for text, message in [("{not json", "watermark is not JSON"), ('{"processed": 1}', wrong), ("[]", wrong)]:
        (tmp_path / "state.json").write_text(text)
        with pytest.raises(InputError, match=message):
            storage.read_json_record(uri, "watermark", "processed", list)
    (tmp_path / "state.json").write_text('{"processed": ["a"]}')
    assert storage.read_json_record(uri, "watermark", "processed", list) == {"processed": ["a"]}


def test_write_parameters_writes_one_file_per_value(tmp_path):
    storage.write_parameters(tmp_path / "r", {"model": "s3://b/m", "count": "2"})
    assert sorted(os.listdir(tmp_path / "r")) == ["count", "model"]
    assert (tmp_path / "r" / "model").read_text() == "s3://b/m"


def test_manifest_records_inputs_config_and_times(tmp_path, monkeypatch):
    monkeypatch.setenv("FMOPS_GIT_COMMIT", "abc123")
    (tmp_path / "data.jsonl").write_text("{}\n")
    inputs = manifest.describe_inputs({"data": [str(tmp_path / "data.jsonl")], "model": "tiny", "none": ""})
    assert inputs["data"] == [
        {"uri": str(tmp_path / "data.jsonl"), "sha256": storage.sha256(str(tmp_path / "data.jsonl"))}
    ]
    assert inputs["model"] == {"uri": "tiny", "sha256": None} and inputs["none"] is None
    out = str(tmp_path / "out")
    assert manifest.write_metrics(out, {"loss": 1.0}, str(tmp_path / "results")) == f"{out}/metrics.json"
    assert json.loads((tmp_path / "results" / "metrics.json").read_text()) == {"loss": 1.0}
    manifest.write(out, stage="t", inputs=inputs, config={"steps": 1}, metrics={"loss": 1.0}, started_at="then")
    written = manifest.read(out)
    assert (written["stage"], written["git_commit"], written["config"], written["started_at"]) == (
        "t",
        "abc123",
        {"steps": 1},
        "then",
    )
    assert datetime.fromisoformat(written["finished_at"]).tzinfo is not None
    assert written["package_version"] == fmops.__version__


def test_manifest_names_the_cpu_kernels_torch_ran_with(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    manifest.write(str(tmp_path), stage="t", inputs={}, config={}, metrics={}, started_at="then")
    assert manifest.read(str(tmp_path))["torch"] == {"version": torch.__version__, "cpu_capability": "AVX2"}
    monkeypatch.delitem(sys.modules, "torch")
    manifest.write(str(tmp_path), stage="t", inputs={}, config={}, metrics={}, started_at="then")
    assert manifest.read(str(tmp_path))["torch"] is None


def test_require_complete_model(tmp_path):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    (tmp_path / "hf" / "model.safetensors").write_bytes(b"")
    assert manifest.require_complete_model(str(tmp_path / "hf")) == str(tmp_path / "hf")
    assert manifest.require_complete_model("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "metrics.json").write_text("{}")
    with pytest.raises(InputError, match="incomplete fmops output"):
        manifest.require_complete_model(str(tmp_path / "half"))
    with pytest.raises(InputError, match="model path does not exist"):
        manifest.require_complete_model(str(tmp_path / "missing"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="model path is a file"):
        manifest.require_complete_model(str(tmp_path / "file"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a model directory"):
        manifest.require_complete_model(str(tmp_path / "empty"))
